"""/meetings, /meeting ID and /ics: what is coming, what happened, and how regular branches are.

A person sees their own branch (upcoming meetings and the last three); committee admins see a
summary by branch for a month (regularity outcomes), paginated. In a linked group the chat's
own target is shown. Every id from callback data is re-checked by the view service.
"""

from __future__ import annotations

import enum

from aiogram import html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.inputs import try_int, typed_day_near
from bot.services import meeting_views as views
from bot.services import meetings as svc
from bot.services.access.policy import Actor
from bot.services.meetings import BranchMonth, MeetingStatus, Outcome, RsvpAnswer
from bot.services.meetings.report_text import clip, kind_label, report_text, stored_view
from bot.services.meetings.reports import ROW_ID_MAX
from bot.services.vn_calendar import add_months, format_datetime, to_local
from handlers.kit import (
    PRIVATE,
    READS,
    Chats,
    Id,
    Small,
    button_label,
    day_text,
    feature_router,
    locale,
    pager,
    show,
    t,
)

router = feature_router(__name__, Chats.ANY)

TEXT_LIMIT = 4096


class ScopeKind(enum.Enum):
    UNIT = "unit"
    COMMITTEE = "committee"


class IcsCb(CallbackData, prefix="mics"):
    branch_id: Id


class MeetingCb(CallbackData, prefix="mdet"):
    """A meeting under /meetings: its id stays in the button (people see its date)."""

    meeting_id: Id


class SummaryCb(CallbackData, prefix="msum"):
    kind: ScopeKind
    scope_id: Id
    year: Small
    month: Small
    page: Small


def _where(chat: Chat) -> views.Where:
    return views.Where(chat.id, chat.type == PRIVATE)


def _pressed_in(query: CallbackQuery) -> views.Where:
    # The router only takes presses on a message in a private chat or a group.
    assert query.message is not None
    return _where(query.message.chat)


# --- /meetings ---------------------------------------------------------------------------------


def _meeting_line(i18n: CatalogI18n, row: views.MeetingRow, tail: str) -> str:
    m = row.meeting
    place = f" — {html.quote(clip(m.place, 60))}" if m.place else ""
    return t(
        "mrep.list.line",
        kind=kind_label(i18n, locale(), m),
        when=format_datetime(m.starts_at, locale()),
        place=place,
        tail=tail,
    )


def _outcome(outcome: Outcome) -> str:
    return t(f"meetings.outcome.{outcome.value}")


def _reason(answer: views.Answer) -> str:
    """An absence's reason as given: the short list's, then what was typed ("" when none)."""
    parts = [t(f"meetings.reason.{answer.reason_code}")] if answer.reason_code else []
    if answer.reason_text:
        parts.append(html.quote(clip(answer.reason_text, 120)))
    return ": ".join(parts)


def answer_text(answer: views.Answer) -> str:
    """Có mặt, Vắng mặt, or Vắng mặt with the reason given."""
    if answer.answer is RsvpAnswer.YES:
        return t("mrep.answer.yes")
    reason = _reason(answer)
    return t("mrep.answer.no_because", reason=reason) if reason else t("mrep.answer.no")


def _mine_tail(data: views.BranchMeetings, meeting: svc.Meeting) -> str:
    """The person's own answer after an upcoming meeting they can answer (in private)."""
    if data.mine is None or meeting.status != MeetingStatus.SCHEDULED:
        return ""
    answer = data.mine.get(meeting.id)
    if answer is None:
        return t("mrep.list.mine_none")
    return t("mrep.list.mine", answer=answer_text(answer))


def branch_view(i18n: CatalogI18n, data: views.BranchMeetings) -> tuple[str, InlineKeyboardMarkup]:
    """Upcoming meetings (with the person's own answer, asked in private) and the last three
    with their outcomes, and the .ics button."""
    lines = [t("mrep.list.header", branch=html.quote(data.branch.name)), t("mrep.list.upcoming")]
    if not data.upcoming:
        lines.append(t("mrep.list.none"))
    for row in data.upcoming:
        tail = t(f"mrep.status.{row.meeting.status}") + _mine_tail(data, row.meeting)
        lines.append(_meeting_line(i18n, row, tail))
    lines.append(t("mrep.list.recent"))
    if not data.recent:
        lines.append(t("mrep.list.none"))
    for row in data.recent:
        lines.append(_meeting_line(i18n, row, _outcome(row.outcome)))
    lines.append(t("mrep.list.footer"))
    kb = InlineKeyboardBuilder()
    for row in [*data.upcoming, *data.recent]:
        m = row.meeting
        day = f"{to_local(m.starts_at):%d/%m}"
        label = button_label(day, kind_label(i18n, locale(), m))
        kb.row(InlineKeyboardButton(text=label, callback_data=MeetingCb(meeting_id=m.id).pack()))
    kb.row(
        InlineKeyboardButton(
            text=t("mrep.ics.button"), callback_data=IcsCb(branch_id=data.branch.id).pack()
        )
    )
    return "\n".join(lines), kb.as_markup()


def _summary_line(n: int, name: str, fig: BranchMonth) -> str:
    extra = ""
    if fig.thematic_held:
        extra += t("mrep.sum.thematic", n=fig.thematic_held)
    if fig.extraordinary_held:
        extra += t("mrep.sum.extraordinary", n=fig.extraordinary_held)
    return t(
        "mrep.sum.line",
        n=n,
        branch=html.quote(clip(name, 80)),
        outcome=_outcome(fig.regular),
        extra=extra,
    )


def summary_view(s: views.Summary) -> tuple[str, InlineKeyboardMarkup]:
    """One page of a month's regularity by branch; ◀/▶ pages, then the months around it."""
    count = s.totals.get
    lines = [
        t("mrep.sum.header", scope=html.quote(s.scope_name), month=f"{s.month:02d}", year=s.year),
        t(
            "mrep.sum.totals",
            on_time=count(Outcome.ON_TIME, 0),
            late=count(Outcome.LATE, 0),
            not_held=count(Outcome.NOT_HELD, 0),
            not_reported=count(Outcome.NOT_REPORTED, 0),
            pending=count(Outcome.UPCOMING, 0) + count(Outcome.AWAITING_REPORT, 0),
        ),
        t("mrep.sum.page", page=s.page + 1, pages=s.pages),
    ]
    for outcome, key in (
        (Outcome.NOT_JOINED, "mrep.sum.not_joined"),
        (Outcome.NOT_SCHEDULED, "mrep.sum.not_scheduled"),
    ):
        if count(outcome, 0):
            lines.insert(-1, t(key, n=count(outcome, 0)))
    first = s.page * views.SUMMARY_PAGE
    for n, (branch, fig) in enumerate(s.rows, start=first + 1):
        lines.append(_summary_line(n, branch.name, fig))
    if not s.rows:
        lines.append(t("mrep.list.none"))
    kind = ScopeKind(s.scope_type)

    def cb(year: int, month: int, page: int) -> SummaryCb:
        return SummaryCb(kind=kind, scope_id=s.scope_id, year=year, month=month, page=page)

    markup = pager(InlineKeyboardBuilder(), s.page, s.pages, lambda p: cb(s.year, s.month, p))
    py, pm = add_months(s.year, s.month, -1)
    ny, nm = add_months(s.year, s.month, 1)
    markup.inline_keyboard.append(
        [
            InlineKeyboardButton(
                text=t("mrep.sum.month_button", month=f"« {pm:02d}/{py}"),
                callback_data=cb(py, pm, 0).pack(),
            ),
            InlineKeyboardButton(
                text=t("mrep.sum.month_button", month=f"{nm:02d}/{ny} »"),
                callback_data=cb(ny, nm, 0).pack(),
            ),
        ]
    )
    return "\n".join(lines), markup


def _overview(
    i18n: CatalogI18n, data: views.BranchMeetings | views.Summary
) -> tuple[str, InlineKeyboardMarkup]:
    if isinstance(data, views.Summary):
        return summary_view(data)
    return branch_view(i18n, data)


@router.message(Command("meetings"), flags=READS)
async def cmd_meetings(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """My branch's meetings; a summary by branch for admins and unit/committee groups.

    Arguments: a branch/unit/district code and/or a month `MM/YYYY`, in any order.
    """
    data = await views.overview(session, actor, clock, _where(message.chat), command.args or "")
    text, markup = _overview(i18n, data)
    await message.answer(text, reply_markup=markup)


@router.callback_query(SummaryCb.filter(), flags=READS)
async def on_summary_page(
    query: CallbackQuery,
    callback_data: SummaryCb,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
) -> None:
    """Another page or month of a summary; the scope is re-checked (data can be forged)."""
    cb = callback_data
    scope = views.Scope(cb.kind.value, cb.scope_id)
    s = await views.summary_page(
        session, actor, clock, _pressed_in(query), scope, cb.year, cb.month, cb.page
    )
    text, markup = summary_view(s)
    await show(query, text, markup)


# --- /meeting ID -------------------------------------------------------------------------------


def detail_text(i18n: CatalogI18n, d: views.MeetingDetail) -> str:
    """A meeting, its answers and (when there is one) its current report."""
    m = d.meeting
    lines = [
        t(
            "mrep.detail.header",
            kind=kind_label(i18n, locale(), m),
            branch=html.quote(d.branch.name),
        ),
        t("mrep.detail.when", when=format_datetime(m.starts_at, locale())),
        t("mrep.detail.place", place=html.quote(m.place or "—")),
        t(
            "mrep.detail.status",
            # A reported meeting reads as reported, whatever its schedule status was.
            status=t("mrep.status.reported" if d.report else f"mrep.status.{m.status}"),
            outcome=_outcome(d.outcome),
        ),
    ]
    if m.shifted_from is not None and m.rule_date is not None:
        lines.append(
            t(
                "meetings.holiday_shift",
                rule_date=day_text(m.shifted_from),
                holiday=html.quote(m.shift_reason or ""),
                date=day_text(m.rule_date),
            )
        )
    if m.agenda:
        lines.append(t("mrep.detail.agenda", agenda=html.quote(clip(m.agenda, 1200))))
    if d.cancelled:
        lines.append(
            t("mrep.detail.cancelled", reason=html.quote(clip(m.cancel_reason or "", 300)))
        )
    else:
        yes, no, members = d.counts
        unanswered = max(members - yes - no, 0)
        lines.append(t("mrep.detail.rsvp", yes=yes, no=no, unanswered=unanswered, members=members))
        lines.extend(_mine_lines(d))
        lines.extend(_absence_lines(d))
    head = "\n".join(lines)
    if d.report is None:
        return head
    view = stored_view(
        i18n,
        locale(),
        d.report,
        branch_name=d.branch.name,
        meeting=m,
        members=d.counts[2],
        names=d.absent_names,
        version=d.versions,
    )
    # The header already names the meeting: keep the report's lines after its own header.
    body_lines = report_text(i18n, locale(), view).split("\n")[2:]
    text = "\n".join([head, t("mrep.detail.report", version=d.versions), *body_lines])
    return clip(text, TEXT_LIMIT - 10)


def _mine_lines(d: views.MeetingDetail) -> list[str]:
    """The person's own answer (asked in private by a member of the branch)."""
    if d.mine is not None:
        return [t("mrep.detail.mine", answer=answer_text(d.mine))]
    if d.answered is False and d.meeting.status == MeetingStatus.SCHEDULED:
        return [t("mrep.detail.mine_none")]
    return []


def _absence_lines(d: views.MeetingDetail) -> list[str]:
    """Who said they will be absent and why (the branch's leaders, before the report)."""
    if d.absences is None:
        return []
    if not d.absences:
        return [t("mrep.detail.absences_none")]
    lines = [t("mrep.detail.absences", n=len(d.absences))]
    for name, answer in d.absences:
        reason = _reason(answer) or t("mrep.detail.no_reason")
        lines.append(t("mrep.detail.absence", name=html.quote(clip(name, 80)), reason=reason))
    return lines


@router.message(Command("meeting"), flags=READS)
async def cmd_meeting(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """One meeting in detail, for those who may view its branch: `/meeting 05/01` (a day; the
    meetings are named by date), or without a day the branch's list to tap one. A number
    typed by an old habit is still read as the meeting's id, but never shown."""
    where = _where(message.chat)
    args = (command.args or "").strip()
    if not args:
        data = await views.overview(session, actor, clock, where, "")
        if isinstance(data, views.BranchMeetings):
            text, markup = branch_view(i18n, data)
            await message.answer(text, reply_markup=markup)
        else:
            await message.answer(t("mrep.detail.usage"))
        return
    day = typed_day_near(args, to_local(clock.now()).date())
    if day is not None:
        meetings = await views.meetings_on(session, actor, clock, where, day)
        for m in meetings:
            await message.answer(
                detail_text(i18n, await views.detail(session, actor, clock, where, m.id))
            )
        return
    meeting_id = try_int(args.lstrip("#"), lo=1, hi=ROW_ID_MAX)
    if meeting_id is None:
        await message.answer(t("mrep.detail.usage"))
        return
    detail = await views.detail(session, actor, clock, where, meeting_id)
    await message.answer(detail_text(i18n, detail))


@router.callback_query(MeetingCb.filter(), flags=READS)
async def on_meeting(
    query: CallbackQuery,
    callback_data: MeetingCb,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """A meeting tapped under /meetings: its detail below the list (re-checked: data can be
    forged)."""
    where = _pressed_in(query)
    detail = await views.detail(session, actor, clock, where, callback_data.meeting_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(detail_text(i18n, detail))


# --- .ics ----------------------------------------------------------------------------------------


async def _send_ics(message: Message, ics: views.IcsFile) -> None:
    document = BufferedInputFile(ics.data, filename=ics.filename)
    await message.answer_document(document, caption=t("mrep.ics.caption"))


@router.message(Command("ics"), flags=READS)
async def cmd_ics(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """A calendar file of the branch's meetings that phones import."""
    code = (command.args or "").strip()
    where = _where(message.chat)
    ics = await views.ics_file(session, actor, clock, i18n, locale(), where, code=code)
    await _send_ics(message, ics)


@router.callback_query(IcsCb.filter(), flags=READS)
async def on_ics(
    query: CallbackQuery,
    callback_data: IcsCb,
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    i18n: CatalogI18n,
) -> None:
    """The .ics button under /meetings; the branch is re-checked (data can be forged)."""
    where = _pressed_in(query)
    branch_id = callback_data.branch_id
    ics = await views.ics_file(session, actor, clock, i18n, locale(), where, branch_id=branch_id)
    await query.answer()
    if isinstance(query.message, Message):
        await _send_ics(query.message, ics)
