"""DEBUG logging writes no phone number, token or link code (defect: with LOG_LEVEL=DEBUG a
shared contact's number appeared in the log as an SQL parameter)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging
from storage.models import ChatBinding
from tests import orgdata as o
from tests.e2e.access import CODE_RE, GROUP, link_code, org_world
from tests.e2e.harness import TOKEN, BotEnv


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The bot's own logging set-up at DEBUG, into a buffer (pytest's handlers put back after)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    buffer = io.StringIO()
    setup_logging("DEBUG", [TOKEN], stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


async def test_debug_logging_writes_no_phone_numbers(
    bot_env: BotEnv, debug_log: io.StringIO
) -> None:
    env = bot_env
    org = await org_world(env)
    # A person shares their contact (matched to a member by phone), the secretary lists the
    # branch and links a group with a code.
    newcomer = env.user(880, "Mới", "vi")
    env.world.share_contact(newcomer, "0912 345 678")
    await env.world.wait_for_bot_message(newcomer)
    await env.ask(o.SEC1, "/members")
    code = await link_code(env, o.SEC1)
    env.world.create_group(GROUP, "Thôn Một", {o.SEC1: "creator"}, bot_status="member")
    await env.ask(o.SEC1, f"/link {code}", GROUP)
    await env.settle()
    async with env.app.session_factory() as s:
        assert await s.get(ChatBinding, 1) is not None  # the story really ran
    log = debug_log.getvalue()
    assert "update id=" in log  # the bot logged the story
    phones = [o.NEW_PHONE, "+84900000101", "+84900000102", "+84900000103", "+84987654321"]
    flat = re.sub(r"[^\d\n]", "", log)
    for phone in phones:
        national = "0" + _digits(phone)[2:]
        assert _digits(phone) not in flat and national not in flat, phone
    assert TOKEN not in log and not CODE_RE.search(log)
    assert org.b1  # the org the numbers belong to was built
