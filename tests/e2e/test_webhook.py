"""Webhook mode: the sandbox POSTs updates with the secret header; the bot answers."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import ClientSession

from bot.app import create_app, run_webhook
from sandbox.testing import run_sandbox
from tests.e2e.harness import TOKEN, make_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_round_trip(database_url: str) -> None:
    port = _free_port()
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        settings = make_settings(
            database_url,
            sb.base_url,
            MODE="webhook",
            WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
            WEBHOOK_SECRET="hook_secret_1",
            WEB_PORT=str(port),
        )
        app = create_app(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(run_webhook(app, stop))
        try:
            await world.wait_for(lambda: world.webhook.get("url") or None)
            assert world.webhook["url"] == f"http://127.0.0.1:{port}/tg/hook"
            assert set(world.webhook.get("allowed_updates") or []) == set(
                app.dp.resolve_used_update_types()
            )
            world.add_user(3001, "Mai", "vi")
            world.send_text(3001, "/help")
            reply = await world.wait_for_bot_message(3001)
            assert "/language" in reply["text"]
            # A request without the secret is refused and handles nothing.
            async with ClientSession() as http:
                resp = await http.post(
                    f"http://127.0.0.1:{port}/tg/hook",
                    json={"update_id": 999, "message": {}},
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                )
                assert resp.status == 401
                health = await http.get(f"http://127.0.0.1:{port}/healthz")
                assert health.status == 200
        finally:
            stop.set()
            await asyncio.wait_for(task, 40)
        assert len(world.bot_messages(3001)) == 1
