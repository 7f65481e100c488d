"""Looking back: the recent broadcasts with their figures, one broadcast's table by unit and
the chats that have not acknowledged, and the same as an .xlsx.

Read-only (a view flagged READS can call it): figures read the outbox for recipients the
progress job has not mirrored yet. Who sees what: a district's committee admins every
broadcast of their district, a commune admin those of their commune, and everyone their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services.access.policy import Actor
from bot.services.broadcasts.common import DEFAULT_CONFIG, BroadcastError, load_managed
from bot.services.broadcasts.progress import Figures, failure_key, figures
from bot.services.rosters.files import sheet_title
from bot.services.sheets import XLSX_MIME, clean_text, put_text, set_width, to_bytes
from bot.services.vn_calendar import VN_TZ, to_local
from bot.services.vn_sort import vn_key
from storage.models import Broadcast
from storage.models.broadcasts import BroadcastStatus, RecipientState
from storage.repositories.broadcasts import BroadcastRepository

# A recipient of a scheduled broadcast before its time (shown as `bc.state.waiting`): queued,
# held until `send_at`. A display state: the stored one stays `pending`.
WAITING = "waiting"
__all__ = [
    "XLSX_MIME",
    "BroadcastDetail",
    "BroadcastSummary",
    "RecipientLine",
    "UnitLine",
    "WorkbookLabels",
    "detail",
    "detail_workbook",
    "recent",
    "workbook_labels",
]


@dataclass(frozen=True)
class BroadcastSummary:
    id: int
    status: str
    kind: str
    excerpt: str
    created_by: int
    queued_at: datetime | None
    send_at: datetime | None
    ack_required: bool
    ack_deadline: datetime | None
    total: int  # recipients named, unreachable ones included
    queued: int
    sent: int
    failed: int
    maybe_sent: int
    cancelled: int
    unreachable: int
    pending: int
    acknowledged: int
    created_at: datetime

    @property
    def moment(self) -> datetime:
        """When it goes (a scheduled one) or went (queued), else when it was written: how
        people tell broadcasts apart, with the excerpt (the id stays inside buttons)."""
        if self.status == BroadcastStatus.SCHEDULED and self.send_at is not None:
            return self.send_at
        return self.queued_at or self.created_at


@dataclass(frozen=True)
class UnitLine:
    unit_id: int | None
    name: str  # empty for recipients outside any unit (working groups): label it yourself
    total: int
    sent: int
    failed: int
    acknowledged: int
    not_yet: int  # delivered (or maybe delivered), not acknowledged


@dataclass(frozen=True)
class RecipientLine:
    name: str
    unit: str
    target_type: str
    state: str  # a RecipientState value, or WAITING
    reason_key: str | None  # catalog key: why it failed or could not be reached
    sent_at: datetime | None
    ack_at: datetime | None


@dataclass(frozen=True)
class BroadcastDetail:
    summary: BroadcastSummary
    units: list[UnitLine]
    not_acknowledged: list[RecipientLine]
    failures: list[tuple[str, int]]  # (catalog key of the reason, count)
    recipients: list[RecipientLine] = field(default_factory=list)  # everyone, for the file


def _summary(b: Broadcast, fig: Figures) -> BroadcastSummary:
    return BroadcastSummary(
        id=b.id,
        status=b.status,
        kind=b.kind,
        excerpt=b.excerpt,
        created_by=b.created_by,
        queued_at=b.queued_at,
        send_at=b.send_at,
        ack_required=b.ack_required,
        ack_deadline=b.ack_deadline,
        total=fig.total,
        queued=fig.queued,
        sent=fig.n(RecipientState.SENT),
        failed=fig.n(RecipientState.FAILED),
        maybe_sent=fig.n(RecipientState.MAYBE_SENT),
        cancelled=fig.n(RecipientState.CANCELLED),
        unreachable=fig.n(RecipientState.UNREACHABLE),
        pending=fig.remaining,
        acknowledged=fig.acked,
        created_at=b.created_at,
    )


async def recent(
    session: AsyncSession, actor: Actor, page: int, *, page_size: int = DEFAULT_CONFIG.page_size
) -> list[BroadcastSummary]:
    """Queued broadcasts the person may see, newest first, `page_size` per page (page 0 first)."""
    if not (actor.bootstrap_admin or actor.admin_districts or actor.admin_units):
        raise BroadcastError("bc.not_admin")
    districts = None if actor.bootstrap_admin else actor.admin_districts
    units = {u for _d, u in actor.admin_units}
    rows = await BroadcastRepository(session).visible(
        districts, units, actor.telegram_id, max(page, 0) * page_size, page_size
    )
    figs = await figures(session, [b.id for b in rows])
    return [_summary(b, figs[b.id]) for b in rows]


def waiting_for_its_time(broadcast: Broadcast, now: datetime | None) -> bool:
    """A scheduled broadcast before its `send_at`: its queued rows are held, not going out."""
    return broadcast.status == BroadcastStatus.SCHEDULED and (
        now is None or broadcast.send_at is None or now < broadcast.send_at
    )


async def detail(
    session: AsyncSession, actor: Actor, broadcast_id: int, *, now: datetime | None = None
) -> BroadcastDetail:
    """The per-unit table and who has not acknowledged (or not been reached). Before a
    scheduled broadcast's time its recipients read `WAITING`, never "sending"."""
    broadcast = await load_managed(session, actor, broadcast_id)
    held = waiting_for_its_time(broadcast, now)
    repo = BroadcastRepository(session)
    fig = (await figures(session, [broadcast.id]))[broadcast.id]
    names = await repo.unit_names(broadcast.district_id)  # the committee's own name too
    units = []
    for unit_id, u in fig.by_unit.items():
        units.append(
            UnitLine(
                unit_id,
                names.get(unit_id, "") if unit_id is not None else "",
                u.total,
                u.n(RecipientState.SENT),
                u.n(RecipientState.FAILED),
                u.acked,
                u.delivered - u.acked,
            )
        )
    units.sort(key=lambda u: (u.unit_id is None, vn_key(u.name)))
    everyone: list[RecipientLine] = []
    failures: dict[str, int] = {}
    for rec, state, error in await repo.effective(broadcast.id):
        reason = None
        if state == RecipientState.FAILED:
            reason = failure_key(error)
            failures[reason] = failures.get(reason, 0) + 1
        elif state == RecipientState.UNREACHABLE:
            reason = f"bc.reason.{rec.error or 'not_linked'}"
        unit = names.get(rec.unit_id, "") if rec.unit_id is not None else ""
        if held and state == RecipientState.PENDING:
            state = WAITING
        everyone.append(
            RecipientLine(rec.name, unit, rec.target_type, state, reason, rec.sent_at, rec.ack_at)
        )
    # By unit, then recipient, both in Vietnamese alphabetical order (the workbook and the list).
    everyone.sort(key=lambda line: (line.unit == "", vn_key(line.unit), vn_key(line.name)))
    silent = [
        line
        for line in everyone
        if line.ack_at is None and (broadcast.ack_required or line.state != RecipientState.SENT)
    ]
    return BroadcastDetail(
        _summary(broadcast, fig),
        units,
        silent,
        sorted(failures.items(), key=lambda kv: (-kv[1], kv[0])),
        everyone,
    )


@dataclass(frozen=True)
class WorkbookLabels:
    """Translated texts for the file, from the caller's catalogs (`workbook_labels`)."""

    title: str
    file_name: str
    units_sheet: str
    recipients_sheet: str
    unit: str
    total: str
    sent: str
    failed: str
    acknowledged: str
    not_yet: str
    recipient: str
    state: str
    reason: str
    sent_at: str
    ack_at: str
    no_unit: str
    states: dict[str, str]  # RecipientState value -> text
    reasons: dict[str, str]  # catalog key -> text


def workbook_labels(
    i18n: CatalogI18n, locale: str, d: BroadcastDetail, *, tz: tzinfo = VN_TZ
) -> WorkbookLabels:
    """The file's texts; the broadcast is named by its date and excerpt, never its id."""
    t = i18n.t
    keys = {line.reason_key for line in d.recipients if line.reason_key}
    local = to_local(d.summary.moment, tz)
    return WorkbookLabels(
        title=t("bc.sheet.title", locale, date=f"{local:%d/%m/%Y}", excerpt=d.summary.excerpt),
        file_name=t("bc.sheet.file", locale, date=f"{local:%Y-%m-%d-%H%M}"),
        units_sheet=t("bc.sheet.units", locale),
        recipients_sheet=t("bc.sheet.recipients", locale),
        unit=t("bc.sheet.unit", locale),
        total=t("bc.sheet.total", locale),
        sent=t("bc.sheet.sent", locale),
        failed=t("bc.sheet.failed", locale),
        acknowledged=t("bc.sheet.acked", locale),
        not_yet=t("bc.sheet.not_yet", locale),
        recipient=t("bc.sheet.recipient", locale),
        state=t("bc.sheet.state", locale),
        reason=t("bc.sheet.reason", locale),
        sent_at=t("bc.sheet.sent_at", locale),
        ack_at=t("bc.sheet.ack_at", locale),
        no_unit=t("bc.unit.none", locale),
        states={s: t(f"bc.state.{s}", locale) for s in [*RecipientState, WAITING]},
        reasons={k: t(k, locale) for k in keys},
    )


def _put(ws: Worksheet, row: int, values: Sequence[object]) -> None:
    # Names come from imports and chats: cleaned, and kept as text (see `bot.services.sheets`).
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=col)
        if isinstance(value, str):
            put_text(cell, clean_text(value))
        else:
            cell.value = value


def _sheet(
    ws: Worksheet, title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    ws.title = sheet_title(title)
    _put(ws, 1, headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in headers]
    for r, row in enumerate(rows, start=2):
        _put(ws, r, row)
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(str(v)) if v is not None else 0)
    for i, width in enumerate(widths, start=1):
        set_width(ws, i, width)
    ws.freeze_panes = "A2"


def detail_workbook(
    labels: WorkbookLabels, detail: BroadcastDetail, *, tz: object = VN_TZ
) -> bytes:
    """Two sheets: the table by unit, and every recipient with its delivery and
    acknowledgement (times in the bot's zone, as real date-time cells)."""
    wb = Workbook()
    units = wb.active
    assert units is not None
    unit_rows = [
        [u.name or labels.no_unit, u.total, u.sent, u.failed, u.acknowledged, u.not_yet]
        for u in detail.units
    ]
    _sheet(
        units,
        labels.units_sheet,
        [
            labels.unit,
            labels.total,
            labels.sent,
            labels.failed,
            labels.acknowledged,
            labels.not_yet,
        ],
        unit_rows,
    )
    units.insert_rows(1)
    put_text(units["A1"], clean_text(labels.title))
    units["A1"].font = Font(bold=True, size=13)
    units.freeze_panes = "A3"

    def local(moment: datetime | None) -> datetime | None:
        return to_local(moment, tz).replace(tzinfo=None) if moment else None  # type: ignore[arg-type]

    people = wb.create_sheet()
    _sheet(
        people,
        labels.recipients_sheet,
        [labels.unit, labels.recipient, labels.state, labels.reason, labels.sent_at, labels.ack_at],
        [
            [
                line.unit or labels.no_unit,
                line.name,
                labels.states.get(line.state, line.state),
                labels.reasons.get(line.reason_key, "") if line.reason_key else "",
                local(line.sent_at),
                local(line.ack_at),
            ]
            for line in detail.recipients
        ],
    )
    for col in ("E", "F"):
        for cell in people[col][1:]:
            cell.number_format = "DD/MM/YYYY HH:MM"
        people.column_dimensions[col].width = 18
    return to_bytes(wb)
