"""Text catalogs (gettext `.po` files read through Babel) and the per-update locale.

We use aiogram's own `aiogram.utils.i18n` (it ships with aiogram, is context-var based and needs
no extra dependency) rather than aiogram-i18n. Message ids are symbolic keys (`start.greeting`),
so every sentence the bot says lives in a catalog, in both languages; the `.po` files are compiled
in memory at start-up, so there is no stale `.mo` to forget to rebuild. Each feature keeps its own
`<feature>.po` beside the others; they are merged per locale.
"""

from __future__ import annotations

import gettext
import html
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.settings import LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


class CatalogI18n(I18n):
    """aiogram's I18n, reading `.po` catalogs directly."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        """Merge every `*.po` of a locale (one file per feature) into one translation."""
        translations: dict[str, gettext.GNUTranslations] = {}
        for folder in sorted(self.path.iterdir()):
            found = catalog_translations(folder)
            if found is not None:
                translations[folder.name] = found
        return translations

    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's `gettext` looks the instance up on the base class's context var, while
        # ContextInstanceMixin gives every subclass its own: register on the base.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def t(self, key: str, locale: str | None = None, /, **params: Any) -> str:
        """Translate `key` into `locale` (or the current one) and fill `{placeholders}`."""
        text = self.gettext(key, locale=locale or self.current_locale)
        return text.format(**params) if params else text

    def tn(self, key: str, n: int, locale: str | None = None, /, **params: Any) -> str:
        """Plural form of `key` for count `n`; `{n}` is available in the text."""
        text = self.gettext(key, key, n, locale=locale or self.current_locale)
        return text.format(n=n, **params)


# Translations by folder and the (name, mtime) of its files: see `catalog_translations`.
_compiled: dict[tuple[str, tuple[tuple[str, int], ...]], gettext.GNUTranslations] = {}


def catalog_translations(folder: Path) -> gettext.GNUTranslations | None:
    """One locale folder's merged catalog, parsed once per process.

    Parsing the `.po` files, then the compiled catalog, is most of what building an `I18n`
    costs (about a tenth of a second); a process that builds several apps (the demo, the
    tests, a restart in place) pays it once: translations are only read after they are made,
    so the apps share them. An edited file has a new mtime, so it is read again.
    """
    files = sorted((folder / "LC_MESSAGES").glob("*.po"))
    if not files:
        return None
    key = (str(folder), tuple((p.name, p.stat().st_mtime_ns) for p in files))
    if key not in _compiled:
        merged = load_catalog(folder)
        if merged is None:
            return None
        buffer = io.BytesIO()
        write_mo(buffer, merged)
        buffer.seek(0)
        _compiled[key] = gettext.GNUTranslations(buffer)
    return _compiled[key]


def load_catalog(folder: Path) -> Catalog | None:
    """All messages of one locale folder; a key defined twice is a bug and fails loudly."""
    files = sorted((folder / "LC_MESSAGES").glob("*.po"))
    if not files:
        return None
    merged: Catalog | None = None
    origin: dict[str, str] = {}
    for po_path in files:
        with po_path.open("rb") as fp:
            catalog = read_po(fp, locale=folder.name)
        if merged is None:
            merged = catalog
            origin = {str(m.id): po_path.name for m in catalog if m.id}
            continue
        for message in catalog:
            if not message.id:
                continue
            key = str(message.id)
            if key in origin:
                raise ValueError(f"{folder.name}: key {key!r} in {po_path.name} and {origin[key]}")
            origin[key] = po_path.name
            merged[message.id] = message
    return merged


def create_i18n(default_locale: str = "vi") -> CatalogI18n:
    return CatalogI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def quote(value: str) -> str:
    """Person-written text made safe inside the HTML parse mode (as `aiogram.html.quote`)."""
    return html.escape(value, quote=False)


def pick_locale(chosen: str | None, telegram_language: str | None, default: str) -> str:
    """The person's choice wins, then Telegram's app language if we speak it, then the default."""
    if chosen in LANGUAGES:
        return chosen
    if telegram_language:
        short = telegram_language.split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return default


class LocaleMiddleware(I18nMiddleware):
    """Resolves the locale from the stored preference loaded by the user middleware."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        db_user = data.get("db_user")
        tg_user: User | None = data.get("event_from_user")
        locale = pick_locale(
            getattr(db_user, "language", None),
            tg_user.language_code if tg_user else None,
            self.i18n.default_locale,
        )
        # Error handlers run after this middleware's context has closed: they read it here.
        data["locale"] = locale
        return locale
