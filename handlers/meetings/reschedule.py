"""/reschedule and /cancel: pick one of the open meetings of the branches the person leads (no
question when there is one), then apply the change. One flow for both; the service checks the
permission on the picked id, the dates and the reason, and tells everyone told before.

`/reschedule 04/12 20:00 [place]` names the new time; plain /reschedule asks for it.
`/cancel <reason>` needs the reason (members read it). Either ends on a check screen that
says nobody has been told yet: the change is made and announced only on its confirmation.
The way out is "Hủy" (`handlers.meetings.schedule.on_abort`); on the cancel's check screen it
reads "Giữ nguyên", so no button there says "Hủy" but the act itself. A bare /cancel inside
a conversation only leaves it (`handlers.leave`).
"""

from __future__ import annotations

from aiogram import F, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import meetings as svc
from bot.services.access.policy import Actor, Refused, Role
from bot.services.context import ServiceContext
from bot.services.meetings.quickform import EARLIEST, LATEST, odd_hour
from handlers.kit import Chats, Magic, RoleFilter, feature_router, refusal_text, show, t, when
from handlers.meetings import keyboards as kb
from handlers.meetings.callbacks import ChangeCb, PickAct, PickCb
from handlers.meetings.states import Change, ChangeDraft, enter, load
from handlers.meetings.texts import changed_text, summary

router = feature_router(__name__, Chats.PRIVATE)

TYPED = Magic(F.text & ~F.text.startswith("/"))
Target = Message | CallbackQuery
DONE = {PickAct.RESCHEDULE: "mtg.resched.done", PickAct.CANCEL: "mtg.cancel.done"}


@router.message(Command("reschedule"), RoleFilter(Role.LEADER))
async def cmd_reschedule(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """Move a meeting: `/reschedule 04/12 20:00 [place]`, or pick it and type the new time."""
    await state.clear()
    args = (command.args or "").strip()
    if args:
        svc.parse_quick_form(args, ctx.now(), ctx.tz)  # a bad form is refused up front
    draft = ChangeDraft(op=PickAct.RESCHEDULE, text=args)
    await _offer(message, actor, session, ctx, state, draft)


@router.message(Command("cancel"), RoleFilter(Role.LEADER))
async def cmd_cancel(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """Cancel a meeting with a reason everyone told before will read: `/cancel <reason>`."""
    await state.clear()
    reason = (command.args or "").strip()
    problem = svc.cancel_reason_problem(reason)
    if problem is not None:  # the refusal, and how to write the command
        await message.answer(refusal_text(ctx.i18n, problem) + "\n" + t("mtg.cancel.usage"))
        return
    draft = ChangeDraft(op=PickAct.CANCEL, text=reason)
    await _offer(message, actor, session, ctx, state, draft)


async def _offer(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
    draft: ChangeDraft,
) -> None:
    """The one open meeting straight away, else a choice of them."""
    meetings = await svc.led_open_meetings(session, actor, ctx.clock)
    if not meetings:
        await message.answer(t("mtg.none_open"))
    elif len(meetings) == 1:
        await _apply(message, actor, session, ctx, state, draft, meetings[0].id)
    else:
        markup = kb.pick_keyboard(meetings, draft.op, lambda m: when(m.starts_at, ctx.tz))
        await enter(state, Change.PICK, draft, message.answer(t("mtg.pick"), reply_markup=markup))


@router.callback_query(PickCb.filter(), StateFilter(Change.PICK))
async def on_pick(
    query: CallbackQuery,
    callback_data: PickCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """The meeting picked (its branch is re-checked by the service)."""
    draft = await load(state, ChangeDraft)
    if callback_data.act is not draft.op:  # a button of an earlier command's picker
        raise Refused("kit.expired")
    mid = callback_data.meeting_id
    await _apply(query, actor, session, ctx, state, draft, mid)


@router.message(StateFilter(Change.NEW_TIME), TYPED)
async def on_new_time_text(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """`04/12 20:00 [place]`, typed after picking the meeting."""
    assert message.text is not None
    draft = await load(state, ChangeDraft)
    if draft.meeting_id is None:
        raise Refused("kit.expired")
    draft.text = message.text
    await _apply(message, actor, session, ctx, state, draft, draft.meeting_id)


async def _apply(
    target: Target,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
    draft: ChangeDraft,
    meeting_id: int,
) -> None:
    """Show the change for a confirmation (nothing told yet); a reschedule without its new time
    asks for it first."""
    meeting, branch = await svc.managed_meeting(session, actor, meeting_id, for_update=False)
    draft.meeting_id = meeting_id
    details = summary(ctx, meeting, branch)
    if draft.op is PickAct.CANCEL:
        text = t("mtg.change.check_cancel", details=details, reason=html.quote(draft.text))
    elif draft.text:
        parsed = svc.parse_quick_form(draft.text, ctx.now(), ctx.tz)
        place = t("mtg.change.new_place", place=html.quote(parsed.place)) if parsed.place else ""
        text = t(
            "mtg.change.check_resched",
            details=details,
            when=when(parsed.starts_at, ctx.tz),
            place=place,
        )
        at = parsed.starts_at.astimezone(ctx.tz)
        if odd_hour(at.time()):
            text += "\n\n" + t(
                "mtg.sched.odd_hour",
                time=f"{at:%H:%M}",
                earliest=f"{EARLIEST:%H:%M}",
                latest=f"{LATEST:%H:%M}",
            )
    else:
        await enter(
            state, Change.NEW_TIME, draft, show(target, t("mtg.resched.ask"), kb.abort_only())
        )
        return
    markup = kb.change_keyboard(draft.op, meeting_id)
    await enter(state, Change.CONFIRM, draft, show(target, text, markup))


@router.callback_query(ChangeCb.filter(), StateFilter(Change.CONFIRM))
async def on_change_ok(
    query: CallbackQuery,
    callback_data: ChangeCb,
    actor: Actor,
    session: AsyncSession,
    ctx: ServiceContext,
    state: FSMContext,
) -> None:
    """Confirmed: reschedule or cancel the meeting shown, and tell everyone told before."""
    draft = await load(state, ChangeDraft)
    if callback_data.act is not draft.op or callback_data.meeting_id != draft.meeting_id:
        raise Refused("kit.expired")  # a button of an earlier check screen
    mid = callback_data.meeting_id
    if draft.op is PickAct.CANCEL:
        change = await svc.cancel_meeting(session, actor, ctx, mid, draft.text)
    else:
        change = await svc.reschedule_to(session, actor, ctx, mid, draft.text)
    await show(query, changed_text(ctx, change, DONE[draft.op]))
    await state.clear()
