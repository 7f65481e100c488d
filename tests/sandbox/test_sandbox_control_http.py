"""The HTTP control API mirrors the Python one (for a sandbox run as a separate process)."""

from __future__ import annotations

import asyncio
import base64
import sys
from typing import Any

import aiohttp
import pytest
from aiogram import Bot

from sandbox.testing import SandboxHandle


async def _ctl(http: aiohttp.ClientSession, sb: SandboxHandle, op: str, **body: Any) -> Any:
    async with http.post(f"{sb.base_url}/sandbox/{op}", json=body) as resp:
        data = await resp.json()
    assert resp.status == 200, data
    return data["result"]


async def _get(http: aiohttp.ClientSession, sb: SandboxHandle, path: str) -> Any:
    async with http.get(f"{sb.base_url}/sandbox/{path}") as resp:
        data = await resp.json()
    assert resp.status == 200, data
    return data["result"]


async def test_people_over_http(bot: Bot, sb: SandboxHandle, http) -> None:
    user = await _ctl(http, sb, "users", user_id=5, first_name="Hà", language_code="vi")
    assert user == {"id": 5, "is_bot": False, "first_name": "Hà", "language_code": "vi"}
    update = await _ctl(http, sb, "send_text", user_id=5, text="/start")
    assert update["message"]["entities"][0]["type"] == "bot_command"
    waiter = asyncio.create_task(
        _ctl(http, sb, "wait_for_bot_message", chat_id=5, text_contains="Chào", timeout=5)
    )
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]]
    )
    sent = await bot.send_message(5, "Chào Hà", reply_markup=kb)
    assert (await waiter)["message_id"] == sent.message_id
    messages = await _get(http, sb, "chats/5/messages")
    assert [m["text"] for m in messages] == ["/start", "Chào Hà"]
    pressed = await _ctl(
        http,
        sb,
        "press_button",
        user_id=5,
        message_id=sent.message_id,
        chat_id=5,
        callback_data="ok",
    )
    await bot.answer_callback_query(pressed["query_id"], text="xong")
    answer = await _get(http, sb, f"callback_answers/{pressed['query_id']}")
    assert answer["text"] == "xong"
    doc = await _ctl(
        http,
        sb,
        "upload_document",
        user_id=5,
        chat_id=None,
        filename="a.txt",
        content_b64=base64.b64encode(b"abc").decode(),
    )
    assert sb.file_content(doc["message"]["document"]["file_id"]) == b"abc"
    sent_log = await _get(http, sb, "sent_log")
    assert sent_log[0]["method"] == "sendMessage" and sent_log[0]["chat_id"] == 5


async def test_config_over_http(bot: Bot, sb: SandboxHandle, http) -> None:
    sb.add_user(1, "An", started=True)
    fault = await _ctl(http, sb, "faults", kind="server_error", method="sendMessage", count=1)
    assert fault["kind"] == "server_error"
    async with http.delete(f"{sb.base_url}/sandbox/faults") as resp:
        assert resp.status == 200
    await bot.send_message(1, "no fault left")
    flood = await _ctl(http, sb, "flood", enabled=True, per_chat_burst=1)
    assert flood["enabled"] is True
    await bot.send_message(1, "ok")
    from aiogram.exceptions import TelegramRetryAfter

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(1, "too fast")
    log = await _get(http, sb, "rate_limit_log")
    assert log["issued"][0]["retry_after"] >= 1
    await _ctl(http, sb, "reset")
    assert sb.users == {} and sb.flood.config.enabled is False


async def test_control_errors_are_400(sb: SandboxHandle, http) -> None:
    async with http.post(f"{sb.base_url}/sandbox/send_text", json={"user_id": 9, "text": "x"}) as r:
        body = await r.json()
    assert r.status == 400 and "unknown user 9" in body["error"]
    async with http.get(f"{sb.base_url}/sandbox/commands?scope=default&language_code=vi") as r:
        assert (await r.json())["result"] == []


async def test_python_m_sandbox_serves(spec, http, unused_tcp_port: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-u",
        "-m",
        "sandbox",
        "--port",
        str(unused_tcp_port),
        "--bot-username",
        "proc_bot",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        line = b""
        while b"Running on" not in line:  # aiohttp prints it once the socket listens
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line, "sandbox process exited early"
        async with http.get(f"http://127.0.0.1:{unused_tcp_port}/bot123:abc/getMe") as resp:
            body = await resp.json()
        assert body["result"]["username"] == "proc_bot"
    finally:
        proc.terminate()
        await proc.wait()
