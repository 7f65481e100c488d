"""The quarterly visiting roster as files people open outside the bot: a spreadsheet and an .ics.

The spreadsheet is what the district office prints and files, so dates and times are real
date/time cells (they sort and filter in Excel/LibreOffice) and every text stays the Vietnamese it
was typed in. Names and places are typed by members, so a text that a spreadsheet would take for a
formula ("=HYPERLINK(...)") is stored as a plain string with Excel's own quote prefix: it shows
exactly as typed, and editing the cell later does not turn it into a formula either.

The .ics follows `bot.services.meetings.ics`: local times with TZID=Asia/Ho_Chi_Minh and its
VTIMEZONE, so a phone in any zone shows the meeting's local hour. A visit's UID depends only on
its id, so importing a revised roster updates the entries instead of duplicating them, and the
output depends only on the input (DTSTAMP comes from the visit) so the same roster always gives
the same bytes.

Both take plain rows and caller-translated texts: no database, no catalogs here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from bot.services.sheets import (
    FIRST_DATA_ROW,
    HEADER_ROW,
    XLSX_MIME,
    clean_text,
    finish,
    put_text,
    set_width,
    text_width,
    to_bytes,
)
from bot.services.vn_calendar import VN_TZ, to_local, weekday_name

__all__ = ["XLSX_MIME", "SheetLabels", "VisitRow", "roster_workbook", "sheet_title", "visits_ics"]

PRODID = "-//chibo-bot//rosters//VI"

DATE_FORMAT = "DD/MM/YYYY"
TIME_FORMAT = "HH:MM"
# Widths of cells whose displayed text is not their Python value's str().
_DATE_WIDTH, _TIME_WIDTH = len("31/12/2027"), len("19:30")
# Excel refuses these in a sheet name; a leading or trailing apostrophe is refused too.
_SHEET_INVALID = re.compile(r"[\[\]:*?/\\]")
SHEET_TITLE_MAX = 31
_SHEET_FALLBACK = "Lich"
_RESERVED_SHEET = "history"  # Excel keeps "History" for itself


@dataclass(frozen=True)
class VisitRow:
    visit_id: int
    branch_code: str
    branch_name: str
    start: datetime  # timezone-aware
    place: str
    visitor_code: str
    visitor_name: str
    agenda: str = ""


@dataclass(frozen=True)
class SheetLabels:
    """Translated texts, given by the caller from its catalogs."""

    title: str  # e.g. "Lịch dự sinh hoạt chi bộ quý I/2027 — Tổ công tác số 1"
    number: str  # "STT"
    branch: str  # "Chi bộ"
    weekday: str  # "Thứ"
    date: str  # "Ngày"
    time: str  # "Giờ"
    place: str  # "Địa điểm"
    visitor: str  # "Người dự"
    sheet: str = "Lich"  # worksheet title; sanitised, so any text is safe


def _ordered(rows: Sequence[VisitRow]) -> list[VisitRow]:
    return sorted(rows, key=lambda r: (r.start, r.branch_code))


# Spreadsheet --------------------------------------------------------------------------------


def sheet_title(text: str) -> str:
    """A worksheet name Excel accepts: openpyxl raises on []:*?/\\ and Excel refuses over 31
    characters, a leading/trailing apostrophe or "History"; the label comes from a catalog and a
    quarter name like "I/2027" must not make the export fail."""
    cleaned = _SHEET_INVALID.sub("-", ILLEGAL_CHARACTERS_RE.sub("", text))
    cleaned = cleaned.strip().strip("'").strip()[:SHEET_TITLE_MAX].strip().strip("'")
    if not cleaned or cleaned.lower() == _RESERVED_SHEET:
        return _SHEET_FALLBACK
    return cleaned


def roster_workbook(
    labels: SheetLabels,
    rows: Sequence[VisitRow],
    *,
    locale: str = "vi",
    tz: ZoneInfo = VN_TZ,
) -> bytes:
    """The roster as an .xlsx: a title row, a frozen header row, one row per visit by time."""
    headers = [
        labels.number,
        labels.branch,
        labels.weekday,
        labels.date,
        labels.time,
        labels.place,
        labels.visitor,
    ]
    ncols = len(headers)
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = sheet_title(labels.sheet)

    widths = [text_width(clean_text(h)) for h in headers]
    bold = Font(bold=True)
    for col, header in enumerate(headers, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col)
        put_text(cell, clean_text(header))
        cell.font = bold
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    for index, row in enumerate(_ordered(rows), start=1):
        local = to_local(row.start, tz)
        r = FIRST_DATA_ROW + index - 1
        ws.cell(row=r, column=1, value=index)
        texts = {
            2: clean_text(row.branch_name),
            3: weekday_name(local.date(), locale),
            6: clean_text(row.place),
            7: clean_text(row.visitor_name),
        }
        for col, text in texts.items():
            put_text(ws.cell(row=r, column=col), text)
            widths[col - 1] = max(widths[col - 1], text_width(text))
        day = ws.cell(row=r, column=4, value=local.date())
        day.number_format = DATE_FORMAT
        hour = ws.cell(row=r, column=5, value=local.time().replace(second=0, microsecond=0))
        hour.number_format = TIME_FORMAT
        widths[0] = max(widths[0], len(str(index)))
    widths[3] = max(widths[3], _DATE_WIDTH)
    widths[4] = max(widths[4], _TIME_WIDTH)

    for col, width in enumerate(widths, start=1):
        # +2: the cell's padding, so the longest text is not clipped at its edge.
        set_width(ws, col, width)
    # Texts longer than the widest column wrap instead of being cut off on print.
    for cells in ws.iter_rows(min_row=FIRST_DATA_ROW, min_col=2, max_col=ncols):
        for cell in cells:
            cell.alignment = Alignment(vertical="top", wrap_text=True)

    finish(ws, labels.title, ncols, len(rows), freeze=f"A{FIRST_DATA_ROW}")
    return to_bytes(wb)


# Calendar -----------------------------------------------------------------------------------


def visits_ics(
    rows: Sequence[VisitRow],
    *,
    calendar_name: str,
    summary: Callable[[VisitRow], str],
    duration: timedelta = timedelta(hours=2),
    tz: ZoneInfo = VN_TZ,
    uid_domain: str = "chibo-bot",
) -> bytes:
    """The visits as an iCalendar file, one event per visit with a reminder the day before."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", calendar_name)
    cal.add("x-wr-timezone", str(tz))
    first: date | None = None
    last: date | None = None
    for row in _ordered(rows):
        start = to_local(row.start, tz)
        end = start + duration
        title = summary(row)
        event = icalendar.Event()
        event.add("uid", f"visit-{row.visit_id}@{uid_domain}")
        # DTSTAMP is required and must be UTC; the visit's own start keeps the file a pure
        # function of the roster (a render time would change every download).
        event.add("dtstamp", row.start.astimezone(UTC))
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", title)
        if row.place:
            event.add("location", row.place)
        if row.agenda:
            event.add("description", row.agenda)
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title)  # DISPLAY alarms must carry one (RFC 5545 3.6.6)
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
        cal.add_component(event)
        first = start.date() if first is None else min(first, start.date())
        last = end.date() if last is None else max(last, end.date())
    if first is not None and last is not None:
        # The VTIMEZONE covers the years of the visits: derived from the rows, not from today,
        # so the output stays deterministic.
        for component in _vtimezones(str(tz), first.year, last.year):
            cal.add_component(component)
    ical: bytes = cal.to_ical()
    return ical


@functools.lru_cache(maxsize=16)
def _vtimezones(tz_name: str, first_year: int, last_year: int) -> tuple[icalendar.Timezone, ...]:
    """The VTIMEZONE for a zone and years, built once: icalendar derives it from the zone's
    transitions, ~27 ms each time, which a publication paid once per visitor."""
    probe = icalendar.Calendar()
    event = icalendar.Event()
    event.add("dtstart", datetime(first_year, 6, 1, tzinfo=ZoneInfo(tz_name)))
    probe.add_component(event)
    probe.add_missing_timezones(
        first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31)
    )
    return tuple(c for c in probe.subcomponents if isinstance(c, icalendar.Timezone))
