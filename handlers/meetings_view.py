"""/meetings, /meeting ID and /ics: what is coming, what happened, and how regular branches are.

A person sees their own branch (upcoming meetings and the last three); committee admins see a
summary by branch for a month (regularity outcomes), paginated. In a linked group the chat's
own target is shown. Every id from callback data is re-checked by the view service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from aiogram import Router, html
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
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meeting_views as views
from bot.services.meetings import Outcome, branch_ics
from bot.services.meetings.regularity import BranchMonth
from bot.services.policy import Actor, Refused, load_actor
from bot.services.vn_calendar import add_months, format_datetime
from bot.settings import Settings
from handlers.people import alert_text, refused_text
from storage.models import Branch, ChatBinding, Meeting, MeetingReport
from storage.models.meetings import MeetingStatus

router = Router(name=__name__)

TEXT_LIMIT = 4096
# Room kept under Telegram's limit for what is added after fitting (a footer line).
FIT_LIMIT = 3900
Tr = Callable[..., str]


class IcsCb(CallbackData, prefix="mics"):
    branch_id: int


class SummaryCb(CallbackData, prefix="msum"):
    kind: str
    scope_id: int
    year: int
    month: int
    page: int


# --- text helpers shared with the report wizard ------------------------------------------


def tr_current() -> Tr:
    """Catalog lookup in the current update's language."""

    def t(key: str, **params: Any) -> str:
        text = _(key)
        return text.format(**params) if params else text

    return t


def tr_for(i18n: CatalogI18n, locale: str) -> Tr:
    """Catalog lookup in a given language (messages to a group use the default language)."""

    def t(key: str, **params: Any) -> str:
        return i18n.t(key, locale, **params)

    return t


def current_locale() -> str:
    return I18n.get_current().current_locale


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking the cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def kind_label(t: Tr, meeting: Meeting) -> str:
    label = t(f"meetings.kind.{meeting.kind}")
    if meeting.title:
        label = f"{label}: {html.quote(clip(meeting.title, 80))}"
    return label


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def report_text(
    t: Tr,
    locale: str,
    *,
    branch_name: str,
    meeting: Meeting,
    version: int,
    held: bool,
    present: int,
    members: int,
    absent: Sequence[tuple[str, bool]],  # (name, excused)
    minutes_kept: bool,
    has_file: bool,
    resolution: str,
    topics: Sequence[str],
    proposals: Sequence[str],
) -> str:
    """A report as people read it, always within Telegram's 4096 characters: long parts are
    clipped first, then list items dropped from the end with a "… and N more" line."""
    head_key = "mrep.report.header" if version <= 1 else "mrep.report.header_correction"
    head = t(
        head_key,
        branch=html.quote(branch_name),
        kind=kind_label(t, meeting),
        when=format_datetime(meeting.starts_at, locale),
        version=version,
    )

    def names(items: Sequence[str], cap: int) -> str:
        shown = [html.quote(n) for n in items[:cap]]
        if len(items) > cap:
            shown.append(t("mrep.report.more", n=len(items) - cap))
        return ", ".join(shown)

    def bullets(items: Sequence[str], cap: int, width: int) -> str:
        shown = [f"• {html.quote(clip(i, width))}" for i in items[:cap]]
        if len(items) > cap:
            shown.append(t("mrep.report.more", n=len(items) - cap))
        return "\n".join(shown)

    def render(name_cap: int, res_cap: int, item_cap: int, width: int) -> str:
        lines = [head]
        if not held:
            lines.append(t("mrep.report.not_held"))
        else:
            excused = [n for n, e in absent if e]
            unexcused = [n for n, e in absent if not e]
            lines.append(
                t(
                    "mrep.report.present",
                    present=present,
                    members=members,
                    absent=len(absent),
                    excused=len(excused),
                )
            )
            if excused:
                lines.append(t("mrep.report.absent_excused", names=names(excused, name_cap)))
            if unexcused:
                lines.append(t("mrep.report.absent_unexcused", names=names(unexcused, name_cap)))
        if has_file:
            lines.append(t("mrep.report.minutes_file"))
        else:
            lines.append(t("mrep.report.minutes_yes" if minutes_kept else "mrep.report.minutes_no"))
        if resolution.strip():
            lines.append(t("mrep.report.resolution", text=html.quote(clip(resolution, res_cap))))
        if topics:
            lines.append(t("mrep.report.topics", items=bullets(topics, item_cap, width)))
        if proposals:
            lines.append(t("mrep.report.proposals", items=bullets(proposals, item_cap, width)))
        return "\n".join(lines)

    for name_cap, res_cap, item_cap, width in (
        (60, 3000, 20, 1000),
        (30, 1500, 20, 300),
        (20, 1000, 10, 200),
        (10, 600, 5, 120),
        (5, 300, 3, 80),
    ):
        text = render(name_cap, res_cap, item_cap, width)
        if len(text) <= FIT_LIMIT:
            return text
    return clip(text, FIT_LIMIT)


def absent_pairs(report: MeetingReport, names: dict[int, str], t: Tr) -> list[tuple[str, bool]]:
    unknown = t("mrep.report.former_member")
    return [
        (names.get(int(a["member_id"]), unknown), bool(a.get("excused"))) for a in report.absent
    ]


def status_label(t: Tr, meeting: Meeting) -> str:
    return t(f"mrep.status.{meeting.status}")


def outcome_label(t: Tr, outcome: Outcome) -> str:
    return t(f"meetings.outcome.{outcome.value}")


def meeting_line(t: Tr, locale: str, meeting: Meeting, tail: str) -> str:
    place = f" — {html.quote(clip(meeting.place, 60))}" if meeting.place else ""
    return t(
        "mrep.list.line",
        id=meeting.id,
        kind=kind_label(t, meeting),
        when=format_datetime(meeting.starts_at, locale),
        place=place,
        tail=tail,
    )


# --- /meetings ---------------------------------------------------------------------------------


def _branch_view(data: views.BranchMeetings) -> tuple[str, InlineKeyboardMarkup]:
    t, locale = tr_current(), current_locale()
    lines = [t("mrep.list.header", branch=html.quote(data.branch.name)), t("mrep.list.upcoming")]
    if not data.upcoming:
        lines.append(t("mrep.list.none"))
    for row in data.upcoming:
        lines.append(meeting_line(t, locale, row.meeting, status_label(t, row.meeting)))
    lines.append(t("mrep.list.recent"))
    if not data.recent:
        lines.append(t("mrep.list.none"))
    for row in data.recent:
        lines.append(meeting_line(t, locale, row.meeting, outcome_label(t, row.outcome)))
    lines.append(t("mrep.list.footer"))
    kb = InlineKeyboardBuilder()
    kb.button(text=t("mrep.ics.button"), callback_data=IcsCb(branch_id=data.branch.id))
    return "\n".join(lines), kb.as_markup()


def _summary_line(t: Tr, n: int, name: str, fig: BranchMonth) -> str:
    extra = ""
    if fig.thematic_held:
        extra += t("mrep.sum.thematic", n=fig.thematic_held)
    if fig.extraordinary_held:
        extra += t("mrep.sum.extraordinary", n=fig.extraordinary_held)
    return t(
        "mrep.sum.line",
        n=n,
        branch=html.quote(clip(name, 80)),
        outcome=outcome_label(t, fig.regular),
        extra=extra,
    )


def _summary_view(s: views.Summary) -> tuple[str, InlineKeyboardMarkup]:
    t = tr_current()
    count = s.totals.get
    lines = [
        t(
            "mrep.sum.header",
            scope=html.quote(s.scope_name),
            month=f"{s.month:02d}",
            year=s.year,
        ),
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
    first = s.page * views.SUMMARY_PAGE
    for n, (branch, fig) in enumerate(s.rows, start=first + 1):
        lines.append(_summary_line(t, n, branch.name, fig))
    if not s.rows:
        lines.append(t("mrep.list.none"))

    def cb(year: int, month: int, page: int) -> str:
        return SummaryCb(
            kind=s.scope_type, scope_id=s.scope_id, year=year, month=month, page=page
        ).pack()

    nav = []
    if s.page > 0:
        nav.append(
            InlineKeyboardButton(
                text=_("people.prev"), callback_data=cb(s.year, s.month, s.page - 1)
            )
        )
    if s.page < s.pages - 1:
        nav.append(
            InlineKeyboardButton(
                text=_("people.next"), callback_data=cb(s.year, s.month, s.page + 1)
            )
        )
    py, pm = add_months(s.year, s.month, -1)
    ny, nm = add_months(s.year, s.month, 1)
    months = [
        InlineKeyboardButton(
            text=t("mrep.sum.month_button", month=f"« {pm:02d}/{py}"), callback_data=cb(py, pm, 0)
        ),
        InlineKeyboardButton(
            text=t("mrep.sum.month_button", month=f"{nm:02d}/{ny} »"), callback_data=cb(ny, nm, 0)
        ),
    ]
    rows = [r for r in (nav, months) if r]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def _month_arg(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2})/(\d{4})", text.strip())
    if m is None:
        return None
    month, year = int(m.group(1)), int(m.group(2))
    return (year, month) if 1 <= month <= 12 and 2000 <= year <= 2100 else None


@router.message(Command("meetings"))
async def cmd_meetings(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """My branch's meetings; a summary by branch for admins and unit/committee groups.

    Arguments: a branch/unit/district code and/or a month `MM/YYYY`, in any order.
    """
    assert message.from_user is not None
    actor, binding = await _viewer(session, settings, message.from_user.id, message.chat)
    year, month = views.this_month(clock)
    code: str | None = None
    for word in (command.args or "").split():
        parsed = _month_arg(word)
        if parsed is not None:
            year, month = parsed
        else:
            code = word
    try:
        if code is not None:
            scope = await views.resolve_code(session, code)
        elif binding is not None:
            scope = views.Scope(binding.target_type, binding.target_id)
            if scope.kind not in ("branch", "unit", "committee"):
                raise Refused("mrep.view.chat_not_org")
        elif message.chat.type != "private":
            raise Refused("mrep.view.chat_unlinked")
        else:
            scope = await views.default_scope(session, actor)
        if scope.kind == "branch":
            data = await views.branch_meetings(
                session, actor, clock, scope.id, chat_binding=binding
            )
            text, markup = _branch_view(data)
        else:
            s = await views.summary(session, actor, clock, scope, year, month, chat_binding=binding)
            text, markup = _summary_view(s)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await message.answer(text, reply_markup=markup)


async def _viewer(
    session: AsyncSession, settings: Settings, user_id: int, chat: Chat | None
) -> tuple[Actor, ChatBinding | None]:
    """Who asks, and the group they ask in: an answer in a group is scoped to what it is for."""
    actor = await load_actor(session, user_id, settings.admin_ids)
    binding = None
    if chat is not None and chat.type != "private":
        binding = await views.chat_scope(session, chat.id)
    return actor, binding


@router.callback_query(SummaryCb.filter())
async def on_summary_page(
    query: CallbackQuery,
    callback_data: SummaryCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """Another page or month of a summary; the scope is re-checked (data can be forged)."""
    chat = query.message.chat if query.message is not None else None
    actor, binding = await _viewer(session, settings, query.from_user.id, chat)
    try:
        if not 1 <= callback_data.month <= 12 or callback_data.kind not in ("unit", "committee"):
            raise Refused("meetings.error.not_found")
        s = await views.summary(
            session,
            actor,
            clock,
            views.Scope(callback_data.kind, callback_data.scope_id),
            callback_data.year,
            callback_data.month,
            callback_data.page,
            chat_binding=binding,
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await query.answer()
    text, markup = _summary_view(s)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


# --- /meeting ID -------------------------------------------------------------------------------


def _detail_text(d: views.MeetingDetail) -> str:
    t, locale = tr_current(), current_locale()
    m = d.meeting
    lines = [
        t(
            "mrep.detail.header",
            id=m.id,
            kind=kind_label(t, m),
            branch=html.quote(d.branch.name),
        ),
        t("mrep.detail.when", when=format_datetime(m.starts_at, locale)),
        t("mrep.detail.place", place=html.quote(m.place or "—")),
        t("mrep.detail.status", status=status_label(t, m), outcome=outcome_label(t, d.outcome)),
    ]
    if m.shifted_from is not None and m.rule_date is not None:
        lines.append(
            t(
                "meetings.holiday_shift",
                rule_date=m.shifted_from.strftime("%d/%m/%Y"),
                holiday=html.quote(m.shift_reason or ""),
                date=m.rule_date.strftime("%d/%m/%Y"),
            )
        )
    if m.agenda:
        lines.append(t("mrep.detail.agenda", agenda=html.quote(clip(m.agenda, 1200))))
    if m.status == MeetingStatus.CANCELLED.value:
        lines.append(
            t("mrep.detail.cancelled", reason=html.quote(clip(m.cancel_reason or "", 300)))
        )
    else:
        yes, no, members = d.counts
        lines.append(
            t(
                "mrep.detail.rsvp",
                yes=yes,
                no=no,
                unanswered=max(members - yes - no, 0),
                members=members,
            )
        )
    head = "\n".join(lines)
    if d.report is None:
        return head
    r = d.report
    body = report_text(
        t,
        locale,
        branch_name=d.branch.name,
        meeting=m,
        version=d.versions,
        held=r.held,
        present=r.present_count,
        members=d.counts[2],
        absent=absent_pairs(r, d.absent_names, t),
        minutes_kept=r.minutes_kept,
        has_file=r.minutes_file_id is not None,
        resolution=r.resolution,
        topics=r.topics,
        proposals=r.proposals,
    )
    # The header already names the meeting: keep the report's lines after its own header.
    body_lines = body.split("\n")[2:]
    text = "\n".join([head, t("mrep.detail.report", version=d.versions), *body_lines])
    return clip(text, TEXT_LIMIT - 10) if len(text) > TEXT_LIMIT - 10 else text


@router.message(Command("meeting"))
async def cmd_meeting(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
) -> None:
    """One meeting in detail, for those who may view its branch."""
    assert message.from_user is not None
    arg = (command.args or "").strip().lstrip("#")
    if not arg.isdigit() or len(arg) > 9:
        await message.answer(_("mrep.detail.usage"))
        return
    actor, binding = await _viewer(session, settings, message.from_user.id, message.chat)
    try:
        detail = await views.meeting_detail(session, actor, clock, int(arg), chat_binding=binding)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await message.answer(_detail_text(detail))


# --- .ics ----------------------------------------------------------------------------------------


async def _send_ics(
    message: Message, session: AsyncSession, i18n: CatalogI18n, clock: Clock, branch: Branch
) -> None:
    data = await branch_ics(session, branch.id, i18n, current_locale(), clock.now())
    code = re.sub(r"[^A-Za-z0-9_-]", "", branch.code)
    await message.answer_document(
        BufferedInputFile(data, filename=f"lich-sinh-hoat-{code or branch.id}.ics"),
        caption=_("mrep.ics.caption"),
    )


@router.message(Command("ics"))
async def cmd_ics(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
) -> None:
    """A calendar file of the branch's meetings that phones import."""
    assert message.from_user is not None
    actor, binding = await _viewer(session, settings, message.from_user.id, message.chat)
    try:
        code = (command.args or "").strip()
        if code:
            scope = await views.resolve_code(session, code)
            if scope.kind != "branch":
                raise Refused("mrep.ics.branch_only")
            branch_id = scope.id
        elif binding is not None and binding.target_type == "branch":
            branch_id = binding.target_id
        else:
            branch_id = views.own_branch_id(actor)
        branch = await views.ics_branch(session, actor, branch_id, binding)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await _send_ics(message, session, i18n, clock, branch)


@router.callback_query(IcsCb.filter())
async def on_ics(
    query: CallbackQuery,
    callback_data: IcsCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
) -> None:
    """The .ics button under /meetings; the branch is re-checked (data can be forged)."""
    chat = query.message.chat if query.message is not None else None
    actor, binding = await _viewer(session, settings, query.from_user.id, chat)
    try:
        branch = await views.ics_branch(session, actor, callback_data.branch_id, binding)
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _send_ics(query.message, session, i18n, clock, branch)


__all__ = [
    "IcsCb",
    "SummaryCb",
    "absent_pairs",
    "clip",
    "current_locale",
    "report_text",
    "router",
    "tr_current",
    "tr_for",
]
