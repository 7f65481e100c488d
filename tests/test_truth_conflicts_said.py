"""Truth, class 14, "conflicts are said": every way of marking a busy day (typed `/busy
DD/MM/YYYY`, a tap on the busy calendar) goes through one use case: on the day of one's own
published visit the group's leader is told once and the hand-back is offered; and the
visit-unconfirmed nudge never asks the visitor to confirm a visit on a day they marked busy.
Through `feed_update` on the production dispatcher, at a fixed instant, both backends."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiogram.types import Update

from bot.app import App, create_app
from bot.services.nudges.obligations import Status, Window
from bot.services.nudges.registry import candidates, statuses
from handlers.rosters.callbacks import VisitAct, VisitCb
from handlers.rosters.visits import BusyCb
from sandbox.testing import run_sandbox
from storage.models import RosterVisit, TelegramUser
from storage.models.nudges import NudgePolicy
from tests.e2e.harness import TOKEN, make_settings
from tests.helpers import FakeClock, local
from tests.roster_world import RosterWorld, live_visits, roster_world, sent


@dataclass
class Env:
    app: App
    world: object
    rw: RosterWorld


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        clock = FakeClock(local(2026, 11, 23, 11))  # the roster world's instant
        app = create_app(make_settings(database_url, sb.base_url), clock=clock)
        rw = await roster_world(app.engine)
        for tg in rw.tg.values():
            world.add_user(tg, f"N{tg}", "vi", started=True)
        yield Env(app, world, rw)
        await app.close()


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _t(e: Env, key: str, **params: object) -> str:
    return _plain(e.app.i18n.t(key, "vi", **params))


def _buttons(message: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


async def _visits(e: Env) -> list[RosterVisit]:
    async with e.rw.w.factory() as s:
        return await live_visits(s, e.rw.roster_id)


async def _type(e: Env, who: int, text: str) -> dict:  # type: ignore[type-arg]
    w = e.world
    await e.app.dp.feed_update(e.app.bot, Update.model_validate(w.send_text(who, text)))  # type: ignore[attr-defined]
    return w.bot_messages(who)[-1]  # type: ignore[attr-defined,no-any-return]


async def _tap(e: Env, who: int, message_id: int, data: str) -> str:
    w = e.world
    query_id = w.press_button(who, message_id, who, data, strict=False)  # type: ignore[attr-defined]
    await e.app.dp.feed_update(e.app.bot, Update.model_validate(w.pending[-1]))  # type: ignore[attr-defined]
    answer = w.callback_answer(query_id)  # type: ignore[attr-defined]
    assert answer is not None
    return _plain(str(answer.get("text") or ""))


async def test_class14_typed_busy_on_ones_visit_day_tells_the_leader_and_offers_the_handback(
    env: Env,
) -> None:
    e, rw = env, env.rw
    visit = (await _visits(e))[0]
    code = rw.code_of(visit.visitor_member_id)
    day = visit.starts_at.astimezone(rw.w.ctx.tz).date()
    shown = await _type(e, rw.tg[code], f"/busy {day:%d/%m/%Y}")
    assert _plain(shown["text"]).startswith(_t(e, "roster.busy.has_visit", day=f"{day:%d/%m}"))
    handback = VisitCb(visit_id=visit.id, a=VisitAct.HANDBACK).pack()
    assert handback in [data for _, data in _buttons(shown)]
    [told] = await sent(rw, "M8", f"visit:{visit.id}:busy:")
    lead = e.app.i18n.t("roster.busy.leader_told", "vi", name="\x00", branch="", when="")
    assert (told.text or "").startswith(lead.split("\x00")[0])
    # Typed again, then tapped off and on in the calendar: the leader is told once only,
    # and every way of marking says the conflict and offers the hand-back.
    again = await _type(e, rw.tg[code], f"/busy {day:%d/%m/%Y}")
    assert handback in [data for _, data in _buttons(again)]
    off = BusyCb(y=day.year, m=day.month, d=day.day).pack()
    assert await _tap(e, rw.tg[code], again["message_id"], off) == _t(
        e, "roster.busy.off", day=f"{day:%d/%m}"
    )
    tapped = await _tap(e, rw.tg[code], again["message_id"], off)
    assert tapped == _t(e, "roster.busy.has_visit", day=f"{day:%d/%m}")
    assert len(await sent(rw, "M8", f"visit:{visit.id}:busy:")) == 1
    # A day with no visit: marked, nobody told, nothing offered.
    free = await _type(e, rw.tg[code], f"/busy {day + timedelta(days=20):%d/%m/%Y}")
    assert _plain(free["text"]).startswith(
        _t(e, "roster.busy.on", day=f"{day + timedelta(days=20):%d/%m}")
    )
    handbacks = {VisitCb(visit_id=v.id, a=VisitAct.HANDBACK).pack() for v in await _visits(e)}
    assert not handbacks & {d for _, d in _buttons(free)}
    assert len(await sent(rw, "M8", ":busy:")) == 1


async def test_class14_an_unreachable_leader_is_never_said_to_be_told(
    env: Env,
) -> None:
    """The screen never says "the leader has been told" when the bot could not tell them."""
    e, rw = env, env.rw
    visit = (await _visits(e))[0]
    code = rw.code_of(visit.visitor_member_id)
    day = visit.starts_at.astimezone(rw.w.ctx.tz).date()
    async with rw.w.factory() as s, s.begin():
        leader = await s.get(TelegramUser, rw.tg["M8"])
        assert leader is not None
        leader.reachable = False  # the leader blocked the bot
    shown = await _type(e, rw.tg[code], f"/busy {day:%d/%m/%Y}")
    assert _plain(shown["text"]).startswith(
        _t(e, "roster.busy.has_visit_unreached", day=f"{day:%d/%m}")
    )
    assert await sent(rw, "M8", ":busy:") == []


async def test_class14_no_nudge_asks_to_confirm_a_visit_on_a_day_marked_busy(env: Env) -> None:
    e, rw = env, env.rw
    visits = await _visits(e)
    busy, other = (
        visits[0],
        next(v for v in visits if v.visitor_member_id != visits[0].visitor_member_id),
    )
    tz = rw.w.ctx.tz
    now = rw.w.clock.now() + timedelta(hours=80)  # past the nudge's 72 h from publication
    window = Window(now, timedelta(0), timedelta(days=30), tz)

    async def confirm_keys() -> set[str]:
        async with rw.w.factory() as s:
            found = await candidates(s, NudgePolicy.VISIT_UNCONFIRMED, window)
        return {ob.key for ob in found}

    assert {f"confirm:{busy.id}", f"confirm:{other.id}"} <= await confirm_keys()
    code = rw.code_of(busy.visitor_member_id)
    day = busy.starts_at.astimezone(tz).date()
    await _type(e, rw.tg[code], f"/busy {day:%d/%m/%Y}")
    keys = await confirm_keys()
    assert f"confirm:{busy.id}" not in keys and f"confirm:{other.id}" in keys
    # A nudge already queued for it is withdrawn at the last moment, never escalated.
    async with rw.w.factory() as s:
        found = await statuses(s, [f"confirm:{busy.id}", f"confirm:{other.id}"], now, tz)
    assert found == {f"confirm:{busy.id}": Status.LAPSED, f"confirm:{other.id}": Status.OWED}
