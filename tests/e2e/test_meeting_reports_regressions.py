"""Regressions of /report, /meetings, /meeting and /ics, each named for the defect it pins,
through the sandbox against the real bot."""

from __future__ import annotations

import logging

import pytest
import time_machine
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey

from handlers.meetings.report_keyboards import RepPick
from handlers.meetings.report_states import Report
from tests import orgdata as o
from tests.e2e.harness import BotEnv
from tests.e2e.test_meeting_reports import BRANCH_GROUP, _schedule, _setup
from tests.helpers import button, local

HUGE = "9" * 23  # beyond any 64-bit column
BIG = "9" * 11  # fits 64 bits, not the INTEGER key of a meeting, branch or unit


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _refusal(env: BotEnv, key: str) -> str:
    return env.app.i18n.t("people.refused", "vi", reason=env.app.i18n.t(key, "vi"))


async def test_isdigit_accepts_digits_int_rejects_meeting_and_report_ids(
    bot_env: BotEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = bot_env
    await _setup(env)
    i18n = env.app.i18n
    for text, usage in (
        ("/meeting ²", "mrep.detail.usage"),
        ("/report ²", "mrep.usage"),
        ("/meeting ٣", "mrep.detail.usage"),
        (f"/meeting {BIG}", "mrep.detail.usage"),
    ):
        answer = await env.ask(o.SEC1, text)
        assert answer["html"] == i18n.t(usage, "vi"), text
    await env.settle()
    assert _errors(caplog) == []


async def test_oversize_ints_in_callback_data_are_answered_without_a_traceback(
    bot_env: BotEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = bot_env
    org = await _setup(env)
    expired = env.app.i18n.t("kit.expired", "vi")
    shown = await env.ask(o.SEC1, "/meetings")
    # Past the 32-bit row ids (and oversized, negative): the buttons' filters refuse them.
    for data in (
        f"mrp:{HUGE}",
        f"msum:committee:{HUGE}:2026:12:0",
        f"mics:{HUGE}",
        "mics:-5",
        f"mrp:{BIG}",
        f"mics:{BIG}",
        f"msum:committee:{BIG}:2026:12:0",
    ):
        answer = await env.press(o.SEC1, shown, data, strict=False)
        assert (answer["show_alert"], answer["text"]) == (True, expired), data
    not_found = _refusal(env, "meetings.error.not_found")
    for data in (
        f"msum:committee:{org.district}:0:1:0",  # year 0: no such month
    ):
        answer = await env.press(o.SEC1, shown, data, strict=False)
        assert (answer["show_alert"], answer["text"]) == (True, not_found), data
    await env.settle()
    assert _errors(caplog) == []


async def test_double_tap_on_a_pager_is_no_message_not_modified_error(
    bot_env: BotEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = bot_env
    await _setup(env)
    with time_machine.travel(local(2026, 12, 28, 9), tick=True):
        summary = await env.ask(o.ADMIN, "/meetings 12/2026")
        data = button(summary, "« 11/2026")
        first = await env.press(o.ADMIN, summary, data)
        second = await env.press(o.ADMIN, summary, data, strict=False)  # same text again
        assert first.get("show_alert") is not True and second.get("show_alert") is not True
        await env.settle()
    assert _errors(caplog) == []


async def test_chat_types_report_buttons_only_work_in_private(bot_env: BotEnv) -> None:
    env = bot_env
    org = await _setup(env)
    with time_machine.travel(local(2026, 12, 1, 10), tick=True) as tm:
        mid = await _schedule(env, o.SEC1, org.b1, local(2026, 12, 5, 19, 30))
        tm.move_to(local(2026, 12, 6, 9))
        in_group = await env.ask(o.SEC1, "/meetings", BRANCH_GROUP)
        answer = await env.press(o.SEC1, in_group, RepPick(mid=mid).pack(), strict=False)
        assert answer["text"] == env.app.i18n.t("kit.expired", "vi")
        await env.settle()
        storage, bot_id = env.app.dp.storage, env.app.bot.id
        for chat in (BRANCH_GROUP, o.SEC1):  # no wizard opened anywhere
            key = StorageKey(bot_id, chat, o.SEC1)
            assert await FSMContext(storage, key).get_state() is None


async def test_report_step_after_a_restart_is_expired_not_silently_dropped(
    bot_env: BotEnv,
) -> None:
    env = bot_env
    org = await _setup(env)
    with time_machine.travel(local(2026, 12, 1, 10), tick=True) as tm:
        await _schedule(env, o.SEC1, org.b1, local(2026, 12, 5, 19, 30))
        tm.move_to(local(2026, 12, 6, 9))
        wizard = await env.ask(o.SEC1, "/report", predicate=lambda m: "tổ chức không" in m["text"])
        fsm = FSMContext(env.app.dp.storage, StorageKey(env.app.bot.id, o.SEC1, o.SEC1))
        # The draft is gone (a restart): a press is told to start again.
        await fsm.set_data({})
        answer = await env.press(o.SEC1, wizard, button(wizard, "✅"))
        assert (answer["show_alert"], answer["text"]) == (True, _refusal(env, "kit.expired"))
        # A draft kept by an older version (positional lists): a typed step is not lost silently.
        await fsm.set_state(Report.PRESENT)
        await fsm.set_data({"mid": 1, "absent": {"5": [None, "", True]}})
        reply = await env.ask(o.SEC1, "3")
        assert reply["html"] == _refusal(env, "kit.expired")
