"""The nudge buttons' callback data: one definition for the messages that carry them (built by
the engine) and the handlers that take the press. Ids are bounded; actions enums.

A press carries no authority: the service checks, every time, that the obligation is still
owed and (for a snooze) that the nudge was sent to the person pressing; the feature's own
screen then checks the person may do the thing.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.inputs import RowId as Id
from bot.inputs import TelegramChatId as ChatId
from bot.inputs import TelegramId as BigId


class NudgeAct(enum.Enum):
    SCHEDULE = "s"  # Lên lịch ngay: the meeting's scheduling screen
    REPORT = "r"  # Báo cáo ngay: the meeting report
    VISIT_REPORT = "v"  # Báo cáo ngay: the visit report
    ANSWER = "f"  # Trả lời: the feedback item's card
    ACK = "k"  # Đã nhận: the broadcast, for the chat it went to


class NudgeCb(CallbackData, prefix="ndg"):
    """A nudge's action button (`c`: the recipient chat of a broadcast, else 0)."""

    a: NudgeAct
    id: Id
    c: ChatId = 0


class SnoozeCb(CallbackData, prefix="ndz"):
    """Nhắc lại sau: names the message (its first event), whose obligations it snoozes."""

    b: BigId
