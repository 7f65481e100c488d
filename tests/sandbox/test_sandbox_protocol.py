"""Protocol-level behaviour: routing, bodies, spec validation, unknown/unimplemented methods."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

import sandbox
from sandbox.spec import SpecError, load_spec
from sandbox.state import Sandbox
from sandbox.testing import SandboxHandle, run_sandbox


async def _post(http: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, dict]:
    async with http.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_get_me_via_aiogram(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "test123456_bot"


async def test_bot_username_option(spec) -> None:
    async with run_sandbox(spec=spec, bot_username="chibo_bot") as sb, sb.bot() as bot:
        assert (await bot.get_me()).username == "chibo_bot"


async def test_method_name_is_case_insensitive_and_get_works(sb, http) -> None:
    async with http.get(sb.api_url("GETME")) as resp:
        body = await resp.json()
    assert resp.status == 200 and body["ok"] and body["result"]["id"] == 123456


async def test_unknown_method_is_400(sb, http) -> None:
    status, body = await _post(http, sb.api_url("sendMessagee"), json={"chat_id": 1})
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: method not found"}


async def test_malformed_token_is_401(sb, http) -> None:
    status, body = await _post(http, f"{sb.base_url}/botnot-a-token/getMe")
    assert status == 401 and body["description"] == "Unauthorized"
    async with http.get(f"{sb.base_url}/bot123:abc def/getMe") as resp:
        assert resp.status == 401


async def test_missing_required_parameter(sb, http) -> None:
    status, body = await _post(http, sb.api_url("sendMessage"), json={"chat_id": 1})
    assert status == 400
    assert body["description"] == 'Bad Request: parameter "text" is required'


async def test_unknown_parameter(sb, http) -> None:
    sb.add_user(1, "An", started=True)
    status, body = await _post(
        http, sb.api_url("sendMessage"), json={"chat_id": 1, "text": "x", "colour": "red"}
    )
    assert status == 400 and body["description"] == 'Bad Request: unknown parameter "colour"'


@pytest.mark.parametrize(
    "params",
    [
        {"chat_id": "1", "text": "x", "disable_notification": "maybe"},
        {"chat_id": "1", "text": "x", "message_thread_id": "abc"},
        {"chat_id": "1", "text": "x", "reply_markup": "{not json"},
        {"chat_id": "1", "text": "x", "reply_markup": json.dumps({"inline_keyboard": "row"})},
        {"chat_id": "1", "text": "x", "reply_markup": json.dumps({"bogus": []})},
        {
            "chat_id": "1",
            "text": "x",
            "reply_markup": json.dumps({"inline_keyboard": [[{"callback_data": "no text"}]]}),
        },
        {"chat_id": "1", "text": "x", "entities": json.dumps([{"type": "bold", "offset": 0}])},
        {"chat_id": "1", "text": "x", "reply_parameters": json.dumps({"chat_id": 1})},
        {"chat_id": "1", "text": "x", "link_preview_options": "[1]"},
        {"chat_id": "1.5", "text": "x", "message_thread_id": "1.5"},
    ],
)
async def test_wrong_types_are_400(sb, http, params) -> None:
    sb.add_user(1, "An", started=True)
    status, body = await _post(http, sb.api_url("sendMessage"), data=params)
    assert status == 400, body
    assert body["description"].startswith("Bad Request: wrong parameter")
    assert sb.bot_messages(1) == []


async def test_json_body_with_native_types(sb, http) -> None:
    sb.add_user(1, "An", started=True)
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    status, body = await _post(
        http,
        sb.api_url("sendMessage"),
        json={"chat_id": 1, "text": "hi", "reply_markup": markup, "disable_notification": True},
    )
    assert status == 200 and body["result"]["reply_markup"] == markup


async def test_form_urlencoded_body(sb, http) -> None:
    sb.add_user(1, "An", started=True)
    status, body = await _post(
        http,
        sb.api_url("sendMessage"),
        data={"chat_id": "1", "text": "form", "protect_content": "true"},
    )
    assert status == 200 and body["result"]["text"] == "form"
    assert body["result"]["has_protected_content"] is True


async def test_multipart_body_with_attach_and_direct_field(sb, http) -> None:
    sb.add_user(1, "An", started=True)
    form = aiohttp.FormData()
    form.add_field("chat_id", "1")
    form.add_field("document", "attach://f1")
    form.add_field("caption", "bao cao")
    form.add_field("f1", b"hello", filename="r.txt", content_type="text/plain")
    status, body = await _post(http, sb.api_url("sendDocument"), data=form)
    assert status == 200, body
    assert body["result"]["document"]["file_name"] == "r.txt"
    form = aiohttp.FormData()
    form.add_field("chat_id", "1")
    form.add_field("document", b"direct", filename="d.csv", content_type="text/csv")
    status, body = await _post(http, sb.api_url("sendDocument"), data=form)
    assert status == 200, body
    file_id = body["result"]["document"]["file_id"]
    assert sb.file_content(file_id) == b"direct"


async def test_missing_attachment_is_400(sb, http) -> None:
    sb.add_user(1, "An", started=True)
    form = aiohttp.FormData()
    form.add_field("chat_id", "1")
    form.add_field("document", "attach://nope")
    form.add_field("other", b"x", filename="x.txt")
    status, body = await _post(http, sb.api_url("sendDocument"), data=form)
    assert status == 400 and "attachment" in body["description"]


async def test_unimplemented_method_is_400(sb, http) -> None:
    status, body = await _post(http, sb.api_url("sendDice"), json={"chat_id": 1})
    assert status == 400
    assert body["description"] == "Bad Request: method not implemented by sandbox: sendDice"


async def test_legacy_reply_to_message_id_is_mapped(sb, bot) -> None:
    sb.add_user(1, "An")
    upd = sb.send_text(1, "question")
    msg = await bot.send_message(1, "answer", reply_to_message_id=upd["message"]["message_id"])
    assert msg.reply_to_message is not None and msg.reply_to_message.text == "question"
    assert sb.legacy_params[0]["params"] == ["reply_to_message_id"]


async def test_errors_are_logged(sb, bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "x")
    assert sb.errors_log()[-1]["description"] == "Bad Request: chat not found"


def test_spec_missing_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.json")
    monkeypatch.setenv("TELEGRAM_API_SPEC", str(tmp_path / "missing.json"))
    with pytest.raises(SpecError, match="missing.json"):
        load_spec()
    with pytest.raises(SpecError):
        Sandbox()


def test_spec_invalid_raises(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(SpecError, match="not a Bot API spec"):
        load_spec(path)


def test_spec_is_the_sandbox_package_data_with_its_licence(spec) -> None:
    source = Path(spec.source)
    assert source.parent == Path(sandbox.__file__).parent / "spec_data"
    assert "MIT" in (source.parent / "LICENSE").read_text()
    assert spec.method("sendmessage").name == "sendMessage"


async def test_handle_forwards_to_state(sb: SandboxHandle) -> None:
    assert sb.world() is sb.state
    assert sb.add_user(5, "Bình")["first_name"] == "Bình"
    assert 5 in sb.state.users
