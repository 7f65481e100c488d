"""getUpdates long polling, offsets, allowed_updates, and webhook delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from aiohttp import web

from sandbox.testing import SandboxHandle


async def test_long_poll_returns_as_soon_as_user_writes(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await sb.wait_for(lambda: sb.state.updates.poll_generation)  # the poll reached the server
    assert not poll.done()
    started = time.monotonic()
    sb.send_text(1, "/start abc")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message.text == "/start abc"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6


async def test_short_poll_with_nothing_returns_empty(bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == []


async def test_offset_confirms_updates(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    ids = [sb.send_text(1, f"m{i}")["update_id"] for i in range(3)]
    first = await bot.get_updates()
    assert [u.update_id for u in first] == ids
    again = await bot.get_updates()  # nothing confirmed yet
    assert [u.update_id for u in again] == ids
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.update_id for u in rest] == [ids[2]]
    assert await bot.get_updates(offset=ids[2] + 1) == []
    assert sb.pending_updates() == []


async def test_limit_and_negative_offset(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    ids = [sb.send_text(1, f"m{i}")["update_id"] for i in range(5)]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[-1:]


async def test_allowed_updates_filter_is_remembered(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    await bot.get_updates(allowed_updates=["callback_query"])
    assert sb.state.allowed_updates == ["callback_query"]
    sb.send_text(1, "ignored")
    assert await bot.get_updates() == []  # filter still applies without the parameter
    await bot.get_updates(allowed_updates=[])  # reset to the default set
    sb.send_text(1, "seen")
    assert [u.message.text for u in await bot.get_updates()] == ["seen"]


async def test_chat_member_updates_are_opt_in(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    sb.add_user(2, "Bình")
    sb.create_group(-100, "Chi bộ 1", {1: "creator"}, bot_status="administrator")
    sb.set_member_status(-100, 2, "member")
    assert await bot.get_updates() == []
    await bot.get_updates(allowed_updates=["message", "chat_member"])
    sb.set_member_status(-100, 2, "kicked")
    (update,) = await bot.get_updates()
    assert update.chat_member.new_chat_member.status == "kicked"


async def test_second_poller_terminates_first(bot: Bot, sb: SandboxHandle) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await sb.wait_for(lambda: sb.state.updates.poll_generation == 1)
    second = asyncio.create_task(bot.get_updates(timeout=30))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 5)
    sb.add_user(1, "An")
    sb.send_text(1, "hi")
    assert len(await asyncio.wait_for(second, 5)) == 1


class WebhookReceiver:
    """Local aiohttp server standing in for the bot's webhook endpoint."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.fail_next = 0
        self.reply: dict[str, Any] | None = None
        self.event = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        self.received.append((body, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        self.event.set()
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    hook = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield hook, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def test_webhook_post_with_secret(bot: Bot, sb: SandboxHandle, receiver) -> None:
    hook, url = receiver
    sb.add_user(1, "An")
    assert await bot.set_webhook(url, secret_token="s3cret-token")
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    sent = sb.send_text(1, "qua webhook")
    await sb.wait_for(lambda: hook.received)
    body, secret = hook.received[0]
    assert secret == "s3cret-token"
    assert body["update_id"] == sent["update_id"]
    assert body["message"]["text"] == "qua webhook"
    await sb.wait_for(lambda: not sb.pending_updates() or None)


async def test_webhook_retries_after_failure(bot: Bot, sb: SandboxHandle, receiver) -> None:
    hook, url = receiver
    hook.fail_next = 2
    sb.add_user(1, "An")
    await bot.set_webhook(url)
    sb.send_text(1, "retry me")
    await sb.wait_for(lambda: hook.received)
    assert [d["status"] for d in sb.webhook_deliveries] == [500, 500, 200]
    info = await bot.get_webhook_info()
    assert "500" in info.last_error_message


async def test_webhook_reply_executes_method(bot: Bot, sb: SandboxHandle, receiver) -> None:
    hook, url = receiver
    hook.reply = {"method": "sendMessage", "chat_id": 1, "text": "from webhook reply"}
    sb.add_user(1, "An")
    await bot.set_webhook(url)
    sb.send_text(1, "hi")
    msg = await sb.wait_for_bot_message(1)
    assert msg["text"] == "from webhook reply"


async def test_delete_webhook_drops_pending(bot: Bot, sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    await bot.set_webhook("http://127.0.0.1:9/unreachable")
    sb.send_text(1, "lost")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == []
    sb.send_text(1, "kept")
    assert [u.message.text for u in await bot.get_updates()] == ["kept"]


async def test_https_required_when_strict(spec) -> None:
    from aiogram.exceptions import TelegramBadRequest

    from sandbox.testing import run_sandbox

    async with run_sandbox(spec=spec, allow_http_webhook=False) as sb, sb.bot() as bot:
        with pytest.raises(TelegramBadRequest, match="HTTPS URL must be provided"):
            await bot.set_webhook("http://example.invalid/hook")
