"""The house style (docs/glossary.md) holds in every Vietnamese catalog text.

The forbidden words are read from the glossary itself, so the document and this test cannot
drift: add a line under «Không dùng» there and this test enforces it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.services.vn_calendar import format_datetime, format_quarter
from bot.services.vn_sort import vn_sorted

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
VI = ROOT / "bot" / "locales" / "vi" / "LC_MESSAGES"
# The program's own name in a command line the operator types ("python -m bot import-org").
COMMAND = re.compile(r"python -m bot\b")


def _section(title: str) -> list[str]:
    lines = GLOSSARY.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def forbidden() -> list[str]:
    """Each «word» that opens a bullet of the glossary's «Không dùng» section."""
    return [m.group(1) for line in _section("Không dùng") if (m := re.match(r"- «(.+?)»", line))]


def _pattern(word: str) -> re.Pattern[str]:
    """The word on its own (not inside a longer word), in any case."""
    head = r"(?<!\w)" if word[0].isalnum() else ""
    tail = r"(?!\w)" if word[-1].isalnum() else ""
    return re.compile(head + re.escape(word) + tail, re.IGNORECASE)


def vi_texts() -> list[tuple[str, str]]:
    """(key, text) of every Vietnamese catalog string, plural forms included."""
    out: list[tuple[str, str]] = []
    for path in sorted(VI.glob("*.po")):
        with path.open("rb") as fp:
            catalog = read_po(fp, locale="vi")
        for message in catalog:
            if not message.id:
                continue  # the header
            key = message.id if isinstance(message.id, str) else message.id[0]
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            out += [(f"{path.name}:{key}", s) for s in strings if s]
    return out


def test_class17_glossary_lists_forbidden_words() -> None:
    words = forbidden()
    assert {"bạn", "bot", "Huỷ", "cuộc họp"} <= set(words)


@pytest.mark.parametrize("word", forbidden())
def test_class14_15_17_glossary_forbidden_word_is_in_no_vietnamese_text(word: str) -> None:
    pattern = _pattern(word)
    found = [
        f"{key}: {text[:80]}"
        for key, text in vi_texts()
        if pattern.search(COMMAND.sub("", text))  # a command to type is not prose
    ]
    assert found == [], f"«{word}» is forbidden by docs/glossary.md"


def test_class17_glossary_formats_are_the_formatters_output() -> None:
    """The examples the glossary gives are exactly what the one formatter of each kind writes."""
    text = GLOSSARY.read_text(encoding="utf-8")
    moment = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # 17:00 in Hà Nội
    assert format_datetime(moment, "vi") == "Thứ Năm, 10/12/2026 lúc 17:00"
    assert format_quarter(2026, 4, "vi") == "quý IV/2026"
    assert format_quarter(2026, 4, "en") == "Q4 2026"
    for example in ("Thứ Năm, 10/12/2026 lúc 17:00", "quý IV/2026"):
        assert f"«{example}»" in text
    assert vn_sorted(["Thôn 10", "Thôn 2"]) == ["Thôn 2", "Thôn 10"]


def test_class14_address_catalogs_call_people_dong_chi() -> None:
    """Class 14 in numbers: "bạn" is gone and "đồng chí" is how people are addressed."""
    texts = [text for _key, text in vi_texts()]
    assert not any(_pattern("bạn").search(t) for t in texts)
    assert sum("đồng chí" in t.lower() for t in texts) > 100
