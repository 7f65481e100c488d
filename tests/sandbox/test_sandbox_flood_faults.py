"""Flood limits (429 + retry_after + violation log) and fault injection."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from sandbox.testing import ManualClock, SandboxHandle, run_sandbox


@pytest.fixture
async def clocked(spec):
    clock = ManualClock()
    async with run_sandbox(spec=spec, flood=True, clock=clock) as sb, sb.bot() as bot:
        sb.add_user(1, "An", started=True)
        sb.add_user(2, "Bình", started=True)
        yield sb, bot, clock


async def test_per_chat_burst_then_429(clocked) -> None:
    sb, bot, clock = clocked
    for i in range(3):  # burst of 3 allowed
        await bot.send_message(1, f"m{i}")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(1, "too fast")
    assert info.value.retry_after == 1
    assert sb.rate_limit_log()["issued"][0]["scope"] == "chat"
    await bot.send_message(2, "other chat is fine")
    # Ignoring retry_after is recorded as a violation.
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(1, "ignoring")
    assert len(sb.violations()) == 1 and sb.violations()[0]["chat_id"] == 1
    clock.advance(1.0)
    await bot.send_message(1, "after waiting")
    assert len(sb.violations()) == 1
    assert len(sb.bot_messages(1)) == 4


async def test_global_limit(clocked) -> None:
    sb, bot, clock = clocked
    sb.set_flood(global_per_sec=5, per_chat_burst=100, per_chat_per_sec=100)
    for uid in range(100, 105):
        sb.add_user(uid, "u", started=True)
        await bot.send_message(uid, "x")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(1, "sixth")
    assert sb.rate_limit_log()["issued"][-1]["scope"] == "global"
    clock.advance(1.0)
    await bot.send_message(1, "ok again")


async def test_group_per_minute_limit(clocked) -> None:
    sb, bot, clock = clocked
    sb.set_flood(per_group_per_min=3, per_chat_burst=100, per_chat_per_sec=100)
    sb.create_group(-5, "G", {1: "creator"}, bot_status="member")
    for _ in range(3):
        await bot.send_message(-5, "x")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(-5, "x")
    assert info.value.retry_after == 60
    clock.advance(60)
    await bot.send_message(-5, "x")


async def test_flood_off_by_default(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An", started=True)
    for i in range(10):
        await bot.send_message(1, str(i))
    assert sb.rate_limit_log() == {"issued": [], "violations": []}


async def test_raw_429_shape(sb: SandboxHandle, http: aiohttp.ClientSession) -> None:
    sb.add_user(1, "An", started=True)
    sb.add_fault("retry_after", method="sendMessage", count=1, retry_after=7)
    async with http.post(sb.api_url("sendMessage"), json={"chat_id": 1, "text": "x"}) as resp:
        body = await resp.json()
    assert resp.status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


async def test_server_error_next_n(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An", started=True)
    sb.add_fault("server_error", count=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(1, "x")
    await bot.send_message(1, "third works")
    assert [m["text"] for m in sb.bot_messages(1)] == ["third works"]
    await bot.get_me()  # not a sending method: never affected


async def test_bad_gateway_is_html(sb: SandboxHandle, http: aiohttp.ClientSession) -> None:
    sb.add_fault("bad_gateway", method="*", count=1)
    async with http.post(sb.api_url("getMe")) as resp:
        text = await resp.text()
        assert resp.status == 502 and resp.content_type == "text/html"
    assert "502 Bad Gateway" in text


async def test_blocked_and_kicked_faults(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An", started=True)
    sb.create_group(-7, "G", {1: "creator"}, bot_status="member")
    sb.add_fault("blocked", chat_id=1)
    sb.add_fault("kicked", chat_id=-7)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(1, "x")
    with pytest.raises(TelegramForbiddenError, match="kicked"):
        await bot.send_message(-7, "x")
    sb.clear_faults()
    await bot.send_message(1, "x")


async def test_probability_is_seeded(spec) -> None:
    outcomes = []
    for _ in range(2):
        async with run_sandbox(spec=spec, seed=42) as sb, sb.bot() as bot:
            sb.add_user(1, "An", started=True)
            sb.add_fault("server_error", probability=0.5)
            run = []
            for _ in range(12):
                try:
                    await bot.send_message(1, "x")
                    run.append(True)
                except TelegramServerError:
                    run.append(False)
            outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert True in outcomes[0] and False in outcomes[0]


@pytest.mark.parametrize("deliver", [True, False])
async def test_timeout_delivered_or_not(sb: SandboxHandle, deliver: bool) -> None:
    sb.add_user(1, "An", started=True)
    sb.add_fault("timeout", count=1, delay=30, deliver=deliver)
    async with sb.bot(timeout=0.3) as bot:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(1, "maybe")
        texts = [m["text"] for m in sb.bot_messages(1)]
        assert texts == (["maybe"] if deliver else [])
        await bot.send_message(1, "next")  # the fault fired once only
    assert sb.bot_messages(1)[-1]["text"] == "next"


async def test_validation_happens_before_faults(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_fault("server_error", method="*")
    with pytest.raises(TelegramBadRequest, match="method not found"):
        await bot.session.make_request(bot, _Unknown())
    assert sb.faults.faults[0].fired == 0


class _Unknown:
    """Minimal TelegramMethod stand-in for an unknown method name."""

    __api_method__ = "noSuchMethod"
    __returning__ = bool

    def model_dump(self, **_: object) -> dict:
        return {}


async def test_unknown_fault_kind(sb: SandboxHandle) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sb.add_fault("meteor")
    await asyncio.sleep(0)
