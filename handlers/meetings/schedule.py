"""/schedule: the quick form (`/schedule 03/12 19:30 Nhà văn hóa thôn 3`) or the wizard:
branch → kind (or confirm a planned meeting in one tap) → date → time → place → agenda → check.
Both end on the same check screen (Xác nhận / Sửa / Hủy): nothing is announced before the
secretary has seen what was understood, an odd hour questioned and a cancelled month named.

Thin: each step parses, asks `bot.services.meetings` (which checks the policy, the dates and the
limits, and queues the announcement itself), shows the next screen, and only then moves the
conversation on, so a failed edit leaves the step to be pressed again.
"""

from __future__ import annotations

from datetime import date, time

from aiogram import F, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.services import meetings as svc
from bot.services.access.policy import Actor, Role
from bot.services.context import ServiceContext
from bot.services.meetings.common import AGENDA_MAX, PLACE_MAX
from bot.services.meetings.quickform import EARLIEST, LATEST
from handlers.kit import (
    CalAction,
    CalCb,
    Chats,
    Magic,
    RoleFilter,
    advance,
    day_text,
    feature_router,
    locale,
    month_in_window,
    short,
    show,
    t,
    when,
)
from handlers.kit.nudged import open_from_nudge
from handlers.meetings import keyboards as kb
from handlers.meetings.callbacks import BranchCb, KindCb, PlannedCb, StepAct, StepCb, TimeCb
from handlers.meetings.states import Schedule, ScheduleDraft, enter, load
from handlers.meetings.texts import scheduled_text

router = feature_router(__name__, Chats.PRIVATE)

# Typed answers to a wizard step; a command typed meanwhile goes to its own handler.
TYPED = Magic(F.text & ~F.text.startswith("/"))
Target = Message | CallbackQuery


@router.message(Command("schedule"), RoleFilter(Role.LEADER))
async def cmd_schedule(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """Quick form with arguments, else the wizard."""
    await state.clear()
    branches = await svc.led_branches(session, actor, refuse_none=True)
    if command.args and len(branches) > 1:
        await message.answer(t("mtg.sched.many_branches"))
    elif command.args:
        preview = await svc.preview_form(session, actor, ctx, branches[0].id, command.args)
        draft = ScheduleDraft(
            branch_id=preview.branch.id,
            kind=preview.kind,
            day=preview.starts_at.astimezone(ctx.tz).date(),
            starts_at=preview.starts_at,
            place=preview.place,
        )
        await _check(message, ctx, state, draft, preview)
    elif len(branches) > 1:
        screen = message.answer(t("mtg.sched.branch"), reply_markup=kb.branch_keyboard(branches))
        await advance(state, Schedule.BRANCH, {}, screen)
    else:
        await _ask_kind(message, session, ctx, state, branches[0])


@router.callback_query(NudgeCb.filter(F.a == NudgeAct.SCHEDULE))
async def on_nudge_schedule(
    query: CallbackQuery,
    callback_data: NudgeCb,
    actor: Actor,
    session: AsyncSession,
    state: FSMContext,
    ctx: ServiceContext,
) -> None:
    """Lên lịch ngay under a nudge: /schedule, opened below it."""
    message = await open_from_nudge(query, callback_data, session, ctx)
    command = CommandObject(prefix="/", command="schedule")
    await cmd_schedule(message, command, actor, session, ctx, state)


@router.callback_query(BranchCb.filter(), StateFilter(Schedule.BRANCH))
async def on_branch(
    query: CallbackQuery,
    callback_data: BranchCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """The branch picked (re-checked: only branches the person leads)."""
    branch = await svc.led_branch(session, actor, callback_data.branch_id)
    await _ask_kind(query, session, ctx, state, branch)


async def _ask_kind(
    target: Target,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
    branch: svc.Branch,
) -> None:
    planned = [
        m
        for m in await svc.open_meetings(session, branch.id, ctx.clock)
        if m.status == svc.MeetingStatus.PLANNED
    ]
    markup = kb.kind_keyboard(planned, lambda m: when(m.starts_at, ctx.tz))
    screen = show(target, t("mtg.sched.kind", branch=html.quote(branch.name)), markup)
    await enter(state, Schedule.KIND, ScheduleDraft(branch_id=branch.id), screen)


@router.callback_query(PlannedCb.filter(), StateFilter(Schedule.KIND))
async def on_confirm_planned(
    query: CallbackQuery,
    callback_data: PlannedCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """One tap: confirm the meeting the rule planned, as planned."""
    result = await svc.confirm_planned(session, actor, ctx, callback_data.meeting_id)
    await show(query, scheduled_text(ctx, result))
    await state.clear()


@router.callback_query(KindCb.filter(), StateFilter(Schedule.KIND))
async def on_kind(
    query: CallbackQuery,
    callback_data: KindCb,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """The kind chosen: this month's calendar."""
    draft = await load(state, ScheduleDraft)
    today = ctx.today()
    draft.kind = callback_data.kind
    screen = show(query, t("mtg.sched.date"), kb.calendar(today.year, today.month, today))
    await enter(state, Schedule.DATE, draft, screen)


@router.callback_query(CalCb.filter(F.act == CalAction.LABEL), StateFilter(Schedule.DATE))
async def on_label(query: CallbackQuery) -> None:
    """A weekday name or the month title: nothing to do (the kit acknowledges the press)."""


@router.callback_query(CalCb.filter(F.act == CalAction.MONTH), StateFilter(Schedule.DATE))
async def on_month(
    query: CallbackQuery,
    callback_data: CalCb,
    ctx: ServiceContext,
) -> None:
    """Another month, within the window a date may be chosen from."""
    today = ctx.today()
    if month_in_window(callback_data.y, callback_data.m, today):
        markup = kb.calendar(callback_data.y, callback_data.m, today)
        await show(query, t("mtg.sched.date"), markup)


@router.callback_query(CalCb.filter(F.act == CalAction.DAY), StateFilter(Schedule.DATE))
async def on_day(
    query: CallbackQuery,
    callback_data: CalCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """A tapped day (checked like a typed one: past and too far ahead are refused)."""
    cb = callback_data
    day = svc.calendar_day(cb.y, cb.m, cb.d, ctx.today())
    await _take_date(query, actor, session, state, day)


@router.message(StateFilter(Schedule.DATE), TYPED)
async def on_date_text(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """A typed date (03/12, 03/12/2026)."""
    assert message.text is not None
    day = svc.parse_date(message.text, ctx.now(), ctx.tz)
    await _take_date(message, actor, session, state, day)


async def _take_date(
    target: Target, actor: Actor, session: AsyncSession, state: FSMContext, day: date
) -> None:
    draft = await load(state, ScheduleDraft)
    branch = await svc.led_branch(session, actor, draft.branch_id)
    text = t("mtg.sched.time", date=day_text(day))
    draft.day = day
    await enter(
        state, Schedule.TIME, draft, show(target, text, kb.time_keyboard(branch.meeting_time))
    )


@router.callback_query(TimeCb.filter(), StateFilter(Schedule.TIME))
async def on_time(
    query: CallbackQuery,
    callback_data: TimeCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    at = svc.parse_time(f"{callback_data.h:02d}:{callback_data.mi:02d}")
    await _take_time(query, actor, session, ctx, state, at)


@router.message(StateFilter(Schedule.TIME), TYPED)
async def on_time_text(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """A typed time (19:30, 19h30)."""
    assert message.text is not None
    at = svc.parse_time(message.text)
    await _take_time(message, actor, session, ctx, state, at)


async def _take_time(
    target: Target,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
    at: time,
) -> None:
    draft = await load(state, ScheduleDraft)
    starts_at = svc.meeting_start(draft.chosen_day(), at, ctx)
    branch = await svc.led_branch(session, actor, draft.branch_id)
    markup = kb.abort_only()
    if branch.location:
        label = t("mtg.sched.use_place", place=short(branch.location, 40))
        markup = kb.step_keyboard(StepAct.PLACE, label)
    draft.starts_at = starts_at
    await enter(state, Schedule.PLACE, draft, show(target, t("mtg.sched.place"), markup))


@router.callback_query(StepCb.filter(F.act == StepAct.PLACE), StateFilter(Schedule.PLACE))
async def on_usual_place(
    query: CallbackQuery, actor: Actor, session: AsyncSession, state: FSMContext
) -> None:
    draft = await load(state, ScheduleDraft)
    branch = await svc.led_branch(session, actor, draft.branch_id)
    await _take_place(query, state, draft, branch.location or "")


@router.message(StateFilter(Schedule.PLACE), TYPED)
async def on_place_text(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    place = svc.check_length(message.text, PLACE_MAX, "meetings.error.place_too_long")
    await _take_place(message, state, await load(state, ScheduleDraft), place)


async def _take_place(target: Target, state: FSMContext, draft: ScheduleDraft, place: str) -> None:
    draft.place = place
    screen = show(
        target, t("mtg.sched.agenda"), kb.step_keyboard(StepAct.SKIP, t("mtg.sched.skip"))
    )
    await enter(state, Schedule.AGENDA, draft, screen)


@router.callback_query(StepCb.filter(F.act == StepAct.SKIP), StateFilter(Schedule.AGENDA))
async def on_skip_agenda(
    query: CallbackQuery,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    await _take_agenda(query, actor, session, ctx, state, "")


@router.message(StateFilter(Schedule.AGENDA), TYPED)
async def on_agenda_text(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    assert message.text is not None
    agenda = svc.check_length(message.text, AGENDA_MAX, "meetings.error.agenda_too_long")
    await _take_agenda(message, actor, session, ctx, state, agenda)


async def _take_agenda(
    target: Target,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
    agenda: str,
) -> None:
    draft = await load(state, ScheduleDraft)
    kind, starts_at = draft.details()
    draft.agenda = agenda
    preview = await svc.preview_schedule(
        session, actor, ctx, draft.branch_id, kind=kind, starts_at=starts_at, place=draft.place
    )
    await _check(target, ctx, state, draft, preview)


async def _check(
    target: Target,
    ctx: ServiceContext,
    state: FSMContext,
    draft: ScheduleDraft,
    preview: svc.SchedulePreview,
) -> None:
    """The check screen: the meeting as it would be announced, an odd hour questioned, a
    cancelled month's meeting named, and Xác nhận / Sửa / Hủy."""
    body = svc.meeting_preview(
        ctx.i18n,
        locale(),
        preview.branch,
        kind=preview.kind,
        starts_at=preview.starts_at,
        place=preview.place,
        agenda=draft.agenda,
        tz=ctx.tz,
        room=3000,
    )
    lines = [t("mtg.sched.check", details=body)]
    if preview.odd_hour:
        at = preview.starts_at.astimezone(ctx.tz)
        lines.append(
            t(
                "mtg.sched.odd_hour",
                time=f"{at:%H:%M}",
                earliest=f"{EARLIEST:%H:%M}",
                latest=f"{LATEST:%H:%M}",
            )
        )
    if preview.cancelled is not None:
        gone = preview.cancelled
        lines.append(
            t(
                "mtg.sched.revives",
                month=f"{gone.period_month:02d}/{gone.period_year}",
                reason=html.quote(gone.cancel_reason or ""),
            )
        )
    lines.append(t("mtg.sched.check_next"))
    draft.reinstate = preview.cancelled is not None
    screen = show(target, "\n\n".join(lines), kb.check_keyboard())
    await enter(state, Schedule.CONFIRM, draft, screen)


@router.callback_query(StepCb.filter(F.act == StepAct.EDIT), StateFilter(Schedule.CONFIRM))
async def on_edit(
    query: CallbackQuery,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """ "Sửa": back to the calendar with the kind kept; date, time, place and agenda again."""
    draft = await load(state, ScheduleDraft)
    today = ctx.today()
    draft.reinstate = False
    screen = show(query, t("mtg.sched.date"), kb.calendar(today.year, today.month, today))
    await enter(state, Schedule.DATE, draft, screen)


@router.callback_query(StepCb.filter(F.act == StepAct.OK), StateFilter(Schedule.CONFIRM))
async def on_confirm(
    query: CallbackQuery,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """Schedule it: the service re-checks the permission, the time and the limits."""
    draft = await load(state, ScheduleDraft)
    kind, starts_at = draft.details()
    result = await svc.schedule_meeting(
        session,
        actor,
        ctx,
        draft.branch_id,
        kind=kind,
        starts_at=starts_at,
        place=draft.place,
        agenda=draft.agenda,
        reinstate=draft.reinstate,
    )
    await show(query, scheduled_text(ctx, result))
    await state.clear()


@router.callback_query(StepCb.filter(F.act == StepAct.ABORT))
async def on_abort(query: CallbackQuery, state: FSMContext) -> None:
    """ "Hủy": leave the wizard (or the /reschedule, /cancel picker), nothing saved."""
    await state.clear()
    await show(query, t("mtg.sched.aborted"))
