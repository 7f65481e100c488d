"""Everything the sandbox returns must be a valid object of the spec (required fields, types)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import time_machine

from sandbox.spec import Spec
from sandbox.testing import ManualClock, SandboxHandle, run_sandbox


async def _call(http: aiohttp.ClientSession, sb: SandboxHandle, method: str, **params: Any) -> Any:
    async with http.post(sb.api_url(method), json=params) as resp:
        body = await resp.json()
    assert body["ok"], body
    return body["result"]


async def test_results_and_updates_match_spec(spec: Spec, sb: SandboxHandle, http) -> None:
    sb.add_user(1, "An", username="an", last_name="Lê")
    sb.add_user(2, "Bình")
    sb.send_text(1, "/start")
    sb.create_group(-10, "G", {1: "creator", 2: "restricted"})
    sb.add_bot_to_group(-10, 1, status="administrator")
    sb.share_contact(1, "+84123")
    sb.upload_document(1, None, "a.pdf", b"%PDF")
    kb = {"inline_keyboard": [[{"text": "x", "callback_data": "x"}]]}
    msg = await _call(
        http, sb, "sendMessage", chat_id=1, text="<b>x</b>", parse_mode="HTML", reply_markup=kb
    )
    spec.check_object(msg, "Message")
    sb.press_button(1, msg["message_id"], 1, "x")
    sb.block_bot(1)
    for update in sb.updates_log:
        spec.check_object(update, "Update")
    spec.check_object(await _call(http, sb, "getMe"), "User")
    spec.check_object(await _call(http, sb, "getChat", chat_id=-10), "ChatFullInfo")
    spec.check_object(await _call(http, sb, "getChat", chat_id=1), "ChatFullInfo")
    for uid in (1, 2, sb.bot_id):
        spec.check_object(
            await _call(http, sb, "getChatMember", chat_id=-10, user_id=uid), "ChatMember"
        )
    spec.check_object(await _call(http, sb, "getWebhookInfo"), "WebhookInfo")
    file_id = next(
        u["message"]["document"]["file_id"]
        for u in sb.updates_log
        if "document" in u.get("message", {})
    )
    spec.check_object(await _call(http, sb, "getFile", file_id=file_id), "File")


def test_check_object_detects_missing_fields(spec: Spec) -> None:
    with pytest.raises(ValueError, match="chat"):
        spec.check_object({"message_id": 1, "date": 0}, "Message")
    with pytest.raises(ValueError):
        spec.check_object({"status": "administrator", "user": {}}, "ChatMember")


async def test_privacy_mode_filters_group_chatter(sb: SandboxHandle) -> None:
    sb.add_user(1, "An")
    sb.create_group(-10, "G", {1: "creator"})
    sb.add_bot_to_group(-10, 1)
    assert sb.send_text(1, "chuyện phiếm", chat_id=-10)["update_id"] is None
    assert sb.send_text(1, "/help", chat_id=-10)["update_id"] is not None
    assert sb.send_text(1, "hỏi @test123456_bot", chat_id=-10)["update_id"] is not None
    sb.set_member_status(-10, sb.bot_id, "administrator", by_user_id=1)
    assert sb.send_text(1, "admins see all", chat_id=-10)["update_id"] is not None


async def test_privacy_mode_off(spec: Spec) -> None:
    async with run_sandbox(spec=spec, privacy_mode=False) as sb:
        sb.add_user(1, "An")
        sb.create_group(-10, "G", {1: "creator"}, bot_status="member")
        assert sb.send_text(1, "mọi tin", chat_id=-10)["update_id"] is not None
        assert sb.bot_user["can_read_all_group_messages"] is True


async def test_wait_for_bot_message_times_out(sb: SandboxHandle) -> None:
    with pytest.raises(TimeoutError):
        await sb.wait_for_bot_message(1, timeout=0.05)


async def test_wall_clock_travel_does_not_touch_flood(spec: Spec, http) -> None:
    clock = ManualClock()
    async with run_sandbox(spec=spec, flood=True, clock=clock) as sb:
        sb.add_user(1, "An", started=True)
        with time_machine.travel("2030-01-01 08:00:00+07:00", tick=False):
            for _ in range(3):
                await _call(http, sb, "sendMessage", chat_id=1, text="x")
            assert sb.bot_messages(1)[0]["date"] == 1893459600  # dates follow wall clock
        async with http.post(sb.api_url("sendMessage"), json={"chat_id": 1, "text": "x"}) as r:
            assert r.status == 429  # jumping the wall clock did not refill the bucket


async def test_abandoned_long_poll_error_is_unseen(sb: SandboxHandle, http) -> None:
    timeout = aiohttp.ClientTimeout(total=0.2)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(sb.api_url("getUpdates"), json={"timeout": 30}, timeout=timeout):
            pass
    await _call(http, sb, "getUpdates")  # supersedes the abandoned poll -> its 409
    await sb.wait_for(lambda: sb.state.unseen_errors)
    assert sb.errors_log() == []
    assert sb.state.unseen_errors[0]["error_code"] == 409
