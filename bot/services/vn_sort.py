"""Vietnamese alphabetical order, for every list people read (members, branches, units, groups).

Neither SQLite's binary order nor a code-point sort in Python is Vietnamese: both put "Đ" after
"Z" ("Đảng bộ xã Đồng Tháp" last), "Thượng Mỗ" before "Thọ An" and "113" before "33". PyICU would
do it, but it is a heavy native dependency for one key function, so this is a small pure one:

- letters in the Vietnamese alphabet's order: a ă â b c d đ e ê (f) g h i (j) k l m n o ô ơ p q r
  s t u ư v (w) x y (z); the letters Vietnamese does not use keep their Latin places;
- tones only after letters: words equal without tones are ordered by their tones, letter by
  letter, in dictionary order (none, huyền, hỏi, ngã, sắc, nặng: a à ả ã á ạ);
- a run of digits is a number ("Thôn 2" before "Thôn 10", "33" before "113");
- case and punctuation only break ties; a space separates words ("Thọ An" before "Thọan").

`vn_key(text)` is the key; `vn_sorted(items, key=...)` sorts by it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: i for i, letter in enumerate(_ALPHABET)}
# The marks that make a letter of its own: breve (ă), circumflex (â ê ô), horn (ơ ư).
_SHAPES = frozenset("\u0306\u0302\u031b")
# Tone marks in dictionary order: none, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}

# Primary elements are (class, value): a word break sorts before a number, a number before
# any letter, so "Thôn 2" < "Thôn 10" < "Thôn A" and "Thọ An" < "Thọan".
_BREAK, _NUMBER, _LETTER = 0, 1, 2


def _letter(char: str) -> tuple[str, int]:
    """A character as (its letter of the Vietnamese alphabet, lowercase, its tone)."""
    decomposed = unicodedata.normalize("NFD", char.lower())
    base, marks = decomposed[0], decomposed[1:]
    tone = 0
    shaped = base
    for mark in marks:
        if mark in _TONES:
            tone = _TONES[mark]
        elif mark in _SHAPES:
            shaped += mark
    return unicodedata.normalize("NFC", shaped), tone


def vn_key(text: str | None) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], str]:
    """The sort key of `text` in Vietnamese alphabetical order (see the module's docstring)."""
    primary: list[tuple[int, int]] = []
    tones: list[int] = []
    raw = unicodedata.normalize("NFC", (text or "").strip())
    digits = ""
    for char in raw + "\0":
        if "0" <= char <= "9":  # ASCII digits only (bot.inputs' rule)
            digits += char
            continue
        if digits:
            primary.append((_NUMBER, int(digits)))
            digits = ""
        if char == "\0":
            break
        if char.isalpha():
            letter, tone = _letter(char)
            rank = _RANK.get(letter)
            primary.append((_LETTER, rank if rank is not None else len(_RANK) + ord(letter)))
            tones.append(tone)
        elif primary and primary[-1] != (_BREAK, 0):
            primary.append((_BREAK, 0))  # any run of spaces or punctuation: one word break
    while primary and primary[-1] == (_BREAK, 0):
        primary.pop()
    return tuple(primary), tuple(tones), raw


def vn_sorted(items: Iterable[T], key: Callable[[T], str | None] | None = None) -> list[T]:
    """`items` in Vietnamese alphabetical order of `key(item)` (the item itself by default)."""
    if key is None:
        return sorted(items, key=lambda item: vn_key(str(item)))
    get = key
    return sorted(items, key=lambda item: vn_key(get(item)))
