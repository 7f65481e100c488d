"""Unit tests of the HTML parser, including a property test for escaped text."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.html import HtmlParseError, parse_html, utf16_len


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    plain, entities = parse_html(html.escape(text))
    assert plain == text
    assert entities == []


@given(st.text(min_size=1), st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler"]))
def test_wrapped_text_gets_one_entity_covering_it(text: str, tag: str) -> None:
    plain, entities = parse_html(f"<{tag}>{html.escape(text)}</{tag}>")
    assert plain == text
    assert len(entities) == 1
    assert entities[0]["offset"] == 0 and entities[0]["length"] == utf16_len(text)


def test_nested_entities_sorted_outer_first() -> None:
    plain, entities = parse_html("<b>a<i>b</i></b>")
    assert plain == "ab"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 0, 2),
        ("italic", 1, 1),
    ]


def test_byte_offsets_count_utf8() -> None:
    with pytest.raises(HtmlParseError, match="byte offset 7"):
        parse_html("Việt <x>")  # "ệ" is 3 bytes: V i ệ t space = 7


def test_custom_emoji_requires_id_and_text_mention() -> None:
    with pytest.raises(HtmlParseError):
        parse_html("<tg-emoji>x</tg-emoji>")
    _, entities = parse_html('<tg-emoji emoji-id="5">x</tg-emoji><a href="tg://user?id=42">u</a>')
    assert entities[0]["custom_emoji_id"] == "5"
    assert entities[1]["type"] == "text_mention" and entities[1]["user"]["id"] == 42


def test_bare_ampersand_in_attribute_rejected() -> None:
    with pytest.raises(HtmlParseError, match="attribute"):
        parse_html('<a href="https://x?a=1&b=2">l</a>')
