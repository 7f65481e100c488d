"""Leaving a conversation: typing "Hủy" or a bare /cancel inside any wizard only leaves it.

This router sits before the features, so a bare /cancel in the middle of a wizard never
reaches the meetings' `/cancel <lý do>` (which cancels a meeting) and "Hủy" is never taken
as a wizard's answer. Outside a conversation neither is touched here.
"""

from __future__ import annotations

import unicodedata

from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from handlers.kit import Chats, feature_router, leave, t

router = feature_router(__name__, Chats.PRIVATE)

# The one word that leaves (with and without its tone mark where phones put it).
LEAVE_WORDS = frozenset({"hủy", "huỷ", "huy", "/hủy", "/huỷ"})


class InConversation(Filter):
    """The person is in the middle of a wizard (a conversation state is set)."""

    async def __call__(self, message: Message, state: FSMContext) -> bool:
        return await state.get_state() is not None


class LeaveWord(Filter):
    """The message is the word "Hủy" alone."""

    async def __call__(self, message: Message) -> bool:
        text = unicodedata.normalize("NFC", message.text or "").strip().rstrip(".!").lower()
        return text in LEAVE_WORDS


class BareCancel(Filter):
    """/cancel without a reason (with a reason it cancels a meeting)."""

    async def __call__(self, message: Message, command: CommandObject) -> bool:
        return not (command.args or "").strip()


@router.message(Command("cancel"), BareCancel(), InConversation())
@router.message(LeaveWord(), InConversation())
async def on_leave(message: Message, state: FSMContext) -> None:
    """Leave the conversation: nothing saved, the last screen's buttons taken away."""
    await leave(state, message)
    await message.answer(t("mtg.left"))
