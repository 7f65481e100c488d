"""/reschedule and /cancel: pick one of the open meetings of the branches the person leads (no
question when there is one), then apply the change. One flow for both; the service checks the
permission on the picked id, the dates and the reason, and tells everyone told before.

`/reschedule 04/12 20:00 [place]` applies at once; plain /reschedule asks for the new time.
`/cancel <reason>` needs the reason (members read it). The wizard's own abort button is
"Hủy thao tác" (`handlers.meetings.schedule.on_abort`); /cancel cancels meetings.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meetings as svc
from bot.services.policy import Actor, Refused, Role
from bot.settings import Settings
from handlers.kit import Chats, Magic, RoleFilter, feature_router, refusal_text, show, t
from handlers.meetings import keyboards as kb
from handlers.meetings.callbacks import PickAct, PickCb
from handlers.meetings.states import Change, ChangeDraft, enter, load
from handlers.meetings.texts import changed_text, meeting_ctx, when

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
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Move a meeting: `/reschedule 04/12 20:00 [place]`, or pick it and type the new time."""
    await state.clear()
    args = (command.args or "").strip()
    if args:
        svc.parse_quick_form(args, clock.now(), settings.tz)  # a bad form is refused up front
    draft = ChangeDraft(op=PickAct.RESCHEDULE, text=args)
    await _offer(message, actor, session, settings, clock, i18n, state, draft)


@router.message(Command("cancel"), RoleFilter(Role.LEADER))
async def cmd_cancel(
    message: Message,
    command: CommandObject,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """Cancel a meeting with a reason everyone told before will read: `/cancel <reason>`."""
    await state.clear()
    reason = (command.args or "").strip()
    problem = svc.cancel_reason_problem(reason)
    if problem is not None:  # the refusal, and how to write the command
        await message.answer(refusal_text(i18n, problem) + "\n" + t("mtg.cancel.usage"))
        return
    draft = ChangeDraft(op=PickAct.CANCEL, text=reason)
    await _offer(message, actor, session, settings, clock, i18n, state, draft)


async def _offer(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
    draft: ChangeDraft,
) -> None:
    """The one open meeting straight away, else a choice of them."""
    meetings = await svc.led_open_meetings(session, actor, clock)
    if not meetings:
        await message.answer(t("mtg.none_open"))
    elif len(meetings) == 1:
        await _apply(message, actor, session, settings, clock, i18n, state, draft, meetings[0].id)
    else:
        markup = kb.pick_keyboard(meetings, draft.op, lambda m: when(m.starts_at, settings))
        await enter(state, Change.PICK, draft, message.answer(t("mtg.pick"), reply_markup=markup))


@router.callback_query(PickCb.filter(), StateFilter(Change.PICK))
async def on_pick(
    query: CallbackQuery,
    callback_data: PickCb,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """The meeting picked (its branch is re-checked by the service)."""
    draft = await load(state, ChangeDraft)
    if callback_data.act is not draft.op:  # a button of an earlier command's picker
        raise Refused("kit.expired")
    mid = callback_data.meeting_id
    await _apply(query, actor, session, settings, clock, i18n, state, draft, mid)


@router.message(StateFilter(Change.NEW_TIME), TYPED)
async def on_new_time_text(
    message: Message,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
) -> None:
    """`04/12 20:00 [place]`, typed after picking the meeting."""
    assert message.text is not None
    draft = await load(state, ChangeDraft)
    if draft.meeting_id is None:
        raise Refused("kit.expired")
    draft.text = message.text
    await _apply(message, actor, session, settings, clock, i18n, state, draft, draft.meeting_id)


async def _apply(
    target: Target,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    state: FSMContext,
    draft: ChangeDraft,
    meeting_id: int,
) -> None:
    """Reschedule or cancel the chosen meeting; a reschedule without its new time asks first."""
    ctx = meeting_ctx(settings, clock, i18n)
    if draft.op is PickAct.CANCEL:
        change = await svc.cancel_meeting(session, actor, ctx, meeting_id, draft.text)
    elif draft.text:
        change = await svc.reschedule_to(session, actor, ctx, meeting_id, draft.text)
    else:
        await svc.managed_meeting(session, actor, meeting_id, for_update=False)
        draft.meeting_id = meeting_id
        await enter(
            state, Change.NEW_TIME, draft, show(target, t("mtg.resched.ask"), kb.abort_only())
        )
        return
    await show(target, changed_text(ctx, change, DONE[draft.op]))
    await state.clear()
