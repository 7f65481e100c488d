"""Typed, bounded fields for `CallbackData` classes.

Callback data comes back from anyone's client and can be forged: an id field that is a bare
`int` accepts 23 digits (and then overflows the database driver) or '-5'. These annotated types
(defined in `bot.inputs`, so services that build buttons use the same ones) parse with
`bot.inputs.parse_int`, so a malformed or oversized field makes the filter fail and the press is
answered as expired (`handlers.kit.answers`), never a traceback.
"""

from __future__ import annotations

from bot.inputs import RowId as Id
from bot.inputs import SmallInt as Small
from bot.inputs import TelegramChatId as ChatId
from bot.inputs import TelegramId as TgId

__all__ = ["ChatId", "Id", "Small", "TgId"]
