"""Telegram-style HTML parse mode: validate markup and compute entities.

Mirrors the rules of tdlib's ``parse_html`` closely enough that markup the sandbox
accepts is accepted by Telegram, with one deliberate deviation: a bare ``&`` that does
not start a valid entity is rejected (tdlib keeps it literally), because the Bot API
docs require escaping it and an unescaped ``&`` usually means a missing ``html.escape``.
Entity offsets/lengths are in UTF-16 code units, like the real API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
}
SUPPORTED_TAGS = set(_SIMPLE) | {"a", "span", "pre", "blockquote", "tg-emoji", "tg-time"}


class HtmlParseError(ValueError):
    """Markup Telegram would refuse; message matches the "can't parse entities" tail."""


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in output
    language: str | None = None
    children: list[Any] = field(default_factory=list)


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _decode_entity(m: re.Match[str]) -> str:
    body = m.group(1)
    if body in _NAMED:
        return _NAMED[body]
    code = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlParseError("Invalid numeric character reference")
    return chr(code)


def _unescape(value: str) -> str:
    return _ENTITY_RE.sub(_decode_entity, value)


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(plain_text, entities)`` or raise HtmlParseError."""
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)

    def byte_off(idx: int) -> int:
        return len(src[:idx].encode("utf-8"))

    while i < n:
        ch = src[i]
        if ch == "&":
            m = _ENTITY_RE.match(src, i)
            if not m:
                raise HtmlParseError(
                    f'Character "&" at byte offset {byte_off(i)} must be escaped as "&amp;"'
                )
            text = _decode_entity(m)
            out.append(text)
            pos16 += _u16(text)
            i = m.end()
            continue
        if ch == ">":
            # tdlib tolerates a bare ">", so do we.
            out.append(ch)
            pos16 += 1
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            pos16 += _u16(ch)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            i += 1
            j = i
            while j < n and src[j] not in " \t\r\n>":
                j += 1
            name = src[i:j].lower()
            while j < n and src[j] in " \t\r\n":
                j += 1
            if j >= n or src[j] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {byte_off(begin)}")
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {byte_off(begin)}")
            top = stack[-1]
            if name != top.tag:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {byte_off(begin)}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            stack.pop()
            _close(top, stack, pos16, entities)
            i = j + 1
            continue
        j = i
        while j < n and src[j] not in " \t\r\n>/":
            j += 1
        name = src[i:j].lower()
        if name not in SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {byte_off(begin)}')
        attrs, j = _parse_attrs(src, j, name, byte_off(begin), byte_off)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise HtmlParseError('Custom emoji entity must contain a "emoji-id" attribute')
        stack.append(_Open(name, attrs, pos16))
        i = j
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _parse_attrs(
    src: str, j: int, tag: str, begin_bytes: int, byte_off: Any
) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    n = len(src)
    while True:
        while j < n and src[j] in " \t\r\n":
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin_bytes}")
        if src[j] == ">":
            return attrs, j + 1
        if src[j] == "/" and j + 1 < n and src[j + 1] == ">":
            raise HtmlParseError(
                f'Unsupported self-closing tag "{tag}" at byte offset {begin_bytes}'
            )
        k = j
        while k < n and src[k] not in " \t\r\n=>":
            k += 1
        attr = src[j:k].lower()
        if not attr:
            raise HtmlParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin_bytes}'
            )
        while k < n and src[k] in " \t\r\n":
            k += 1
        if k >= n or src[k] != "=":
            # Valueless attribute (e.g. <blockquote expandable>).
            attrs[attr] = ""
            j = k
            continue
        k += 1
        while k < n and src[k] in " \t\r\n":
            k += 1
        if k >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin_bytes}")
        if src[k] in "\"'":
            quote = src[k]
            end = src.find(quote, k + 1)
            if end < 0:
                raise HtmlParseError(
                    f'Unclosed end of attribute "{attr}" value at byte offset {byte_off(k)}'
                )
            raw = src[k + 1 : end]
            j = end + 1
        else:
            end = k
            while end < n and src[end] not in " \t\r\n>":
                end += 1
            raw = src[k:end]
            j = end
        for idx, c in enumerate(raw):
            if c == "&" and not _ENTITY_RE.match(raw, idx):
                raise HtmlParseError(
                    f'Character "&" in attribute "{attr}" at byte offset {byte_off(k)} '
                    'must be escaped as "&amp;"'
                )
        attrs[attr] = _unescape(raw)


def _close(top: _Open, stack: list[_Open], end16: int, entities: list[dict[str, Any]]) -> None:
    length = end16 - top.start
    entity: dict[str, Any] | None = None
    tag = top.tag
    if tag == "code" and stack and stack[-1].tag == "pre":
        cls = top.attrs.get("class", "")
        if cls.startswith("language-") and len(cls) > len("language-"):
            stack[-1].language = cls[len("language-") :]
            return  # merged into the enclosing pre entity
    if tag in _SIMPLE:
        entity = {"type": _SIMPLE[tag]}
    elif tag == "span":
        entity = {"type": "spoiler"}
    elif tag == "a":
        href = top.attrs.get("href", "")
        if href.startswith("tg://user?id="):
            uid = href.split("=", 1)[1]
            if uid.isdigit():
                entity = {
                    "type": "text_mention",
                    "user": {"id": int(uid), "is_bot": False, "first_name": ""},
                }
        elif href:
            entity = {"type": "text_link", "url": href}
    elif tag == "pre":
        entity = {"type": "pre"}
        if top.language:
            entity["language"] = top.language
    elif tag == "blockquote":
        expandable = "expandable" in top.attrs
        entity = {"type": "expandable_blockquote" if expandable else "blockquote"}
    elif tag == "tg-emoji":
        entity = {"type": "custom_emoji", "custom_emoji_id": top.attrs["emoji-id"]}
    elif tag == "tg-time":
        unix = top.attrs.get("unix", "")
        if unix.lstrip("-").isdigit():
            entity = {"type": "date_time", "unix_time": int(unix)}
            if top.attrs.get("format"):
                entity["date_time_format"] = top.attrs["format"]
    if entity is not None and length > 0:
        entity["offset"] = top.start
        entity["length"] = length
        entities.append(entity)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return _u16(text)
