"""Vietnamese phone numbers normalised to E.164 (`+84XXXXXXXXX`), so contact matching is exact.

`phonenumbers` does the parsing (separators, `+84`, `0084`, national `0`), but validity is
checked with the Vietnamese numbering plan's *shape* rather than `is_valid_number`: the
library's per-prefix metadata lags behind re-assigned mobile prefixes (it rejects 099x, which
real members use), and an import must not reject a working number because of that.
"""

from __future__ import annotations

import re

import phonenumbers

# National significant numbers: mobile 3/5/7/8/9 + 8 digits; landline 2 + 9 digits.
_NSN = re.compile(r"(?:[35789][0-9]{8}|2[0-9]{9})")
_SEPARATORS = re.compile(r"[\s.\-()/]")
# The usual writings, resolved without the (slow, ~0.2 ms) general parser: a 200,000-member
# import would otherwise spend most of its validation time here.
_FAST = re.compile(r"(?:0|\+84|0084|84)([35789][0-9]{8}|2[0-9]{9})")


class InvalidPhone(ValueError):
    """The text is not a Vietnamese phone number; the message says why, for the operator."""


def normalize_phone(raw: str) -> str:
    """Return `+84…` for any usual writing of a Vietnamese number (09x…, +849x…, 849x…, 0084…)."""
    text = _SEPARATORS.sub("", raw.strip())
    if not text:
        raise InvalidPhone("empty phone number")
    fast = _FAST.fullmatch(text)
    if fast is not None:
        return "+84" + fast[1]
    if text.startswith("00"):
        text = "+" + text[2:]
    elif re.fullmatch(r"84[0-9]{9,10}", text):
        # 84 + a 9- or 10-digit national number; a national number never has 11+ digits.
        text = "+" + text
    if not re.fullmatch(r"\+?[0-9]{8,15}", text):
        raise InvalidPhone(f"not a phone number: {raw!r}")
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"not a phone number: {raw!r}") from None
    if number.country_code != 84:
        raise InvalidPhone(f"not a Vietnamese number (+84): {raw!r}")
    nsn = phonenumbers.national_significant_number(number)
    if not _NSN.fullmatch(nsn):
        raise InvalidPhone(f"not a valid Vietnamese number: {raw!r}")
    return "+84" + nsn


def try_normalize_phone(raw: str | None) -> str | None:
    """`normalize_phone`, or None for empty or invalid input (for matching shared contacts)."""
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        return None
