"""Text/caption/button limits and HTML parse mode, through a real aiogram client."""

from __future__ import annotations

import html

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from sandbox.testing import SandboxHandle


@pytest.fixture
def uid(sb: SandboxHandle) -> int:
    sb.add_user(7, "Lan", started=True)
    return 7


def _kb(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=data)]]
    )


async def test_text_4096_ok_4097_too_long(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    msg = await bot.send_message(uid, "a" * 4096)
    assert len(msg.text) == 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(uid, "a" * 4097)
    assert len(sb.bot_messages(uid)) == 1


async def test_limit_counts_text_after_entity_parsing(bot: Bot, uid: int) -> None:
    msg = await bot.send_message(uid, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(msg.text) == 4096 and msg.entities[0].type == "bold"


async def test_empty_text(bot: Bot, uid: int) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(uid, "<b></b>  ", parse_mode="HTML")


async def test_callback_data_byte_limit(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    await bot.send_message(uid, "ok", reply_markup=_kb("x" * 64))
    await bot.send_message(uid, "ok", reply_markup=_kb("á" * 32))  # 64 bytes, 32 chars
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(uid, "no", reply_markup=_kb("á" * 32 + "x"))  # 65 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(uid, "no", reply_markup=_kb("x" * 65))
    assert [m["text"] for m in sb.bot_messages(uid)] == ["ok", "ok"]


async def test_button_without_action_and_bad_url(bot: Bot, uid: int) -> None:
    plain = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="only text")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(uid, "x", reply_markup=plain)
    bad_url = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="u", url="ftp://x")]]
    )
    with pytest.raises(TelegramBadRequest, match="Wrong HTTP URL"):
        await bot.send_message(uid, "x", reply_markup=bad_url)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("a <foo>x</foo>", 'Unsupported start tag "foo" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tôi & bạn", 'Character "&" at byte offset 5'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<a href="x>y</a>', "Unclosed"),
        ("&nbsp;", 'Character "&"'),
        ("<br>", 'Unsupported start tag "br"'),
    ],
)
async def test_broken_html_is_rejected(bot: Bot, uid: int, markup: str, expected: str) -> None:
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(uid, markup, parse_mode="HTML")
    assert "can't parse entities" in info.value.message
    assert expected in info.value.message


async def test_valid_html_entities_in_utf16(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    source = (
        '😀 <b>Chi bộ</b> <i>họp</i> <a href="https://x.vn/?a=1&amp;b=2">link</a> '
        '<tg-spoiler>s</tg-spoiler> <pre><code class="language-python">x=1</code></pre> '
        "<blockquote expandable>q</blockquote> &lt;3 &#39;"
    )
    msg = await bot.send_message(uid, source, parse_mode="HTML")
    assert msg.text == "😀 Chi bộ họp link s x=1 q <3 '"
    kinds = {e.type: (e.offset, e.length) for e in msg.entities}
    assert kinds["bold"] == (3, 6)  # the emoji is 2 UTF-16 units
    assert kinds["italic"] == (10, 3)
    assert kinds["text_link"] == (14, 4)
    assert kinds["spoiler"] == (19, 1)
    assert kinds["pre"] == (21, 3)
    assert kinds["expandable_blockquote"] == (25, 1)
    link = next(e for e in msg.entities if e.type == "text_link")
    assert link.url == "https://x.vn/?a=1&b=2"
    assert next(e for e in msg.entities if e.type == "pre").language == "python"
    stored = sb.last_bot_message(uid)
    assert stored["html"] == source and stored["text"] == msg.text


async def test_markdown_v2_is_accepted_loosely(bot: Bot, uid: int) -> None:
    msg = await bot.send_message(uid, r"*x* 1\.5", parse_mode="MarkdownV2")
    assert msg.text == "*x* 1.5"


async def test_unknown_parse_mode(bot: Bot, uid: int) -> None:
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(uid, "x", parse_mode="BBCode")


async def test_caption_limit(bot: Bot, uid: int) -> None:
    doc = BufferedInputFile(b"data", filename="a.txt")
    msg = await bot.send_document(uid, doc, caption="c" * 1024)
    assert len(msg.caption) == 1024
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_document(uid, doc, caption="c" * 1025)


async def test_caption_html_checked(bot: Bot, uid: int) -> None:
    doc = BufferedInputFile(b"data", filename="a.txt")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_document(uid, doc, caption="<b>x", parse_mode="HTML")


async def test_reply_keyboard_tracked(bot: Bot, sb: SandboxHandle, uid: int) -> None:
    kb = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Chia sẻ số", request_contact=True)]],
        resize_keyboard=True,
    )
    msg = await bot.send_message(uid, "Số điện thoại?", reply_markup=kb)
    assert msg.reply_markup is None  # Telegram only echoes inline keyboards
    shown = sb.current_keyboard(uid)
    assert shown["keyboard"][0][0]["request_contact"] is True
    assert sb.last_bot_message(uid)["reply_keyboard"] == shown
    await bot.send_message(uid, "Cảm ơn", reply_markup=ReplyKeyboardRemove())
    assert sb.current_keyboard(uid) is None


async def test_escaped_user_text_round_trips(bot: Bot, uid: int) -> None:
    name = "<b>x</b> & y \"q\" 'z'"
    msg = await bot.send_message(uid, f"<b>{html.escape(name)}</b>", parse_mode="HTML")
    assert msg.text == name
