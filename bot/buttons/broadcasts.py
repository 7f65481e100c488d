"""The broadcast buttons' callback data: one definition for the messages that carry them
(built by the services) and the handlers that take the press. Ids are bounded; actions enums.

A press carries no authority: the services check who presses, every time. The Đã nhận button
carries only the broadcast; the chat comes from the pressed message itself, so a button
copied or forged into another chat names a chat that is not a recipient.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.inputs import RowId as Id


class AckCb(CallbackData, prefix="bca"):
    """Đã nhận, under the broadcast in each recipient chat (and under its reminder)."""

    broadcast_id: Id


class ProgressAct(enum.Enum):
    STOP = "s"
    RETRY = "r"
    REFRESH = "f"


class ProgressCb(CallbackData, prefix="bcp"):
    """The sender's progress message: Dừng, Gửi lại (the failed ones), Làm mới."""

    broadcast_id: Id
    a: ProgressAct
