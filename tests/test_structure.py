"""What the structure step changed under the features: the optional Redis extra says so at
start-up, and the button formats services now build without aiogram are byte for byte what
aiogram built before."""

from __future__ import annotations

import importlib.util

import pytest
from aiogram import html
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.buttons import button, markup
from bot.i18n import quote
from bot.settings import SettingsError, load_settings


def test_redis_url_without_the_redis_extra_stops_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "redis" else found(name, *a)
    )
    with pytest.raises(SettingsError) as err:
        load_settings({"BOT_TOKEN": "123456:TEST", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert err.value.name == "REDIS_URL" and "chibo-bot[redis]" in str(err.value)


def test_stored_keyboards_are_what_aiogram_dumps() -> None:
    rows = [[("Có mặt", "rsvp:42:y"), ("Vắng mặt", "rsvp:42:n")], [("Nhắc lại sau", "ndz:7")]]
    ours = markup([button(text, data) for text, data in row] for row in rows)
    theirs = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data) for text, data in row]
            for row in rows
        ]
    ).model_dump(exclude_none=True)
    assert ours == theirs


def test_quote_escapes_person_text_as_aiogram_did() -> None:
    text = "Nguyễn <Văn> \"A\" & 'B'"
    assert quote(text) == html.quote(text) == "Nguyễn &lt;Văn&gt; \"A\" &amp; 'B'"
