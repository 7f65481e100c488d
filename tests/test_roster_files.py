"""The roster's spreadsheet and calendar read back as what was put in."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO

import icalendar
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.services.rosters.files import (
    XLSX_MIME,
    SheetLabels,
    VisitRow,
    roster_workbook,
    sheet_title,
    visits_ics,
)
from bot.services.vn_calendar import VN_TZ

LABELS = SheetLabels(
    title="Lịch dự sinh hoạt chi bộ quý I/2027 — Tổ công tác số 1",
    number="STT",
    branch="Chi bộ",
    weekday="Thứ",
    date="Ngày",
    time="Giờ",
    place="Địa điểm",
    visitor="Người dự",
)


def visit(
    visit_id: int,
    start: datetime,
    *,
    branch: str = "TTH",
    branch_name: str = "Chi bộ Thôn Thượng Hội",
    visitor: str = "Nguyễn Thị Hằng",
    place: str = "Nhà văn hoá thôn",
    agenda: str = "",
) -> VisitRow:
    return VisitRow(
        visit_id=visit_id,
        branch_code=branch,
        branch_name=branch_name,
        start=start,
        place=place,
        visitor_code=f"V{visit_id}",
        visitor_name=visitor,
        agenda=agenda,
    )


ROWS = (
    # Sun 10/01/2027 19:30 local, given in UTC: must come out as local time.
    visit(3, datetime(2027, 1, 10, 12, 30, tzinfo=UTC), branch="B2", branch_name="Chi bộ Đông"),
    # Thu 07/01/2027 19:30, two branches at the same hour: ordered by branch code.
    visit(2, datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ), branch="B9", visitor="Trần Văn Đức"),
    visit(1, datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ), branch="B1", branch_name="Chi bộ Tây"),
    # Mon 11/01/2027 08:00.
    visit(4, datetime(2027, 1, 11, 8, 0, tzinfo=VN_TZ), branch="B3", place="Hội trường xã"),
)


def sheet(data: bytes) -> Worksheet:
    ws = load_workbook(BytesIO(data)).active
    assert isinstance(ws, Worksheet)
    return ws


def data_rows(ws: Worksheet) -> list[tuple[object, ...]]:
    return [tuple(r) for r in ws.iter_rows(min_row=3, values_only=True)]


def calendar_events(
    rows: Sequence[VisitRow],
    *,
    duration: timedelta = timedelta(hours=2),
    uid_domain: str = "chibo-bot",
) -> list[icalendar.cal.Component]:
    data = visits_ics(
        rows,
        calendar_name="Tổ công tác số 1",
        summary=summary,
        duration=duration,
        uid_domain=uid_domain,
    )
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def summary(row: VisitRow) -> str:
    return f"Dự sinh hoạt — {row.branch_name}"


# Spreadsheet --------------------------------------------------------------------------------


def test_workbook_rows_are_sorted_by_start_then_branch_in_local_time() -> None:
    ws = sheet(roster_workbook(LABELS, ROWS))
    assert data_rows(ws) == [
        (
            1,
            "Chi bộ Tây",
            "Thứ Năm",
            datetime(2027, 1, 7),
            time(19, 30),
            "Nhà văn hoá thôn",
            "Nguyễn Thị Hằng",
        ),
        (
            2,
            "Chi bộ Thôn Thượng Hội",
            "Thứ Năm",
            datetime(2027, 1, 7),
            time(19, 30),
            "Nhà văn hoá thôn",
            "Trần Văn Đức",
        ),
        (
            3,
            "Chi bộ Đông",
            "Chủ Nhật",
            datetime(2027, 1, 10),
            time(19, 30),
            "Nhà văn hoá thôn",
            "Nguyễn Thị Hằng",
        ),
        (
            4,
            "Chi bộ Thôn Thượng Hội",
            "Thứ Hai",
            datetime(2027, 1, 11),
            time(8, 0),
            "Hội trường xã",
            "Nguyễn Thị Hằng",
        ),
    ]


def test_workbook_title_is_merged_and_bold_above_a_bold_header() -> None:
    ws = sheet(roster_workbook(LABELS, ROWS))
    assert ws["A1"].value == LABELS.title
    assert ws["A1"].font.bold
    assert [str(m) for m in ws.merged_cells.ranges] == ["A1:G1"]
    header = [c.value for c in ws[2]]
    assert header == ["STT", "Chi bộ", "Thứ", "Ngày", "Giờ", "Địa điểm", "Người dự"]
    assert all(c.font.bold for c in ws[2])


def test_workbook_header_is_frozen() -> None:
    assert sheet(roster_workbook(LABELS, ROWS)).freeze_panes == "A3"


def test_workbook_dates_and_times_are_real_cells() -> None:
    ws = sheet(roster_workbook(LABELS, ROWS))
    for day, hour in ws.iter_rows(min_row=3, min_col=4, max_col=5):
        assert day.is_date and isinstance(day.value, datetime)
        assert day.number_format == "DD/MM/YYYY"
        assert hour.is_date and isinstance(hour.value, time)
        assert hour.number_format == "HH:MM"
    assert isinstance(ws["A3"].value, int)


def test_workbook_every_column_has_a_width_that_fits() -> None:
    ws = sheet(roster_workbook(LABELS, ROWS))
    for letter in "ABCDEFG":
        dim = ws.column_dimensions[letter]
        assert dim.customWidth
        assert 6 <= dim.width <= 60
    assert ws.column_dimensions["B"].width >= len("Chi bộ Thôn Thượng Hội")
    assert ws.column_dimensions["D"].width >= len("10/01/2027")


def test_workbook_width_is_bounded_for_a_very_long_text() -> None:
    rows = [visit(1, datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ), place="Hội trường " * 20)]
    ws = sheet(roster_workbook(LABELS, rows))
    assert ws.column_dimensions["F"].width == 60
    assert ws["F3"].value == "Hội trường " * 20


def test_workbook_weekdays_in_english() -> None:
    ws = sheet(roster_workbook(LABELS, ROWS, locale="en"))
    assert [r[2] for r in data_rows(ws)] == ["Thursday", "Thursday", "Sunday", "Monday"]


def test_workbook_formula_like_texts_stay_text() -> None:
    names = ["=1+1", "@SUM(A1)", '=HYPERLINK("http://x.example","bấm")', "+84 912", "-x"]
    start = datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ)
    rows = [visit(i, start, branch=f"B{i}", visitor=n) for i, n in enumerate(names)]
    data = roster_workbook(LABELS, rows, locale="en")
    ws = sheet(data)
    cells = [row[0] for row in ws.iter_rows(min_row=3, min_col=7, max_col=7)]
    assert [c.value for c in cells] == names
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(BytesIO(data)) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()


def test_workbook_drops_control_characters_instead_of_failing() -> None:
    rows = [visit(1, datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ), visitor="Hằng\x00\x07")]
    assert sheet(roster_workbook(LABELS, rows))["G3"].value == "Hằng"


def test_workbook_without_visits_has_title_and_header() -> None:
    ws = sheet(roster_workbook(LABELS, []))
    assert ws["A1"].value == LABELS.title
    assert ws["A2"].value == "STT"
    assert data_rows(ws) == []


def test_sheet_title_is_sanitised() -> None:
    labels = SheetLabels(**{**LABELS.__dict__, "sheet": "Quý I/2027: [Tổ 1] *?\\ rất dài dài dài"})
    ws = sheet(roster_workbook(labels, ROWS))
    assert ws.title == "Quý I-2027- -Tổ 1- --- rất dài"
    assert len(ws.title) <= 31


def test_sheet_title_falls_back_when_nothing_is_left() -> None:
    assert sheet_title("''") == "Lich"
    assert sheet_title("History") == "Lich"
    assert sheet_title("'Lịch'") == "Lịch"


def test_xlsx_mime() -> None:
    assert XLSX_MIME == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Calendar -----------------------------------------------------------------------------------


def test_ics_has_one_event_per_visit_with_stable_uids() -> None:
    first = [str(e["UID"]) for e in calendar_events(ROWS)]
    again = [str(e["UID"]) for e in calendar_events(list(reversed(ROWS)))]
    assert sorted(first) == [f"visit-{i}@chibo-bot" for i in (1, 2, 3, 4)]
    assert first == again
    assert [str(e["UID"]) for e in calendar_events(ROWS[:1], uid_domain="x.vn")] == ["visit-3@x.vn"]


def test_ics_times_are_local_with_tzid() -> None:
    by_uid = {str(e["UID"]): e for e in calendar_events(ROWS)}
    for row in ROWS:
        event = by_uid[f"visit-{row.visit_id}@chibo-bot"]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert str(start.tzinfo) == "Asia/Ho_Chi_Minh"
        assert start == row.start
        assert end - start == timedelta(hours=2)
        assert event["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    sunday = by_uid["visit-3@chibo-bot"].decoded("DTSTART")
    assert (sunday.date(), sunday.hour, sunday.minute) == (date(2027, 1, 10), 19, 30)


def test_ics_calendar_carries_name_and_vtimezone() -> None:
    data = visits_ics(ROWS, calendar_name="Tổ công tác số 1", summary=summary)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["X-WR-CALNAME"]) == "Tổ công tác số 1"
    assert str(cal["VERSION"]) == "2.0"
    assert cal["PRODID"]
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]


def test_ics_texts_come_from_the_row_and_the_callable() -> None:
    rows = [
        visit(1, datetime(2027, 1, 7, 19, 30, tzinfo=VN_TZ), agenda="Kiểm tra nghị quyết"),
        visit(2, datetime(2027, 1, 8, 19, 30, tzinfo=VN_TZ), place=""),
    ]
    with_agenda, bare = calendar_events(rows, duration=timedelta(minutes=90))
    assert str(with_agenda["SUMMARY"]) == "Dự sinh hoạt — Chi bộ Thôn Thượng Hội"
    assert str(with_agenda["LOCATION"]) == "Nhà văn hoá thôn"
    assert str(with_agenda["DESCRIPTION"]) == "Kiểm tra nghị quyết"
    assert with_agenda.decoded("DTEND") - with_agenda.decoded("DTSTART") == timedelta(minutes=90)
    assert "LOCATION" not in bare and "DESCRIPTION" not in bare


def test_ics_reminds_a_day_before() -> None:
    for event in calendar_events(ROWS):
        (alarm,) = event.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert alarm.decoded("TRIGGER") == timedelta(days=-1)
        assert str(alarm["DESCRIPTION"]) == str(event["SUMMARY"])
    assert b"TRIGGER:-P1D" in visits_ics(ROWS, calendar_name="x", summary=summary)


def test_ics_dtstamp_is_the_visit_start_in_utc() -> None:
    event = calendar_events(ROWS[1:2])[0]
    assert event.decoded("DTSTAMP") == datetime(2027, 1, 7, 12, 30, tzinfo=UTC)


def test_ics_is_byte_identical_for_identical_input() -> None:
    one = visits_ics(ROWS, calendar_name="Tổ 1", summary=summary)
    two = visits_ics(list(ROWS), calendar_name="Tổ 1", summary=summary)
    assert one == two


def test_ics_without_visits_is_an_empty_calendar() -> None:
    cal = icalendar.Calendar.from_ical(visits_ics([], calendar_name="Tổ 1", summary=summary))
    assert cal.walk("VEVENT") == []
