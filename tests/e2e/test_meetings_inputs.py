"""What a person (or a forged button) hands the scheduling wizard: bounded, or refused with a
clear answer; and a failed edit of a wizard screen does not move the wizard past it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import time_machine

from bot.inputs import latest_date
from bot.services.vn_calendar import format_date
from handlers.meetings.callbacks import CalAction, CalCb, KindCb
from tests import orgdata as o
from tests.e2e.harness import BotEnv, Msg, running_bot
from tests.helpers import local

TODAY = local(2026, 11, 23, 9)


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[BotEnv]:
    with time_machine.travel(TODAY, tick=True):
        async with running_bot(database_url) as env:
            await o.build_org(env.app.engine)
            env.user(o.SEC1, "Bí", "vi", started=True)
            yield env


def _t(env: BotEnv, key: str, **params: object) -> str:
    return env.app.i18n.t(key, "vi", **params)


async def _calendar(env: BotEnv) -> Msg:
    """/schedule, a thematic meeting: the wizard's calendar."""
    kind = await env.ask(o.SEC1, "/schedule")
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    return await env.world.wait_for_bot_message(
        o.SEC1, lambda m: m["text"] == _t(env, "mtg.sched.date"), after=kind["message_id"] - 1
    )


async def test_oversize_callback_ints_get_an_answer(env: BotEnv) -> None:
    cal = await _calendar(env)
    expired = _t(env, "kit.expired")
    for data in ("mcal:d:2027:1:" + "9" * 30, "mcal:d:2027:1:٣", "rsvp:18446744073709551616:y"):
        answer = await env.press(o.SEC1, cal, data, strict=False)
        assert answer["text"] == expired, data


async def test_no_upper_bound_on_dates_calendar_typed_and_quick_form_refused(
    env: BotEnv,
) -> None:
    last = latest_date(TODAY.date())
    too_far = _t(env, "mtg.error.too_far", latest=format_date(last))
    cal = await _calendar(env)
    beyond = CalCb(act=CalAction.DAY, y=last.year + 1, m=1, d=5).pack()
    pressed = await env.press(o.SEC1, cal, beyond, strict=False)
    assert pressed["show_alert"] is True and too_far in pressed["text"]
    typed = await env.ask(o.SEC1, f"05/01/{last.year + 1}")
    assert too_far in typed["text"]
    quick = await env.ask(o.SEC1, "/schedule 31/12/9999 23:59 X")
    assert too_far in quick["text"]


async def test_server_error_on_wizard_edit_keeps_the_step(env: BotEnv) -> None:
    kind = await env.ask(o.SEC1, "/schedule")
    env.world.add_fault("server_error", method="editMessageText", count=1)
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())  # the calendar is lost
    await env.settle()
    again = await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    assert again.get("text") != _t(env, "kit.expired")
    await env.world.wait_for_bot_message(
        o.SEC1,
        lambda m: m["message_id"] == kind["message_id"] and m["text"] == _t(env, "mtg.sched.date"),
    )
