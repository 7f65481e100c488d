"""Có mặt / Vắng mặt: the buttons on the group announcement and on private reminders.

The tap is answered at once (the count in the group is edited later, coalesced, by the
`meetings.live_counts` job). An absence asks for the reason in private: one tap from a short
list, or typed text. A member the bot cannot write to yet is told once, in the group, to open a
private chat with it.
"""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.services import meetings as svc
from bot.services.meeting_notify import RSVP_PREFIX, Notifier
from bot.services.meetings.rsvp import ABSENCE_CODES
from bot.services.policy import Refused
from bot.settings import Settings
from handlers.people import alert_text, refused_text
from storage.models.meetings import AbsenceReason, RsvpAnswer
from storage.repositories.meetings import MeetingRepository

router = Router(name=__name__)


class RsvpCb(CallbackData, prefix=RSVP_PREFIX):
    meeting_id: int
    a: str  # "y" | "n"


class ReasonCb(CallbackData, prefix="rsvr"):
    meeting_id: int
    code: str


class Absence(StatesGroup):
    REASON = State()


ANSWERS = {"y": RsvpAnswer.YES.value, "n": RsvpAnswer.NO.value}


def reason_keyboard(meeting_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code in ABSENCE_CODES:
        kb.button(
            text=_(f"meetings.reason.{code}"),
            callback_data=ReasonCb(meeting_id=meeting_id, code=code),
        )
    kb.adjust(2)
    return kb.as_markup()


def _private_state(state: FSMContext, bot: Bot, user_id: int) -> FSMContext:
    """The person's private-chat conversation, whichever chat the tap came from."""
    return FSMContext(
        storage=state.storage, key=StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id)
    )


@router.callback_query(RsvpCb.filter())
async def on_rsvp(
    query: CallbackQuery,
    callback_data: RsvpCb,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: CatalogI18n,
    bot: Bot,
    state: FSMContext,
) -> None:
    """Record the answer (members of the branch only, before the meeting) and answer the tap."""
    user = query.from_user
    chat = query.message.chat if query.message is not None else None
    private = chat is not None and chat.type == "private"
    try:
        answer = ANSWERS.get(callback_data.a)
        if answer is None:
            raise svc.MeetingError("meetings.error.bad_answer")
        result = await svc.record_rsvp(
            session,
            clock,
            callback_data.meeting_id,
            user.id,
            answer,
            via="private" if private else "group",
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    key = "mtg.rsvp.yes" if answer == RsvpAnswer.YES.value else "mtg.rsvp.no"
    await query.answer(_(key))
    if not result.needs_reason:
        return
    # Ask the reason in private; the tap itself is already answered and recorded.
    pstate = _private_state(state, bot, user.id)
    try:
        await bot.send_message(
            user.id,
            _("mtg.rsvp.ask_reason"),
            reply_markup=reason_keyboard(result.meeting_id),
        )
    except (TelegramForbiddenError, TelegramBadRequest):
        if chat is not None and not private:
            meeting = await MeetingRepository(session).get(result.meeting_id)
            me = await bot.me()
            if meeting is not None:
                notifier = Notifier(session, i18n, clock, settings.default_language, settings.tz)
                await notifier.private_chat_hint(
                    meeting,
                    chat.id,
                    user.id,
                    user.full_name,
                    f"https://t.me/{me.username}?start=mtg",
                )
        return
    await pstate.set_state(Absence.REASON)
    await pstate.update_data(meeting_id=result.meeting_id)


@router.callback_query(ReasonCb.filter(), F.message.chat.type == "private")
async def on_reason(
    query: CallbackQuery,
    callback_data: ReasonCb,
    session: AsyncSession,
    clock: Clock,
    state: FSMContext,
) -> None:
    """One tap from the short list; "other" asks for a few words."""
    if callback_data.code == AbsenceReason.OTHER.value:
        await state.set_state(Absence.REASON)
        await state.update_data(meeting_id=callback_data.meeting_id)
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(_("mtg.rsvp.type_reason"))
        return
    try:
        await svc.set_absence_reason(
            session, clock, callback_data.meeting_id, query.from_user.id, callback_data.code
        )
    except Refused as err:
        await query.answer(alert_text(err), show_alert=True)
        return
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("mtg.rsvp.reason_saved").format(reason=_(f"meetings.reason.{callback_data.code}"))
        )


@router.message(
    StateFilter(Absence.REASON), F.chat.type == "private", F.text, ~F.text.startswith("/")
)
async def on_reason_text(
    message: Message, session: AsyncSession, clock: Clock, state: FSMContext
) -> None:
    """A typed reason (commands are left to their own handlers)."""
    assert message.from_user is not None and message.text is not None
    data = await state.get_data()
    try:
        await svc.set_absence_reason(
            session,
            clock,
            int(data.get("meeting_id", 0)),
            message.from_user.id,
            AbsenceReason.OTHER.value,
            message.text,
        )
    except Refused as err:
        await message.answer(refused_text(err))
        if err.key != "meetings.error.reason_too_long":
            await state.clear()
        return
    await state.clear()
    await message.answer(_("mtg.rsvp.reason_saved").format(reason=html.quote(message.text)))
