"""Scheduling meetings: the /schedule wizard and quick form, /reschedule, /cancel <reason>.

Thin: parse, ask `bot.services.meetings` (which asks the policy: ids in callback data are
re-checked there), queue what members must be told through `Notifier`, render from the catalog.
The wizard's own abort button is "Huỷ thao tác"; /cancel cancels meetings.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

from aiogram import F, Router, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meetings as svc
from bot.services.meeting_notify import Notifier, meeting_body
from bot.services.meetings.common import (
    AGENDA_MAX,
    CANCEL_REASON_MAX,
    PLACE_MAX,
    check_length,
    managed_meeting,
)
from bot.services.policy import Actor, Refused, load_actor
from bot.services.vn_calendar import format_datetime, local_to_utc, to_local
from bot.settings import Settings
from handlers.people import alert_text, refuse, refused_text
from storage.models import Branch, Meeting
from storage.models.meetings import MeetingKind, MeetingStatus
from storage.repositories.meetings import MeetingRepository

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

# Typed answers to a wizard step; a command typed meanwhile goes to its own handler.
TYPED = F.text & ~F.text.startswith("/")
KINDS = (MeetingKind.REGULAR.value, MeetingKind.THEMATIC.value, MeetingKind.EXTRAORDINARY.value)
COMMON_TIMES = ("07:30", "08:00", "14:00", "19:00", "19:30", "20:00")
PICK_LIMIT = 8  # meetings offered as buttons when the branch has several open ones


class Schedule(StatesGroup):
    BRANCH = State()
    KIND = State()
    DATE = State()
    TIME = State()
    PLACE = State()
    AGENDA = State()
    CONFIRM = State()
    RESCHEDULE = State()


class BranchCb(CallbackData, prefix="mbr"):
    branch_id: int


class KindCb(CallbackData, prefix="mkind"):
    kind: str


class PlannedCb(CallbackData, prefix="mplan"):
    meeting_id: int


class CalCb(CallbackData, prefix="mcal"):
    act: str  # "d" a day, "n" another month, "x" a label
    y: int
    m: int
    d: int = 0


class TimeCb(CallbackData, prefix="mtime"):
    hm: str  # "1930": CallbackData uses ":" as its separator


class StepCb(CallbackData, prefix="mstep"):
    act: str  # "place" (use the usual place), "skip" (no agenda), "ok", "abort"


class PickCb(CallbackData, prefix="mpick"):
    act: str  # "r" reschedule, "c" cancel
    meeting_id: int


# ---- helpers --------------------------------------------------------------------------------


def _abort_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("mtg.sched.abort"), callback_data=StepCb(act="abort").pack())


def _locale(i18n: CatalogI18n) -> str:
    return i18n.current_locale


async def _actor(session: AsyncSession, settings: Settings, user_id: int) -> Actor:
    return await load_actor(session, user_id, settings.admin_ids)


async def _led_branches(session: AsyncSession, actor: Actor) -> list[Branch]:
    repo = MeetingRepository(session)
    out = []
    for bid in dict.fromkeys(actor.led_branch_ids()):
        branch = await repo.branch(bid)
        if branch is not None and branch.active:
            out.append(branch)
    return out


async def _show(
    target: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """A wizard step: edit the pressed message, or answer a typed one."""
    if isinstance(target, CallbackQuery):
        await target.answer()
        if isinstance(target.message, Message):
            await target.message.edit_text(text, reply_markup=markup)
        return
    await target.answer(text, reply_markup=markup)


def _when(moment: datetime, i18n: CatalogI18n, settings: Settings) -> str:
    return format_datetime(moment, _locale(i18n), settings.tz)


def month_grid(year: int, month: int, today: date, locale: str) -> InlineKeyboardMarkup:
    """A month of day buttons (Monday first), with ‹ › to move between months."""
    kb = InlineKeyboardBuilder()
    py, pm = (year, month - 1) if month > 1 else (year - 1, 12)
    ny, nm = (year, month + 1) if month < 12 else (year + 1, 1)
    nav = []
    if (py, pm) >= (today.year, today.month):
        nav.append(InlineKeyboardButton(text="‹", callback_data=CalCb(act="n", y=py, m=pm).pack()))
    nav.append(
        InlineKeyboardButton(
            text=f"{month:02d}/{year}", callback_data=CalCb(act="x", y=year, m=month).pack()
        )
    )
    nav.append(InlineKeyboardButton(text="›", callback_data=CalCb(act="n", y=ny, m=nm).pack()))
    kb.row(*nav)
    label = CalCb(act="x", y=year, m=month).pack()
    kb.row(*(InlineKeyboardButton(text=_(f"mtg.cal.wd{i}"), callback_data=label) for i in range(7)))
    for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month):
        row = []
        for day in week:
            if day == 0:
                row.append(InlineKeyboardButton(text=" ", callback_data=label))
                continue
            past = date(year, month, day) < today
            row.append(
                InlineKeyboardButton(
                    text="·" if past else str(day),
                    callback_data=CalCb(act="d", y=year, m=month, d=day).pack(),
                )
            )
        kb.row(*row)
    kb.row(_abort_button())
    return kb.as_markup()


def _time_keyboard(usual: time | None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    times = list(COMMON_TIMES)
    if usual is not None and f"{usual:%H:%M}" not in times:
        times.append(f"{usual:%H:%M}")
    for t in sorted(times):
        kb.button(text=t, callback_data=TimeCb(hm=t.replace(":", "")))
    kb.adjust(3)
    kb.row(_abort_button())
    return kb.as_markup()


def _one_row(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons])


async def _tell_result(
    session: AsyncSession,
    i18n: CatalogI18n,
    clock: Clock,
    settings: Settings,
    meeting: Meeting,
    to_tell: list[svc.Recipient],
    before: dict[str, object],
) -> str:
    """Queue the announcement/corrections; a line for the secretary about who is told."""
    notifier = Notifier(session, i18n, clock, settings.default_language, settings.tz)
    await notifier.publish(meeting, to_tell, before)
    group = await MeetingRepository(session).branch_chat(meeting.branch_id)
    if group is None:
        return _("mtg.told.no_group")
    return _("mtg.told.count").format(n=len({c for _k, c in notifier.sent}))


async def _changed_reply(
    target: Message | CallbackQuery,
    session: AsyncSession,
    i18n: CatalogI18n,
    clock: Clock,
    settings: Settings,
    state: FSMContext,
    change: svc.Change,
    done: str,
) -> None:
    """After a reschedule or a cancel: tell those told before, then show the secretary."""
    await state.clear()
    told = await _tell_result(
        session, i18n, clock, settings, change.meeting, change.to_tell, change.before
    )
    summary = await _summary(session, i18n, settings, change.meeting)
    await _show(target, "\n\n".join([done, summary, told]), None)


async def _summary(session: AsyncSession, i18n: CatalogI18n, settings: Settings, m: Meeting) -> str:
    branch = await MeetingRepository(session).branch(m.branch_id)
    assert branch is not None
    return meeting_body(i18n, _locale(i18n), m, branch, tz=settings.tz, room=3500)


# ---- /schedule ------------------------------------------------------------------------------


@router.message(Command("schedule"))
async def cmd_schedule(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Quick form with arguments, else the wizard: branch → kind → date → time → place →
    agenda → confirm."""
    assert message.from_user is not None
    await state.clear()
    actor = await _actor(session, settings, message.from_user.id)
    branches = await _led_branches(session, actor)
    if not branches:
        await message.answer(refused_text(Refused("policy.needs_secretary")))
        return
    if command.args:
        if len(branches) > 1:
            await message.answer(_("mtg.sched.many_branches"))
            return
        try:
            form = svc.parse_quick_form(command.args, clock.now(), settings.tz)
            result = await svc.schedule_meeting(
                session,
                actor,
                clock,
                branches[0].id,
                kind=MeetingKind.REGULAR.value,
                starts_at=form.starts_at,
                place=form.place,
                tz=settings.tz,
            )
        except Refused as err:
            await message.answer(refused_text(err))
            return
        await _scheduled_reply(message, session, i18n, clock, settings, result)
        return
    if len(branches) > 1:
        kb = InlineKeyboardBuilder()
        for b in branches:
            kb.button(text=b.name, callback_data=BranchCb(branch_id=b.id))
        kb.adjust(1)
        kb.row(_abort_button())
        await state.set_state(Schedule.BRANCH)
        await message.answer(_("mtg.sched.branch"), reply_markup=kb.as_markup())
        return
    await _ask_kind(message, session, i18n, settings, clock, state, branches[0])


async def _scheduled_reply(
    target: Message | CallbackQuery,
    session: AsyncSession,
    i18n: CatalogI18n,
    clock: Clock,
    settings: Settings,
    result: svc.ScheduleResult,
) -> None:
    told = await _tell_result(session, i18n, clock, settings, result.meeting, result.to_tell, {})
    lines = [_("mtg.sched.done").format(id=result.meeting.id)]
    lines.append(await _summary(session, i18n, settings, result.meeting))
    if result.meeting.kind == MeetingKind.THEMATIC.value and result.thematic_in_quarter:
        lines.append(_("mtg.sched.thematic_again").format(n=result.thematic_in_quarter))
    lines.append(told)
    await _show(target, "\n\n".join(lines), None)


@router.callback_query(BranchCb.filter(), StateFilter(Schedule.BRANCH))
async def on_branch(
    query: CallbackQuery,
    callback_data: BranchCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """The branch picked (re-checked: only branches the person leads are accepted)."""
    actor = await _actor(session, settings, query.from_user.id)
    branch = next(
        (b for b in await _led_branches(session, actor) if b.id == callback_data.branch_id), None
    )
    if branch is None:
        await query.answer(alert_text(Refused("policy.not_your_branch")), show_alert=True)
        return
    await _ask_kind(query, session, i18n, settings, clock, state, branch)


async def _ask_kind(
    target: Message | CallbackQuery,
    session: AsyncSession,
    i18n: CatalogI18n,
    settings: Settings,
    clock: Clock,
    state: FSMContext,
    branch: Branch,
) -> None:
    await state.set_state(Schedule.KIND)
    await state.update_data(branch_id=branch.id)
    kb = InlineKeyboardBuilder()
    planned = [
        m
        for m in await svc.open_meetings(session, branch.id, clock)
        if m.status == MeetingStatus.PLANNED.value
    ][:3]
    for m in planned:
        kb.button(
            text=_("mtg.sched.confirm_planned").format(when=_when(m.starts_at, i18n, settings)),
            callback_data=PlannedCb(meeting_id=m.id),
        )
    for kind in KINDS:
        kb.button(text=_(f"meetings.kind.{kind}"), callback_data=KindCb(kind=kind))
    kb.adjust(1)
    kb.row(_abort_button())
    text = _("mtg.sched.kind").format(branch=html.quote(branch.name))
    await _show(target, text, kb.as_markup())


@router.callback_query(PlannedCb.filter(), StateFilter(Schedule.KIND))
async def on_confirm_planned(
    query: CallbackQuery,
    callback_data: PlannedCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """One tap: confirm the meeting the rule planned, as planned."""
    actor = await _actor(session, settings, query.from_user.id)
    try:
        meeting, _branch = await managed_meeting(session, actor, callback_data.meeting_id)
        if meeting.status != MeetingStatus.PLANNED.value:
            raise svc.MeetingError("mtg.error.not_planned")
        result = await svc.schedule_meeting(
            session,
            actor,
            clock,
            meeting.branch_id,
            kind=meeting.kind,
            starts_at=meeting.starts_at,
            place=meeting.place,
            title=meeting.title,
            agenda=meeting.agenda,
            tz=settings.tz,
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await state.clear()
    await _scheduled_reply(query, session, i18n, clock, settings, result)


@router.callback_query(KindCb.filter(), StateFilter(Schedule.KIND))
async def on_kind(
    query: CallbackQuery,
    callback_data: KindCb,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """The kind chosen: show this month's calendar."""
    if callback_data.kind not in KINDS:
        await query.answer(alert_text(svc.MeetingError("meetings.error.bad_kind")), show_alert=True)
        return
    await state.update_data(kind=callback_data.kind)
    await state.set_state(Schedule.DATE)
    today = to_local(clock.now(), settings.tz).date()
    await _show(
        query, _("mtg.sched.date"), month_grid(today.year, today.month, today, _locale(i18n))
    )


@router.callback_query(CalCb.filter(), StateFilter(Schedule.DATE))
async def on_calendar(
    query: CallbackQuery,
    callback_data: CalCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Move between months, or take the tapped day (a past day is refused)."""
    today = to_local(clock.now(), settings.tz).date()
    cb = callback_data
    if cb.act == "x" or not 1 <= cb.m <= 12 or not 2000 <= cb.y <= 2100:
        await query.answer()
        return
    if cb.act == "n":
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(
                reply_markup=month_grid(cb.y, cb.m, today, _locale(i18n))
            )
        return
    try:
        day = date(cb.y, cb.m, cb.d)
    except ValueError:
        await query.answer(
            alert_text(svc.MeetingError("meetings.error.bad_date", date=f"{cb.d:02d}/{cb.m:02d}")),
            show_alert=True,
        )
        return
    if day < today:
        await query.answer(alert_text(svc.MeetingError("meetings.error.in_past")), show_alert=True)
        return
    await _take_date(query, session, settings, state, day)


@router.message(StateFilter(Schedule.DATE), TYPED)
async def on_date_text(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    state: FSMContext,
) -> None:
    """A typed date (03/12, 03/12/2026)."""
    assert message.text is not None
    try:
        day = svc.parse_date(message.text, clock.now(), settings.tz)
        if day < to_local(clock.now(), settings.tz).date():
            raise svc.MeetingError("meetings.error.in_past")
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await _take_date(message, session, settings, state, day)


async def _take_date(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    state: FSMContext,
    day: date,
) -> None:
    data = await state.get_data()
    branch = await MeetingRepository(session).branch(int(data.get("branch_id", 0)))
    await state.update_data(day=day.isoformat())
    await state.set_state(Schedule.TIME)
    text = _("mtg.sched.time").format(date=f"{day:%d/%m/%Y}")
    await _show(target, text, _time_keyboard(branch.meeting_time if branch else None))


@router.callback_query(TimeCb.filter(), StateFilter(Schedule.TIME))
async def on_time(
    query: CallbackQuery,
    callback_data: TimeCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    state: FSMContext,
) -> None:
    hm = callback_data.hm
    try:
        at = svc.parse_time(f"{hm[:2]}:{hm[2:]}")
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await _take_time(query, session, settings, clock, state, at)


@router.message(StateFilter(Schedule.TIME), TYPED)
async def on_time_text(
    message: Message, session: AsyncSession, settings: Settings, clock: Clock, state: FSMContext
) -> None:
    """A typed time (19:30, 19h30)."""
    assert message.text is not None
    try:
        at = svc.parse_time(message.text)
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await _take_time(message, session, settings, clock, state, at)


async def _take_time(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    state: FSMContext,
    at: time,
) -> None:
    data = await state.get_data()
    starts_at = local_to_utc(date.fromisoformat(str(data["day"])), at, settings.tz)
    if starts_at <= clock.now():
        err = svc.MeetingError("meetings.error.in_past")
        await refuse(target, err)
        return
    await state.update_data(starts_at=starts_at.isoformat())
    await state.set_state(Schedule.PLACE)
    branch = await MeetingRepository(session).branch(int(data["branch_id"]))
    usual = branch.location if branch else ""
    markup = None
    if usual:
        markup = _one_row(
            InlineKeyboardButton(
                text=_("mtg.sched.use_place").format(place=usual[:40]),
                callback_data=StepCb(act="place").pack(),
            ),
            _abort_button(),
        )
    await _show(target, _("mtg.sched.place"), markup or _one_row(_abort_button()))


@router.callback_query(StepCb.filter(F.act == "place"), StateFilter(Schedule.PLACE))
async def on_usual_place(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    data = await state.get_data()
    branch = await MeetingRepository(session).branch(int(data["branch_id"]))
    await _take_place(query, state, branch.location if branch else "")


@router.message(StateFilter(Schedule.PLACE), TYPED)
async def on_place_text(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    try:
        place = check_length(message.text, PLACE_MAX, "meetings.error.place_too_long")
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await _take_place(message, state, place)


async def _take_place(target: Message | CallbackQuery, state: FSMContext, place: str) -> None:
    await state.update_data(place=place)
    await state.set_state(Schedule.AGENDA)
    markup = _one_row(
        InlineKeyboardButton(text=_("mtg.sched.skip"), callback_data=StepCb(act="skip").pack()),
        _abort_button(),
    )
    await _show(target, _("mtg.sched.agenda"), markup)


@router.callback_query(StepCb.filter(F.act == "skip"), StateFilter(Schedule.AGENDA))
async def on_skip_agenda(
    query: CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    await _take_agenda(query, session, settings, i18n, state, "")


@router.message(StateFilter(Schedule.AGENDA), TYPED)
async def on_agenda_text(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    assert message.text is not None
    try:
        agenda = check_length(message.text, AGENDA_MAX, "meetings.error.agenda_too_long")
    except Refused as err:
        await message.answer(refused_text(err))
        return
    await _take_agenda(message, session, settings, i18n, state, agenda)


async def _take_agenda(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    i18n: CatalogI18n,
    state: FSMContext,
    agenda: str,
) -> None:
    await state.update_data(agenda=agenda)
    await state.set_state(Schedule.CONFIRM)
    data = await state.get_data()
    repo = MeetingRepository(session)
    branch = await repo.branch(int(data["branch_id"]))
    assert branch is not None
    draft = Meeting(
        branch_id=branch.id,
        kind=str(data["kind"]),
        starts_at=datetime.fromisoformat(str(data["starts_at"])),
        place=str(data.get("place") or ""),
        title="",
        agenda=agenda,
    )
    body = meeting_body(i18n, _locale(i18n), draft, branch, tz=settings.tz, room=3500)
    markup = _one_row(
        InlineKeyboardButton(text=_("mtg.sched.ok"), callback_data=StepCb(act="ok").pack()),
        _abort_button(),
    )
    await _show(target, _("mtg.sched.check").format(details=body), markup)


@router.callback_query(StepCb.filter(F.act == "ok"), StateFilter(Schedule.CONFIRM))
async def on_confirm(
    query: CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Schedule it: the service re-checks the permission, the time and the limits."""
    data = await state.get_data()
    actor = await _actor(session, settings, query.from_user.id)
    try:
        result = await svc.schedule_meeting(
            session,
            actor,
            clock,
            int(data["branch_id"]),
            kind=str(data["kind"]),
            starts_at=datetime.fromisoformat(str(data["starts_at"])),
            place=str(data.get("place") or ""),
            agenda=str(data.get("agenda") or ""),
            tz=settings.tz,
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await state.clear()
    await _scheduled_reply(query, session, i18n, clock, settings, result)


@router.callback_query(StepCb.filter(F.act == "abort"))
async def on_abort(query: CallbackQuery, state: FSMContext) -> None:
    """ "Huỷ thao tác": leave the wizard, nothing saved."""
    await state.clear()
    await _show(query, _("mtg.sched.aborted"), None)


# ---- /reschedule and /cancel ----------------------------------------------------------------


async def _open_for(session: AsyncSession, actor: Actor, clock: Clock) -> list[Meeting]:
    out: list[Meeting] = []
    for branch in await _led_branches(session, actor):
        out += await svc.open_meetings(session, branch.id, clock)
    return out


async def _pick(
    message: Message,
    session: AsyncSession,
    i18n: CatalogI18n,
    settings: Settings,
    meetings: list[Meeting],
    act: str,
) -> None:
    kb = InlineKeyboardBuilder()
    for m in meetings[:PICK_LIMIT]:
        status = _(f"mtg.status.{m.status}")
        text = f"{_when(m.starts_at, i18n, settings)} · {_(f'meetings.kind.{m.kind}')} ({status})"
        kb.button(text=text[:64], callback_data=PickCb(act=act, meeting_id=m.id))
    kb.adjust(1)
    kb.row(_abort_button())
    await message.answer(_("mtg.pick"), reply_markup=kb.as_markup())


@router.message(Command("reschedule"))
async def cmd_reschedule(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Move a meeting: `/reschedule 04/12 20:00 [place]`, or pick it and type the new time."""
    assert message.from_user is not None
    await state.clear()
    actor = await _actor(session, settings, message.from_user.id)
    if not actor.leads_a_branch:
        await message.answer(refused_text(Refused("policy.needs_secretary")))
        return
    meetings = await _open_for(session, actor, clock)
    if not meetings:
        await message.answer(_("mtg.none_open"))
        return
    args = (command.args or "").strip()
    if args:
        try:
            svc.parse_quick_form(args, clock.now(), settings.tz)
        except Refused as err:
            await message.answer(refused_text(err))
            return
    await state.update_data(args=args)
    if len(meetings) == 1:
        await _reschedule_chosen(message, session, settings, clock, i18n, state, meetings[0].id)
        return
    await _pick(message, session, i18n, settings, meetings, "r")


async def _reschedule_chosen(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
    meeting_id: int,
) -> None:
    data = await state.get_data()
    args = str(data.get("args") or "")
    if args:
        await _apply_reschedule(target, session, settings, clock, i18n, state, meeting_id, args)
        return
    await state.set_state(Schedule.RESCHEDULE)
    await state.update_data(meeting_id=meeting_id)
    await _show(target, _("mtg.resched.ask"), _one_row(_abort_button()))


async def _apply_reschedule(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
    meeting_id: int,
    text: str,
) -> None:
    user_id = target.from_user.id if target.from_user else 0
    actor = await _actor(session, settings, user_id)
    try:
        form = svc.parse_quick_form(text, clock.now(), settings.tz)
        change = await svc.reschedule_meeting(
            session,
            actor,
            clock,
            meeting_id,
            starts_at=form.starts_at,
            place=form.place,
            tz=settings.tz,
        )
    except Refused as err:
        await refuse(target, err)
        return
    await _changed_reply(
        target, session, i18n, clock, settings, state, change, _("mtg.resched.done")
    )


@router.message(StateFilter(Schedule.RESCHEDULE), TYPED)
async def on_reschedule_text(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    assert message.text is not None
    data = await state.get_data()
    await _apply_reschedule(
        message, session, settings, clock, i18n, state, int(data["meeting_id"]), message.text
    )


@router.message(Command("cancel"))
async def cmd_cancel(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Cancel a meeting with a reason everyone told before will read: `/cancel <reason>`."""
    assert message.from_user is not None
    await state.clear()
    actor = await _actor(session, settings, message.from_user.id)
    if not actor.leads_a_branch:
        await message.answer(refused_text(Refused("policy.needs_secretary")))
        return
    reason = (command.args or "").strip()
    try:
        if not reason:
            raise svc.MeetingError("meetings.error.reason_required")
        check_length(reason, CANCEL_REASON_MAX, "meetings.error.reason_too_long")
    except Refused as err:
        await message.answer(refused_text(err) + "\n" + _("mtg.cancel.usage"))
        return
    meetings = await _open_for(session, actor, clock)
    if not meetings:
        await message.answer(_("mtg.none_open"))
        return
    await state.update_data(reason=reason)
    if len(meetings) == 1:
        await _apply_cancel(message, session, settings, clock, i18n, state, meetings[0].id)
        return
    await _pick(message, session, i18n, settings, meetings, "c")


async def _apply_cancel(
    target: Message | CallbackQuery,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
    meeting_id: int,
) -> None:
    data = await state.get_data()
    user_id = target.from_user.id if target.from_user else 0
    actor = await _actor(session, settings, user_id)
    try:
        change = await svc.cancel_meeting(
            session, actor, clock, meeting_id, str(data.get("reason") or "")
        )
    except Refused as err:
        await refuse(target, err)
        return
    await _changed_reply(
        target, session, i18n, clock, settings, state, change, _("mtg.cancel.done")
    )


@router.callback_query(PickCb.filter())
async def on_pick(
    query: CallbackQuery,
    callback_data: PickCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """The meeting picked for /reschedule or /cancel: its branch is re-checked first."""
    actor = await _actor(session, settings, query.from_user.id)
    try:
        await managed_meeting(session, actor, callback_data.meeting_id, for_update=False)
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    if callback_data.act == "c":
        if not (await state.get_data()).get("reason"):
            await query.answer(alert_text(svc.MeetingError("meetings.error.reason_required")))
            return
        await _apply_cancel(query, session, settings, clock, i18n, state, callback_data.meeting_id)
        return
    await _reschedule_chosen(query, session, settings, clock, i18n, state, callback_data.meeting_id)
