"""Typed, bounded fields for `CallbackData` classes.

Callback data comes back from anyone's client and can be forged: an id field that is a bare
`int` accepts 23 digits (and then overflows the database driver) or '-5'. These annotated types
parse with `bot.inputs.parse_int`, so a malformed or oversized field makes the filter fail and
the press is answered as stale (`handlers.kit.answers`), never a traceback.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from bot.inputs import ID_MAX, ROW_ID_MAX, SMALL_MAX, parse_int


def _bounded(lo: int, hi: int, *, signed: bool = False) -> Any:
    def check(value: object) -> int:
        if not isinstance(value, str | int):
            raise ValueError("not a number")
        return parse_int(value, lo=lo, hi=hi, signed=signed)

    return BeforeValidator(check)


# A database row id (INTEGER primary keys): 1 .. 2^31-1.
Id = Annotated[int, _bounded(1, ROW_ID_MAX)]
# A Telegram user id: 1 .. 2^63-1.
TgId = Annotated[int, _bounded(1, ID_MAX)]
# A Telegram chat id (groups are negative).
ChatId = Annotated[int, _bounded(-ID_MAX, ID_MAX, signed=True)]
# Pages, years, months, days, counts: 0 .. 10,000.
Small = Annotated[int, _bounded(0, SMALL_MAX)]
