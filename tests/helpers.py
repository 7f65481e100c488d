"""Helpers shared by the test modules (one copy of each): clocks, local times, buttons,
waiting for the bot to finish what it has in hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Router

from bot.services.vn_calendar import VN_TZ

# The sample district the tests import: a copy of the dan-phuong files, kept with the tests so a
# clone of the project alone runs them.
DAN_PHUONG = Path(__file__).resolve().parent / "data" / "dan-phuong"

Msg = dict[str, Any]


class FakeClock:
    """A clock the test moves by hand (services and jobs take a `Clock`)."""

    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t

    def move(self, **delta: float) -> None:
        self.t += timedelta(**delta)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A wall-clock time in Asia/Ho_Chi_Minh, as the UTC instant the database stores."""
    return datetime(y, mo, d, h, mi, tzinfo=VN_TZ).astimezone(UTC)


def buttons(msg: Msg) -> list[dict[str, Any]]:
    """Every inline button of a sent message, row by row."""
    return [b for row in msg.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


def button(msg: Msg, starts: str) -> str:
    """The callback data of the button whose text starts with `starts`."""
    for b in buttons(msg):
        if b["text"].startswith(starts):
            return str(b["callback_data"])
    raise AssertionError(f"no button {starts!r} in {[b['text'] for b in buttons(msg)]}")


def walk_routers(router: Router) -> Iterator[Router]:
    """A router and every router below it, in the order updates meet them."""
    yield router
    for sub in router.sub_routers:
        yield from walk_routers(sub)
