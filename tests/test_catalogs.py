"""The catalogs are complete: same keys in every language, same placeholders, no key missing."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot.i18n import LOCALES_DIR, create_i18n, load_catalog

ROOT = Path(__file__).resolve().parents[1]
KEY_USE = re.compile(
    r"""(?:\b_|\.t|\.tn|gettext|lazy_gettext|__)\(\s*["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)["']"""
)


def _messages(locale: str) -> dict[str, str]:
    catalog = load_catalog(LOCALES_DIR / locale)
    assert catalog is not None
    return {str(m.id): str(m.string) for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_the_same_keys_and_placeholders() -> None:
    vi, en = _messages("vi"), _messages("en")
    assert set(vi) == set(en), f"only vi: {set(vi) - set(en)}, only en: {set(en) - set(vi)}"
    for key in vi:
        assert vi[key].strip(), f"vi {key} is empty"
        assert en[key].strip(), f"en {key} is empty"
        assert _fields(vi[key]) == _fields(en[key]), key


def test_every_key_used_in_code_exists() -> None:
    known = set(_messages("vi"))
    missing = []
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for key in KEY_USE.findall(path.read_text(encoding="utf-8")):
                if key not in known:
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, missing


def test_lookup_in_both_languages() -> None:
    i18n = create_i18n("vi")
    assert i18n.t("error.apology", "vi", ref="AB12").endswith("AB12")
    assert "Sorry" in i18n.t("error.apology", "en", ref="AB12")
    assert i18n.t("language.changed", "vi") != i18n.t("language.changed", "en")


# Keys that show a Telegram account or chat id (what an admin types after /admins, or quotes to
# support): the only ids a person may see.
TELEGRAM_IDS = {
    "whoami.header",
    "whoami.unknown",
    "admins.line",
    "admins.added",
    "admins.removed",
    "admins.already",
    "admins.not_admin",
    "link.admin_locked_chat",
}


def test_class11_no_text_shows_a_database_id() -> None:
    """People tell things apart by date, title or a per-district number (KN-2026-0042); a
    database id stays inside buttons."""
    for locale in ("vi", "en"):
        shown = {
            key: text
            for key, text in _messages(locale).items()
            if "#{" in text or ({"id", "chat_id", "meeting_id", "broadcast_id"} & _fields(text))
        }
        assert set(shown) <= TELEGRAM_IDS, {k: v for k, v in shown.items() if k not in TELEGRAM_IDS}
