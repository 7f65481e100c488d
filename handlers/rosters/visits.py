"""/busy (the days a visitor cannot go), /visit (the visit report in a few taps) and /coverage.

The visit report is a short conversation: which visit (when several), attended?, the
meeting's quality, the members' proposals heard (one per line, or "none"), a note (or skip).
The draft lives in the conversation state; nothing is written until the last step.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date
from html import escape

from aiogram import F
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.inputs import typed_day
from bot.services.access.policy import Actor, Refused, Role
from bot.services.context import ServiceContext
from bot.services.rosters import coverage as cov
from bot.services.rosters import visits as svc
from bot.services.rosters.common import NOTE_MAX, Quarter
from bot.services.rosters.visits import VisitQuality
from handlers.kit import (
    Chats,
    Id,
    Magic,
    RoleFilter,
    Small,
    advance,
    button_label,
    feature_router,
    locale,
    show,
    t,
    when,
)
from handlers.kit.nudged import open_from_nudge
from handlers.kit.proposals import visit_proposals
from handlers.rosters.callbacks import CoverageCb, VisitAct, VisitCb

router = feature_router(__name__, Chats.PRIVATE)


# /busy ------------------------------------------------------------------------------------


class BusyCb(CallbackData, prefix="rbz"):
    y: Small
    m: Small
    d: Small = 0  # 0: show the month; else toggle the day


def _busy_grid(
    quarter: Quarter, month: int, busy: set[date], lo: date, hi: date
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    nav = []
    for m in quarter.months:
        label = f"[{m:02d}/{quarter.year}]" if m == month else f"{m:02d}/{quarter.year}"
        nav.append(
            InlineKeyboardButton(text=label, callback_data=BusyCb(y=quarter.year, m=m).pack())
        )
    kb.row(*nav)
    for week in calendar.Calendar(firstweekday=0).monthdayscalendar(quarter.year, month):
        row = []
        for day in week:
            if day == 0:
                row.append(
                    InlineKeyboardButton(
                        text=" ", callback_data=BusyCb(y=quarter.year, m=month).pack()
                    )
                )
                continue
            d = date(quarter.year, month, day)
            text = ("✖" + str(day)) if d in busy else (str(day) if lo <= d <= hi else "·")
            row.append(
                InlineKeyboardButton(
                    text=text, callback_data=BusyCb(y=quarter.year, m=month, d=day).pack()
                )
            )
        kb.row(*row)
    return kb.as_markup()


async def _busy_screen(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, year: int, month: int
) -> tuple[str, InlineKeyboardMarkup]:
    quarter, busy = await svc.busy_days(session, ctx, actor, Quarter(year, (month - 1) // 3 + 1))
    if month not in quarter.months:
        month = quarter.months[0]
    lo, hi = svc.busy_range(ctx)
    text = t("roster.busy.title", quarter=quarter.label(locale()), n=len(busy))
    return text, _busy_grid(quarter, month, busy, lo, hi)


@router.message(Command("busy"), RoleFilter(Role.KNOWN))
async def cmd_busy(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """The busy days' calendar; `/busy DD/MM/YYYY` marks that day first. Every argument is
    answered: a day that does not exist, or anything more, is refused with the usage."""
    args = (command.args or "").split()
    quarter = svc.busy_quarter(ctx)
    year, month, note = quarter.year, quarter.months[0], ""
    if len(args) > 1:
        raise Refused("roster.busy.usage")
    change = None
    if args:
        day = typed_day(args[0])
        if day is None:
            raise Refused("roster.busy.bad_date", date=args[0][:20])
        # The same use case as a tap on the calendar: a conflict is said the same way.
        change = await svc.mark_busy(session, ctx, actor, day, busy=True)
        year, month = day.year, day.month
        note = _busy_note(change, day)
    text, markup = await _busy_screen(session, ctx, actor, year, month)
    if change is not None and change.clashes:
        markup = _with_handback(markup, change.clashes, ctx)
    shown = t("roster.busy.noted", note=note, screen=text) if note else text
    await message.answer(shown, reply_markup=markup)


def _busy_note(change: svc.BusyChange, day: date) -> str:
    """What marking `day` did, said truly: a clash says whether the leader was told."""
    if change.clashes:
        key = "roster.busy.has_visit_unreached" if change.unreached else "roster.busy.has_visit"
    else:
        key = "roster.busy.on" if change.busy else "roster.busy.off"
    return t(key, day=day.strftime("%d/%m"))


@router.callback_query(BusyCb.filter())
async def on_busy(
    query: CallbackQuery,
    callback_data: BusyCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    cb = callback_data
    if not 1 <= cb.m <= 12:
        raise Refused("kit.expired")
    toast = None
    clashes: list[svc.VisitInfo] = []
    if cb.d:
        try:
            day = date(cb.y, cb.m, cb.d)
        except ValueError:
            raise Refused("kit.expired") from None
        change = await svc.mark_busy(session, ctx, actor, day)
        clashes = change.clashes
        toast = _busy_note(change, day)
    text, markup = await _busy_screen(session, ctx, actor, cb.y, cb.m)
    if clashes:
        markup = _with_handback(markup, clashes, ctx)
    await show(query, text, markup, toast=toast)


def _with_handback(
    markup: InlineKeyboardMarkup, clashes: list[svc.VisitInfo], ctx: ServiceContext
) -> InlineKeyboardMarkup:
    """The busy calendar with a hand-back button per visit on the day just marked."""
    rows = [
        [
            InlineKeyboardButton(
                text=t(
                    "roster.busy.handback_button",
                    branch=c.branch.name,
                    day=c.visit.starts_at.astimezone(ctx.tz).strftime("%d/%m"),
                ),
                callback_data=VisitCb(visit_id=c.visit.id, a=VisitAct.HANDBACK).pack(),
            )
        ]
        for c in clashes
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *markup.inline_keyboard])


# /visit -----------------------------------------------------------------------------------


class VisitReportState(StatesGroup):
    PROPOSALS = State()
    NOTE = State()


class Step(enum.Enum):
    PICK = "p"
    ATTENDED = "a"
    ABSENT = "x"
    QUALITY = "q"
    NO_PROPOSALS = "n"
    SKIP_NOTE = "s"


class VrCb(CallbackData, prefix="rvr"):
    visit_id: Id
    s: Step
    q: VisitQuality | None = None


class VisitDraft(BaseModel):
    visit_id: int
    attended: bool = True
    quality: VisitQuality | None = None
    proposals: tuple[str, ...] = ()


def _button(text: str, cb: VrCb) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=cb.pack())]


@router.message(Command("visit"), RoleFilter(Role.KNOWN))
async def cmd_visit(
    message: Message, session: AsyncSession, actor: Actor, ctx: ServiceContext
) -> None:
    infos = await svc.my_visits(session, ctx, actor, reportable_only=True)
    if not infos:
        await message.answer(t("roster.visit.none"))
        return
    rows = [
        _button(
            button_label(when(i.visit.starts_at, ctx.tz), i.branch.name, limit=60),
            VrCb(visit_id=i.visit.id, s=Step.PICK),
        )
        for i in infos[:10]
    ]
    await message.answer(
        t("roster.visit.pick"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(NudgeCb.filter(F.a == NudgeAct.VISIT_REPORT))
async def on_nudge_visit(
    query: CallbackQuery,
    callback_data: NudgeCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """Báo cáo ngay under a visit's nudge: /visit, opened below it."""
    message = await open_from_nudge(query, callback_data, session, ctx)
    await cmd_visit(message, session, actor, ctx)


@router.callback_query(VrCb.filter(F.s == Step.PICK))
async def on_pick(query: CallbackQuery, callback_data: VrCb) -> None:
    vid = callback_data.visit_id
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            _button(t("roster.visit.yes"), VrCb(visit_id=vid, s=Step.ATTENDED)),
            _button(t("roster.visit.no"), VrCb(visit_id=vid, s=Step.ABSENT)),
        ]
    )
    await show(query, t("roster.visit.attended"), markup)


@router.callback_query(VrCb.filter(F.s == Step.ATTENDED))
async def on_attended(query: CallbackQuery, callback_data: VrCb) -> None:
    vid = callback_data.visit_id
    rows = [
        _button(t(f"roster.visit.quality.{q.value}"), VrCb(visit_id=vid, s=Step.QUALITY, q=q))
        for q in VisitQuality
    ]
    await show(query, t("roster.visit.quality"), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(VrCb.filter(F.s.in_({Step.QUALITY, Step.ABSENT})))
async def on_quality(query: CallbackQuery, callback_data: VrCb, state: FSMContext) -> None:
    cb = callback_data
    attended = cb.s is Step.QUALITY
    if attended and cb.q is None:
        raise Refused("kit.expired")
    draft = VisitDraft(visit_id=cb.visit_id, attended=attended, quality=cb.q if attended else None)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            _button(t("roster.visit.no_proposals"), VrCb(visit_id=cb.visit_id, s=Step.NO_PROPOSALS))
        ]
    )
    await advance(
        state,
        VisitReportState.PROPOSALS,
        draft.model_dump(mode="json"),
        show(query, t("roster.visit.proposals"), markup),
    )


async def _ask_note(target: Message | CallbackQuery, state: FSMContext, draft: VisitDraft) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            _button(t("roster.visit.skip_note"), VrCb(visit_id=draft.visit_id, s=Step.SKIP_NOTE))
        ]
    )
    await advance(
        state,
        VisitReportState.NOTE,
        draft.model_dump(mode="json"),
        show(target, t("roster.visit.note"), markup),
    )


async def _draft(state: FSMContext, visit_id: int | None = None) -> VisitDraft:
    data = await state.get_data()
    try:
        draft = VisitDraft.model_validate(data)
    except ValueError:
        raise Refused("kit.expired") from None
    if visit_id is not None and draft.visit_id != visit_id:
        raise Refused("kit.expired")
    return draft


@router.message(StateFilter(VisitReportState.PROPOSALS), Magic(F.text))
async def on_proposals(message: Message, state: FSMContext) -> None:
    draft = await _draft(state)
    lines = tuple(line.strip() for line in (message.text or "").splitlines() if line.strip())
    draft = draft.model_copy(update={"proposals": lines})
    await _ask_note(message, state, draft)


@router.callback_query(
    VrCb.filter(F.s == Step.NO_PROPOSALS), StateFilter(VisitReportState.PROPOSALS)
)
async def on_no_proposals(query: CallbackQuery, callback_data: VrCb, state: FSMContext) -> None:
    await _ask_note(query, state, await _draft(state, callback_data.visit_id))


async def _submit(
    target: Message | CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    note: str,
) -> None:
    draft = await _draft(state)
    data = svc.VisitReportInput(
        attended=draft.attended, quality=draft.quality, proposals=draft.proposals, note=note
    )
    await svc.submit_visit_report(session, ctx, actor, draft.visit_id, data)
    await state.clear()
    text = t("roster.visit.thanks", n=len(draft.proposals))
    # The heard proposals, each one tap from becoming a feedback item (issue 13).
    hint, markup = await visit_proposals(session, draft.visit_id)
    await show(target, f"{text}\n\n{hint}" if hint else text, markup)


@router.message(StateFilter(VisitReportState.NOTE), Magic(F.text))
async def on_note(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    await _submit(message, state, session, actor, ctx, (message.text or "")[: NOTE_MAX + 1])


@router.callback_query(VrCb.filter(F.s == Step.SKIP_NOTE), StateFilter(VisitReportState.NOTE))
async def on_skip_note(
    query: CallbackQuery,
    callback_data: VrCb,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    await _draft(state, callback_data.visit_id)
    await _submit(query, state, session, actor, ctx, "")


# /coverage --------------------------------------------------------------------------------


def _coverage_picker(ctx: ServiceContext) -> tuple[str, InlineKeyboardMarkup]:
    """/coverage without a period: this quarter, the last one, this year as buttons."""
    kb = InlineKeyboardBuilder()
    keys = ("roster.cov.pick.this", "roster.cov.pick.last", "roster.cov.pick.year")
    for key, (year, quarter) in zip(keys, cov.offered_periods(ctx.today()), strict=True):
        label = Quarter(year, quarter).label(locale()) if quarter else ""
        kb.row(
            InlineKeyboardButton(
                text=t(key, quarter=label, year=year),
                callback_data=CoverageCb(y=year, q=quarter or 0).pack(),
            )
        )
    return t("roster.cov.pick"), kb.as_markup()


async def _send_coverage(
    message: Message,
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    year: int,
    quarter: int | None,
) -> None:
    period = Quarter(year, quarter).label(locale()) if quarter else t("fbr.period.year", year=year)
    for report in await cov.coverage_for(session, ctx, actor, year, quarter):
        lines = [
            t(
                "roster.cov.head",
                period=period,
                visited=report.visited,
                due=report.due,
                visits=report.visits,
                reports=report.reports,
            )
        ]
        for g in report.groups:
            lines.append(
                t(
                    "roster.cov.group",
                    group=escape(g.name),
                    visited=g.visited,
                    due=g.due,
                    visits=g.visits,
                    reports=g.reports,
                )
            )
        unvisited = report.unvisited
        if unvisited:
            lines.append("")
            lines.append(t("roster.cov.unvisited", n=len(unvisited)))
            for b in unvisited[:30]:
                planned = (
                    when(b.next_planned, ctx.tz) if b.next_planned else t("roster.cov.not_planned")
                )
                lines.append(t("roster.cov.branch", branch=escape(b.name), planned=planned))
            if len(unvisited) > 30:
                lines.append(t("roster.cov.more", n=len(unvisited) - 30))
        await message.answer("\n".join(lines)[:4000])


@router.message(Command("coverage"), RoleFilter(Role.KNOWN))
async def cmd_coverage(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """`/coverage`: the period offered as buttons; `/coverage 2027-Q1` (or 2027, năm) at once."""
    args = (command.args or "").strip()
    if not args:
        cov.require_coverage(actor)
        text, markup = _coverage_picker(ctx)
        await message.answer(text, reply_markup=markup)
        return
    year, quarter = cov.parse_period(args, ctx.today())
    await _send_coverage(message, session, ctx, actor, year, quarter)


@router.callback_query(CoverageCb.filter())
async def on_coverage_period(
    query: CallbackQuery,
    callback_data: CoverageCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """A period pressed: bounds and who may see are re-checked by the service."""
    year, quarter = callback_data.y, callback_data.q or None
    cov.check_period(year, quarter)
    cov.require_coverage(actor)
    label = Quarter(year, quarter).label(locale()) if quarter else t("fbr.period.year", year=year)
    await show(query, t("roster.cov.pick.chosen", period=label))
    if isinstance(query.message, Message):
        await _send_coverage(query.message, session, ctx, actor, year, quarter)
