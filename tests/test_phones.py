"""Vietnamese phone numbers normalise to one +84 form whatever the writing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.phones import InvalidPhone, normalize_phone, try_normalize_phone

MOBILE_PREFIXES = ["3", "5", "7", "8", "9"]


@st.composite
def mobile_nsn(draw: st.DrawFn) -> str:
    """A 9-digit national significant number of a mobile line (without the leading 0)."""
    return draw(st.sampled_from(MOBILE_PREFIXES)) + draw(
        st.text(alphabet="0123456789", min_size=8, max_size=8)
    )


def _grouped(digits: str, draw: st.DrawFn) -> str:
    """Split digits into random groups joined by random separators, as people type them."""
    out = []
    i = 0
    while i < len(digits):
        size = draw(st.integers(1, 4))
        out.append(digits[i : i + size])
        i += size
    sep = draw(st.sampled_from(["", " ", ".", "-", "  "]))
    return sep.join(out)


@given(nsn=mobile_nsn(), data=st.data())
def test_every_writing_of_a_number_normalises_to_the_same_value(
    nsn: str, data: st.DataObject
) -> None:
    prefix = data.draw(st.sampled_from(["0", "+84", "84", "0084", "+84 ", "(+84) ", "84 "]))
    written = prefix + _grouped(nsn, data.draw)
    padded = data.draw(st.sampled_from(["", " "])) + written + data.draw(st.sampled_from(["", " "]))
    assert normalize_phone(padded) == "+84" + nsn


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0973383683", "+84973383683"),
        ("+84 97 338 3683", "+84973383683"),
        ("84973383683", "+84973383683"),
        ("0084.973.383.683", "+84973383683"),
        ("097-338-3683", "+84973383683"),
        ("0991234567", "+84991234567"),  # 099x: missing from phonenumbers' metadata, still real
        ("973383683", "+84973383683"),  # a spreadsheet dropped the leading zero
        ("024 3825 1234", "+842438251234"),  # Hà Nội landline
        ("+84 (0) 97 338 3683", "+84973383683"),
    ],
)
def test_known_writings(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "  ", "abc", "12345", "0123456789", "+1 415 555 0100", "09733836830000", "+84 1 2345"],
)
def test_invalid_numbers_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)
    assert try_normalize_phone(raw) is None


def test_try_normalize_accepts_none() -> None:
    assert try_normalize_phone(None) is None
    assert try_normalize_phone("0912 345 678") == "+84912345678"
