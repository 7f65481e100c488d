"""Có mặt / Vắng mặt: the buttons on the group announcement and on private reminders.

The tap is answered at once (the count in the group is edited later, coalesced, by the
`meetings.live_counts` job). An absence asks for the reason in private: one tap from a short
list, or typed text. A member the bot cannot write to yet is told once, in the branch's group,
to open a private chat with it (the service queues that).
"""

from __future__ import annotations

import contextlib

from aiogram import Bot, F, html
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meetings as svc
from bot.services.context import ServiceContext
from bot.services.meetings.common import ABSENCE_TEXT_MAX
from bot.services.vn_names import telegram_full_name
from handlers.kit import PRIVATE, ChatIs, Chats, Magic, feature_router, locale, show, t
from handlers.meetings.callbacks import ReasonCb, RsvpCb, RsvpChoice
from handlers.meetings.keyboards import reason_keyboard
from handlers.meetings.states import Absence, AbsenceDraft, enter, load

router = feature_router(__name__, Chats.ANY)

ANSWERED = {RsvpChoice.YES: "mtg.rsvp.yes", RsvpChoice.NO: "mtg.rsvp.no"}


def _private_state(state: FSMContext, bot: Bot, user_id: int) -> FSMContext:
    """The person's private-chat conversation, whichever chat the tap came from."""
    key = StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id)
    return FSMContext(storage=state.storage, key=key)


@router.callback_query(RsvpCb.filter())
async def on_rsvp(
    query: CallbackQuery,
    callback_data: RsvpCb,
    session: AsyncSession,
    ctx: ServiceContext,
    bot: Bot,
    state: FSMContext,
) -> None:
    """Record the answer (members of the branch only, before the meeting) and answer the tap."""
    user = query.from_user
    private = query.message is not None and query.message.chat.type == PRIVATE
    via = svc.RsvpVia.PRIVATE if private else svc.RsvpVia.GROUP
    choice = callback_data.a
    result = await svc.record_rsvp(
        session, ctx.clock, callback_data.meeting_id, user.id, choice.answer, via=via
    )
    await query.answer(t(ANSWERED[choice]))
    if private and isinstance(query.message, Message):
        await _show_answer(query.message, ctx.i18n, choice)
    if not result.needs_reason:
        return
    # Ask the reason in private; the tap itself is already answered and recorded.
    pstate = _private_state(state, bot, user.id)
    question = bot.send_message(
        user.id, t("mtg.rsvp.ask_reason"), reply_markup=reason_keyboard(result.meeting_id)
    )
    try:
        await enter(pstate, Absence.REASON, AbsenceDraft(meeting_id=result.meeting_id), question)
    except (TelegramForbiddenError, TelegramBadRequest):
        if not private:
            me = await bot.me()
            url = f"https://t.me/{me.username}?start=mtg"
            name = telegram_full_name(user.first_name, user.last_name)
            await svc.private_chat_hint(session, ctx, result.meeting_id, user.id, name, url)
        return


async def _show_answer(message: Message, i18n: CatalogI18n, choice: RsvpChoice) -> None:
    """A private reminder answered: it says the answer now (its buttons stay, to change it),
    so it never reads as still unanswered (the same text the live editor gives it after an
    answer in the group)."""
    text = svc.answered_text(i18n, locale(), message.html_text or "", choice.answer)
    if text != message.html_text:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(text, reply_markup=message.reply_markup)


@router.callback_query(ReasonCb.filter(F.code == svc.AbsenceReason.OTHER), ChatIs(PRIVATE))
async def on_other_reason(query: CallbackQuery, callback_data: ReasonCb, state: FSMContext) -> None:
    """ "Other": a few typed words."""
    draft = AbsenceDraft(meeting_id=callback_data.meeting_id)
    await enter(state, Absence.REASON, draft, show(query, t("mtg.rsvp.type_reason")))


@router.callback_query(ReasonCb.filter(), ChatIs(PRIVATE))
async def on_reason(
    query: CallbackQuery,
    callback_data: ReasonCb,
    session: AsyncSession,
    clock: Clock,
    state: FSMContext,
) -> None:
    """One tap from the short list."""
    code = callback_data.code
    await svc.set_absence_reason(session, clock, callback_data.meeting_id, query.from_user.id, code)
    await show(query, t("mtg.rsvp.reason_saved", reason=t(f"meetings.reason.{code.value}")))
    await state.clear()


@router.message(
    StateFilter(Absence.REASON), ChatIs(PRIVATE), Magic(F.text & ~F.text.startswith("/"))
)
async def on_reason_text(
    message: Message, session: AsyncSession, clock: Clock, state: FSMContext
) -> None:
    """A typed reason (commands are left to their own handlers)."""
    assert message.from_user is not None and message.text is not None
    draft = await load(state, AbsenceDraft)
    # Too long: refused with the question still open, to type a shorter one. Any other refusal
    # (the meeting started, was cancelled) ends the question.
    reason = svc.check_length(message.text, ABSENCE_TEXT_MAX, "meetings.error.reason_too_long")
    await state.clear()
    await svc.set_absence_reason(
        session, clock, draft.meeting_id, message.from_user.id, svc.AbsenceReason.OTHER, reason
    )
    await message.answer(t("mtg.rsvp.reason_saved", reason=html.quote(message.text)))
