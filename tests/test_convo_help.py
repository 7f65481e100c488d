"""Issue 21, class 7: each role's /help names every command of that role's menu, and no role's
help shows a raw catalog key."""

from __future__ import annotations

import pytest

from bot.commands import ROLE_COMMANDS
from bot.i18n import create_i18n
from handlers.common import HELP_EXTRA


@pytest.mark.parametrize("locale", ["vi", "en"])
@pytest.mark.parametrize("role", sorted(ROLE_COMMANDS))
def test_class7_help_lists_every_command_of_the_roles_menu(role: str, locale: str) -> None:
    i18n = create_i18n("vi")
    keys = (f"help.{role}", *HELP_EXTRA.get(role, ()))
    texts = [i18n.t(k, locale) for k in keys]
    assert all(text != key for text, key in zip(texts, keys, strict=True)), texts
    section = "\n".join(texts)
    missing = [c for c in ROLE_COMMANDS[role] if f"/{c}" not in section]
    assert missing == []
