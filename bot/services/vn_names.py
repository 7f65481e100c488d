"""A Telegram account's name as Vietnamese write a name: family name first.

Telegram keeps a first name and a last name and its apps show them in that order ("Giang Phan
Hữu"). A Vietnamese account puts the given name (tên) in the first and the family and middle
names (họ, tên đệm) in the last, so the bot writes the last before the first: "Phan Hữu Giang".
Only for people the member lists do not know; a member is named as the organisation writes them.
"""

from __future__ import annotations


def telegram_full_name(first_name: str | None, last_name: str | None) -> str:
    """'Phan Hữu Giang' from first_name 'Giang' and last_name 'Phan Hữu'."""
    return " ".join(part.strip() for part in (last_name, first_name) if part and part.strip())
