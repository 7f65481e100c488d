"""Regression tests of the access features, each named for the defect it pins."""

from __future__ import annotations

import html
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import select

from bot.services.access import link_guard
from bot.services.org_import import import_org
from handlers.link_codes import LinkCodeCb
from handlers.org import MembersPage
from storage.models import ChatBinding, OutboxEntry
from tests import orgdata as o
from tests.e2e.access import GROUP, link_code, org_world
from tests.e2e.harness import BotEnv
from tests.helpers import DAN_PHUONG, button, buttons

DATASET = DAN_PHUONG
WRONG = [f"ABCD-EF{a}{b}" for a in "GH" for b in "JKMNPQRS"]


class Calls(BaseRequestMiddleware):
    """Counts the Bot API methods the bot calls."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self.methods[type(method).__name__] += 1
        return await make_request(bot, method)


def plain(text: str) -> str:
    """Catalog HTML as the person reads it (the sandbox parses the markup away)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def said(env: BotEnv, key: str, **params: Any) -> str:
    return plain(env.app.i18n.t(key, "vi", **params))


def refused(env: BotEnv, key: str, **params: Any) -> str:
    i18n = env.app.i18n
    return plain(i18n.t("people.refused", "vi", reason=i18n.t(key, "vi", **params)))


def shaped(env: BotEnv, key: str, text: str) -> bool:
    """Whether `text` is the refusal `key` with any value in its placeholders."""
    pattern = re.escape(refused(env, key, until="\0")).replace("\0", ".+")
    return re.fullmatch(pattern, text) is not None


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def _group(env: BotEnv, members: dict[int, str]) -> dict[str, Any]:
    """Branch 1's group with the bot in it; returns the bot's greeting there."""
    env.world.create_group(GROUP, "Chi bộ thôn Một", {o.SEC1: "creator", **members})
    env.world.add_bot_to_group(GROUP, o.SEC1)
    return await env.world.wait_for_bot_message(GROUP)


async def test_callbacks_act_in_the_wrong_chat_type(bot_env: BotEnv) -> None:
    """Forged presses on the bot's group message: no language switch, no member list, no link
    code written into the group; each press answered as expired."""
    env = bot_env
    org = await org_world(env)
    hello = await _group(env, {o.STRANGER: "member", o.SEC3: "member"})
    expired = env.app.i18n.t("kit.expired", "vi")
    presses = [
        (o.STRANGER, "lang:vi"),
        (o.SEC3, MembersPage(branch_id=org.b3, page=0).pack()),
        (o.SEC3, LinkCodeCb(target_type="branch", target_id=org.b3).pack()),
    ]
    for who, data in presses:
        answer = await env.press(who, hello, data, strict=False)
        assert answer["text"] == expired and answer["show_alert"] is True, data
    # /language belongs to the person's private chat: in a group it offers no buttons, only
    # where to use it (issue 21, class 6).
    env.world.send_text(o.STRANGER, "/language", GROUP)
    await env.settle()
    group = env.world.bot_messages(GROUP)
    me = await env.app.bot.me()
    where = env.app.i18n.t("convo.private_only", "vi", command="/language", username=me.username)
    assert [m["text"] for m in group] == [hello["text"], where]
    assert not buttons(group[-1])


async def test_oversize_integers_and_unicode_digits_are_refused_not_raised(
    bot_env: BotEnv, caplog: pytest.LogCaptureFixture
) -> None:
    env = bot_env
    await org_world(env)
    expired = env.app.i18n.t("kit.expired", "vi")
    picker = await env.ask(o.SEC1, "/invite")
    answer = await env.press(o.SEC1, picker, "invm:" + "9" * 23, strict=False)
    assert answer["text"] == expired
    big = await env.ask(o.ADMIN, f"/admins add {'9' * 23} T01")
    assert big["text"] == refused(env, "admins.bad_id")
    # The permission comes first: a secretary learns nothing about the argument.
    assert (await env.ask(o.SEC1, "/admins add ²"))["text"] == refused(env, "policy.needs_admin")
    assert (await env.ask(o.ADMIN, "/admins add ²"))["text"] == refused(env, "admins.bad_id")
    await env.settle()
    assert errors(caplog) == []


async def test_malformed_callback_data_gets_an_answer(bot_env: BotEnv) -> None:
    env = bot_env
    await org_world(env)
    picker = await env.ask(o.SEC1, "/invite")
    answer = await env.press(o.SEC1, picker, "invm:abc", strict=False)
    assert answer["text"] == env.app.i18n.t("kit.expired", "vi")


async def test_help_in_a_group_lists_what_works_in_a_group(bot_env: BotEnv) -> None:
    env = bot_env
    await org_world(env)
    await _group(env, {})
    in_group = await env.ask(o.SEC1, "/help", GROUP)
    assert in_group["text"] == said(env, "help.group")
    assert "/link" in in_group["text"] and "/invite" not in in_group["text"]
    private = await env.ask(o.SEC1, "/help")
    assert "/invite" in private["text"]  # in private, by role as before


async def test_double_tap_on_a_pager_is_no_error(
    bot_env: BotEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """The same "next" pressed twice: the second edit changes nothing and is no error."""
    env = bot_env
    async with env.app.session_factory() as s, s.begin():
        assert (await import_org(s, DATASET)).errors == []
    uid = env.user(7000000783, "Trung", "vi")  # a secretary with a telegram_id in the file
    for command in ("/members", "/invite"):
        screen = await env.ask(uid, command)
        nxt = button(screen, "Sau")
        for _ in range(2):
            answer = await env.press(uid, screen, nxt, strict=False)
            assert answer.get("show_alert") is not True, command
        await env.settle()
    assert errors(caplog) == []


async def test_link_codes_can_be_guessed_without_limit(bot_env: BotEnv) -> None:
    """Wrong codes are slowed, then locked (the right code too) with no getChatMember call;
    the district's admin is told once per lock; after the lock, linking works again."""
    env = bot_env
    org = await org_world(env)
    calls = Calls()
    env.app.bot.session.middleware(calls)
    await _group(env, {})
    code = await link_code(env, o.SEC1)
    start = datetime.now(UTC)
    replies = [(await env.ask(o.SEC1, f"/link {w}", GROUP))["text"] for w in WRONG[:8]]
    unknown = refused(env, "link.code_unknown")
    assert replies[: link_guard.SLOW_AFTER] == [unknown] * link_guard.SLOW_AFTER
    assert all(shaped(env, "link.slow_down", r) for r in replies[link_guard.SLOW_AFTER :])
    gap = link_guard.SLOW_GAP + timedelta(seconds=1)
    with time_machine.travel(start + gap, tick=True):
        assert (await env.ask(o.SEC1, f"/link {WRONG[8]}", GROUP))["text"] == unknown
    with time_machine.travel(start + 2 * gap, tick=True):
        locked = await env.ask(o.SEC1, f"/link {WRONG[9]}", GROUP)
        assert shaped(env, "link.locked", locked["text"])
        for attempt in (code, WRONG[10], code):
            again = await env.ask(o.SEC1, f"/link {attempt}", GROUP)
            assert shaped(env, "link.locked", again["text"]), attempt
        await env.settle()
    assert calls.methods["GetChatMember"] == 0
    async with env.app.session_factory() as s:
        notices = (
            await s.scalars(select(OutboxEntry).where(OutboxEntry.origin_type == "link_attempt"))
        ).all()
        assert await s.scalar(select(ChatBinding).where(ChatBinding.chat_id == GROUP)) is None
    # Once for the chat, once for the person, to the admin of the sender's district (the
    # chat is not bound to anything yet).
    assert [n.chat_id for n in notices] == [o.ADMIN, o.ADMIN]
    with time_machine.travel(start + 2 * gap + link_guard.LOCK + gap, tick=True):
        done = await env.ask(o.SEC1, f"/link {code}", GROUP)
        await env.settle()
    assert done["text"] == said(env, "link.done", target="Chi bộ thôn Một")
    assert calls.methods["GetChatMember"] == 1
    async with env.app.session_factory() as s:
        bound = await s.scalar(select(ChatBinding).where(ChatBinding.chat_id == GROUP))
    assert bound is not None and bound.target_id == org.b1
