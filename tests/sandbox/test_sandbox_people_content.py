"""What a broadcast needs of the sandbox: people sending formatted text and files, and
messages a bot cannot copy."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from sandbox.testing import SandboxHandle

BOLD = [{"type": "bold", "offset": 0, "length": 4}]


@pytest.fixture
def uid(sb: SandboxHandle) -> int:
    sb.add_user(7, "Lan", started=True)
    sb.add_user(8, "Mai", started=True)
    return 7


async def test_formatting_survives_copy(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    text = sb.send_text(uid, "Khẩn: họp chi bộ", entities=BOLD)["message"]
    doc = sb.world().world_state.document_from_bytes(b"%PDF-1.4", "kh.pdf", "application/pdf")
    sent = sb.send_content(uid, {"document": doc, "caption": "Kế hoạch", "caption_entities": BOLD})[
        "message"
    ]
    await bot.copy_message(8, uid, text["message_id"])
    await bot.copy_message(8, uid, sent["message_id"])
    got = sb.bot_messages(8)
    assert got[0]["entities"] == BOLD and got[0]["text"] == "Khẩn: họp chi bộ"
    assert got[1]["caption_entities"] == BOLD
    assert got[1]["document"]["file_id"] == doc["file_id"]  # never re-uploaded


async def test_a_quiz_cannot_be_copied(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    poll = {
        "id": "5",
        "question": "Ai?",
        "options": [{"text": "A", "voter_count": 0}, {"text": "B", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "quiz",
        "allows_multiple_answers": False,
    }
    sent = sb.send_content(uid, {"poll": poll})["message"]
    with pytest.raises(TelegramBadRequest, match="can't be copied"):
        await bot.copy_message(8, uid, sent["message_id"])
