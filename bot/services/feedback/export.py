"""The items of a period as a spreadsheet the district office files and filters.

Built like the roster's (`bot.services.rosters.files`): times are real date/time cells in the
local zone (they sort and filter), the header row is frozen and filterable, columns are as wide
as their texts (within bounds) and long texts wrap. Item texts, answers and reasons are typed by
members, so a text a spreadsheet would read as a formula ("=HYPERLINK(...)") is stored as a plain
string with Excel's own quote prefix, and control characters openpyxl refuses are dropped.

`items_workbook` takes plain rows and caller-translated labels (no database, no catalogs);
`export_rows` reads the rows, `export_for` checks who asks first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.common import item_number
from bot.services.feedback.inbox import category_label
from bot.services.feedback.stats import Period, require_admin_of
from bot.services.rosters.files import sheet_title
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
from bot.services.vn_calendar import VN_TZ, to_local
from storage.models import Unit
from storage.models.feedback import FeedbackStatus, LevelType, OptionKind, RaisedAs
from storage.repositories.feedback_read import FeedbackReadRepository

__all__ = ["COLUMNS", "WORDS", "XLSX_MIME", "ExportLabels", "ItemRow", "items_workbook"]

# Column ids, in sheet order; `ExportLabels.headers` names each.
COLUMNS = (
    "number",
    "created",
    "branch",
    "unit",
    "category",
    "raised_as",
    "text",
    "status",
    "level",
    "deadline",
    "answered",
    "on_time",
    "answer",
    "reopened",
    "closed",
    "close_reason",
)
# The stored values the sheet shows in words (`ExportLabels.words` keys).
WORDS: tuple[str, ...] = (
    *(f"status.{s.value}" for s in FeedbackStatus),
    *(f"raised.{r.value}" for r in RaisedAs),
    *(f"level.{v.value}" for v in LevelType),
    "yes",
    "no",
)
_WIDE = frozenset({"text", "answer", "close_reason"})
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
_DATETIME_WIDTH = len("31/12/2026 19:30")


@dataclass(frozen=True)
class ItemRow:
    item_id: int
    number: str  # KN-2026-0042
    created_at: datetime  # aware
    branch: str
    unit: str  # the branch's unit
    category: str  # the code
    category_name: str  # as the reader reads it
    raised_as: str  # a RaisedAs value
    text: str
    status: str  # a FeedbackStatus value
    level_type: str
    level_name: str  # the branch, unit, district or department holding it now
    deadline: datetime
    first_answer_at: datetime | None
    on_time: bool | None
    answer: str
    reopened: int
    closed_at: datetime | None
    close_reason: str


@dataclass(frozen=True)
class ExportLabels:
    """Translated texts, given by the caller from its catalogs."""

    title: str
    headers: Mapping[str, str]  # column id -> header
    # "status.<value>", "raised.<value>", "level.<value>", "yes", "no" -> the word shown;
    # a missing one shows the stored value.
    words: Mapping[str, str]
    sheet: str = "Kien nghi"


def _width(text: str) -> int:
    return max((text_width(line) for line in text.split("\n")), default=0)


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    # Excel has no time zones: the local wall time is what people read and sort by.
    return None if moment is None else to_local(moment, tz).replace(tzinfo=None, microsecond=0)


def _values(row: ItemRow, labels: ExportLabels, tz: ZoneInfo) -> dict[str, object]:
    def word(key: str, fallback: str) -> str:
        return labels.words.get(key, fallback)

    on_time = "" if row.on_time is None else word("yes" if row.on_time else "no", "")
    # A committee's own name says its level in the organisation's words ("Đảng ủy phường An
    # Phú Đông"); a generic word before it would only repeat or contradict it.
    if row.level_type in (LevelType.UNIT, LevelType.DISTRICT) and row.level_name:
        level = row.level_name
    else:
        level = f"{word(f'level.{row.level_type}', row.level_type)}: {row.level_name}"
    return {
        "number": row.number,
        "created": _local(row.created_at, tz),
        "branch": row.branch,
        "unit": row.unit,
        "category": row.category_name,
        "raised_as": word(f"raised.{row.raised_as}", row.raised_as),
        "text": row.text,
        "status": word(f"status.{row.status}", row.status),
        "level": level,
        "deadline": _local(row.deadline, tz),
        "answered": _local(row.first_answer_at, tz),
        "on_time": on_time,
        "answer": row.answer,
        "reopened": row.reopened,
        "closed": _local(row.closed_at, tz),
        "close_reason": row.close_reason,
    }


def items_workbook(labels: ExportLabels, rows: Sequence[ItemRow], *, tz: ZoneInfo = VN_TZ) -> bytes:
    """The items as an .xlsx: a title row, a frozen header row, one row per item in order."""
    ncols = len(COLUMNS)
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = sheet_title(labels.sheet)

    widths = []
    bold = Font(bold=True)
    for col, column in enumerate(COLUMNS, start=1):
        header = clean_text(labels.headers.get(column, column))
        cell = ws.cell(row=HEADER_ROW, column=col)
        put_text(cell, header)
        cell.font = bold
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        widths.append(_width(header))

    for r, row in enumerate(rows, start=FIRST_DATA_ROW):
        values = _values(row, labels, tz)
        for col, column in enumerate(COLUMNS, start=1):
            value = values[column]
            cell = ws.cell(row=r, column=col)
            if isinstance(value, str) and value:
                text = clean_text(value)
                put_text(cell, text)
                widths[col - 1] = max(widths[col - 1], _width(text))
            elif isinstance(value, datetime):
                cell.value = value
                cell.number_format = DATETIME_FORMAT
                widths[col - 1] = max(widths[col - 1], _DATETIME_WIDTH)
            elif isinstance(value, int):
                cell.value = value
                widths[col - 1] = max(widths[col - 1], len(str(value)))
            cell.alignment = Alignment(vertical="top", wrap_text=column in _WIDE)

    for col, width in enumerate(widths, start=1):
        # +2: the cell's padding, so the longest text is not clipped at its edge.
        set_width(ws, col, width)

    # The number column stays in view when scrolling right.
    finish(ws, labels.title, ncols, len(rows), freeze=f"B{FIRST_DATA_ROW}")
    return to_bytes(wb)


async def export_rows(
    session: AsyncSession, district_id: int, start: datetime, end: datetime, locale: str = "vi"
) -> list[ItemRow]:
    """The district's items raised in [start, end), oldest first, with their current level and
    first answer (`locale` names the default categories)."""
    repo = FeedbackReadRepository(session)
    found = await repo.period_items(district_id, start, end)
    options = await repo.options(OptionKind.CATEGORY, [district_id])
    names = {o.code: o.name for o in options}
    level_ids: dict[LevelType, set[int]] = {t: set() for t in LevelType}
    for item, _, _, _ in found:
        level_ids.setdefault(item.level_type, set()).add(item.level_id)
    branches = await repo.branches_by_id(level_ids[LevelType.BRANCH])
    units = await repo.units_by_id(level_ids[LevelType.UNIT] | level_ids[LevelType.DISTRICT])
    departments = await repo.options_by_id(level_ids[LevelType.DEPARTMENT])

    def level_name(level_type: str, level_id: int) -> str:
        if level_type == LevelType.BRANCH and level_id in branches:
            return branches[level_id].name
        if level_type == LevelType.DEPARTMENT and level_id in departments:
            return departments[level_id].name
        if level_id in units and level_type != LevelType.DEPARTMENT:
            return units[level_id].name
        return str(level_id)

    return [
        ItemRow(
            item_id=item.id,
            number=item_number(item.year, item.number),
            created_at=item.created_at,
            branch=branch.name,
            unit=unit.name,
            category=item.category,
            category_name=category_label(item.category, names, locale),
            raised_as=item.raised_as,
            text=item.text,
            status=item.status,
            level_type=item.level_type,
            level_name=level_name(item.level_type, item.level_id),
            deadline=item.deadline,
            first_answer_at=first,
            on_time=item.answered_on_time,
            answer=item.answer or "",
            reopened=item.reopened,
            closed_at=item.closed_at,
            close_reason=item.close_reason or "",
        )
        for item, branch, unit, first in found
    ]


def export_filename(district_code: str, period: Period) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in district_code)[:32]
    return f"kien-nghi-{safe}-{period}.xlsx"


async def export_for(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    district_id: int,
    period: Period,
    locale: str = "vi",
) -> tuple[Unit, list[ItemRow]]:
    """The rows of a district's period for one of its admins (else `fbr.not_allowed`)."""
    district = await require_admin_of(session, actor, district_id)
    start, end = period.bounds(ctx.tz)
    return district, await export_rows(session, district_id, start, end, locale)
