"""Steps of the roster visitor tests (`test_rosters_visitor.py`, `test_rosters_coverage.py`):
buttons pressed and read back, texts as the catalogs give them, /visit's report conversation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bot.services.vn_calendar import VN_TZ, to_local
from storage.models import Member, TelegramUser
from tests.e2e.rosters_world import Msg, RosterWorld
from tests.helpers import button, buttons


def key(msg: Msg, text: str) -> str:
    """The callback data of the button labelled exactly `text`."""
    (data,) = [b["callback_data"] for b in buttons(msg) if b["text"] == text]
    return str(data)


def labels(msg: Msg) -> list[str]:
    return [b["text"] for b in buttons(msg)]


async def tap(
    w: RosterWorld, chat: int, msg: Msg, data: str, *, strict: bool = True
) -> dict[str, Any]:
    """Press a button and wait for the update to be handled (the answer comes before the edit)."""
    answer = await w.env.press(chat, msg, data, strict=strict)
    await w.env.settle()
    return answer


def shown(w: RosterWorld, msg: Msg) -> Msg:
    """The message as it reads now (screens are edited in place)."""
    chat = msg["chat"]["id"]
    (now,) = [m for m in w.env.world.bot_messages(chat) if m["message_id"] == msg["message_id"]]
    return now


def local_day(at: datetime) -> date:
    return to_local(at, VN_TZ).date()


def said_when(w: RosterWorld, at: datetime) -> str:
    """'Thứ Hai, 04/01/2027 lúc 19:30': how /visit and /coverage give a time."""
    local = to_local(at, VN_TZ)
    weekday = w.t(f"people.weekday.{local.weekday()}")
    return w.t("people.when", weekday=weekday, date=f"{local:%d/%m/%Y}", time=f"{local:%H:%M}")


def refusal(w: RosterWorld, key: str, **params: Any) -> str:
    """The reply a refused command gets."""
    return w.t("people.refused", reason=w.raw(key, **params))


async def stranger(w: RosterWorld, tg: int, **member: Any) -> int:
    """A Telegram account in the bot's database and the sandbox: `member` gives it a member
    row (the first matching one), else it is only what the caller adds."""
    async with w.env.app.session_factory() as s, s.begin():
        if member:
            row = await s.scalar(select(Member).filter_by(**member).order_by(Member.id))
            assert row is not None
            row.telegram_id = tg
        s.add(TelegramUser(id=tg, first_name="Lạ"))
    return w.env.user(tg, "Lạ", "vi", started=True)


# /visit -------------------------------------------------------------------------------------


async def ask_visit(w: RosterWorld, chat: int) -> Msg:
    """/visit's answer (a reminder the scheduler sends meanwhile is not it)."""
    replies = {w.t("roster.visit.none"), w.t("roster.visit.pick")}
    return await w.env.ask(chat, "/visit", predicate=lambda m: m.get("text") in replies)


async def file_report(
    w: RosterWorld,
    chat: int,
    screen: Msg,
    pick: str,
    *,
    quality: str | None,
    proposals: tuple[str, ...] = (),
    strict: bool = True,
) -> tuple[dict[str, Any], Msg]:
    """Press `pick` on `screen`, then the steps: attended with `quality` (None: could not go),
    `proposals` typed one a line (none: "Không có"), the note skipped. The last press's answer,
    and the message it was pressed on."""
    await tap(w, chat, screen, pick, strict=strict)
    asked = shown(w, screen)
    assert asked["text"] == w.t("roster.visit.attended")
    if quality is None:
        await tap(w, chat, asked, button(asked, w.t("roster.visit.no")))
    else:
        await tap(w, chat, asked, button(asked, w.t("roster.visit.yes")))
        asked = shown(w, screen)
        assert asked["text"] == w.t("roster.visit.quality")
        await tap(w, chat, asked, button(asked, w.t(f"roster.visit.quality.{quality}")))
    asked = shown(w, screen)
    assert asked["text"] == w.t("roster.visit.proposals")
    note_text = w.t("roster.visit.note")
    if proposals:
        typed = "\n".join(proposals)
        note = await w.env.ask(chat, typed, predicate=lambda m: m.get("text") == note_text)
    else:
        await tap(w, chat, asked, button(asked, w.t("roster.visit.no_proposals")))
        note = shown(w, screen)
        assert note["text"] == note_text
    answer = await tap(w, chat, note, button(note, w.t("roster.visit.skip_note")))
    return answer, note


async def roster(w: RosterWorld, tg: int, which: str = "roster.pick.next") -> list[Msg]:
    """/roster, then the quarter's button (class 9: periods are offered, not guessed): the
    screens that follow the picker, one per group."""
    picker = await w.env.ask(tg, "/roster")
    assert picker["text"] == w.t("roster.pick")
    quarter = w.quarter(1) if which == "roster.pick.next" else w.quarter(4, 2026)
    await tap(w, tg, picker, key(picker, w.t(which, quarter=quarter)))
    assert shown(w, picker)["text"] == w.t("roster.pick.chosen", quarter=quarter)
    return [m for m in w.env.world.bot_messages(tg) if m["message_id"] > picker["message_id"]]
