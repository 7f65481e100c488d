"""Role filters on the production dispatcher, through `Dispatcher.feed_update`: who gets the
command and who is told why not (the texts rendered from the catalog)."""

from __future__ import annotations

import html
import re

import pytest

from tests import orgdata as o
from tests.test_fuzz_updates import Env, env, feed

__all__ = ["env"]  # the fixture, shared with the fuzz test


def _refusal(e: Env, key: str) -> str:
    return e.app.i18n.t("people.refused", "vi", reason=e.app.i18n.t(key, "vi"))


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


async def _reply(e: Env, who: int, text: str) -> str:
    await feed(e, e.world.send_text(who, text))
    return _plain(e.world.bot_messages(who)[-1]["text"])


@pytest.mark.parametrize(
    ("who", "command", "key"),
    [
        (o.MEM1, "/schedule", "policy.needs_secretary"),
        (o.MEM1, "/reschedule", "policy.needs_secretary"),
        (o.MEM1, "/admins", "policy.needs_admin"),
        (o.STRANGER, "/admins add 5 T01", "policy.unknown_person"),
        (o.STRANGER, "/schedule", "policy.unknown_person"),
    ],
)
async def test_role_filters_refuse_with_the_policy_reason(
    env: Env, who: int, command: str, key: str
) -> None:
    assert await _reply(env, who, command) == _refusal(env, key)


async def test_a_secretary_gets_the_schedule_wizard(env: Env) -> None:
    shown = await _reply(env, o.SEC1, "/schedule")
    assert shown == _plain(env.app.i18n.t("mtg.sched.kind", "vi", branch="Chi bộ thôn Một"))


async def test_nul_bytes_in_forged_input_are_refused_not_sent_to_the_database(env: Env) -> None:
    """Found by the fuzz test: a NUL byte reached PostgreSQL ("invalid byte sequence")."""
    before = len(env.world.bot_messages(o.MEM1))
    await feed(env, env.world.send_text(o.MEM1, "/branch T01U01B01\x00"))
    assert len(env.world.bot_messages(o.MEM1)) == before  # not handled, nothing sent
    query_id = env.world.press_button(
        o.MEM1, env.anchors[o.MEM1], o.MEM1, "mem:1\x00:0", strict=False
    )
    await feed(env, env.world.pending[-1])
    answer = env.world.callback_answer(query_id)
    assert answer is not None and answer["text"] == env.app.i18n.t("kit.expired", "vi")
