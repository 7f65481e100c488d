"""What the command line prints, in the operator's language (DEFAULT_LANGUAGE, or `--lang`).

The bot speaks Vietnamese by default, and so does `python -m bot import-org` or `roster plan`:
every line comes from the `op.*` keys of the catalogs (`operator.po`), with numbers grouped the
way the language writes them ("7.467 dòng", "7,467 rows").
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, TextIO

from bot.i18n import CatalogI18n, create_i18n
from bot.settings import LANGUAGES


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """`--lang vi|en` on a command and on every command below it."""
    parser.add_argument(
        "--lang",
        choices=sorted(LANGUAGES),
        default=argparse.SUPPRESS,
        help="language of the output (default: DEFAULT_LANGUAGE, else vi)",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_lang_option(child)


def cli_locale(chosen: str | None = None) -> str:
    """`--lang`, else DEFAULT_LANGUAGE from the environment, else Vietnamese."""
    for value in (chosen, os.environ.get("DEFAULT_LANGUAGE", "").strip().lower()):
        if value in LANGUAGES:
            return value
    return "vi"


def number(value: int | float, locale: str) -> str:
    """7467 -> '7.467' (vi) / '7,467' (en); 1.5 -> '1,5' / '1.5'."""
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    if locale == "vi":
        text = text.translate(str.maketrans(",.", ".,"))
    return text


def say_for(args: argparse.Namespace, settings: object | None = None) -> Say:
    """The operator's language: `--lang`, else DEFAULT_LANGUAGE (settings or environment)."""
    chosen = getattr(args, "lang", None)
    if chosen is None and settings is not None:
        chosen = getattr(settings, "default_language", None)
    return Say(cli_locale(chosen))


class Say:
    """`say(key, **params)`: a catalog line in the operator's language."""

    def __init__(self, locale: str, i18n: CatalogI18n | None = None) -> None:
        self.locale = locale
        self.i18n = i18n or create_i18n(locale)

    def __call__(self, key: str, /, **params: Any) -> str:
        shown = {
            k: number(v, self.locale)
            if isinstance(v, int | float) and not isinstance(v, bool)
            else v
            for k, v in params.items()
        }
        return self.i18n.t(key, self.locale, **shown)

    def table(self, name: str) -> str:
        """A table's name for people ('đảng viên'); the raw name when the catalog has none."""
        text = self(f"op.table.{name}")
        return name if text == f"op.table.{name}" else text


class StderrProgress:
    """Phase lines always; a live percentage on a terminal for the long steps (a progress bar
    the operator can watch on a 200,000-member import)."""

    def __init__(self, stream: TextIO, say: Say, quiet: bool = False) -> None:
        self.stream = stream
        self.say = say
        self.quiet = quiet
        self.tty = stream.isatty()
        self.started = time.perf_counter()
        self._live = False

    def _clear(self) -> None:
        if self._live:
            self.stream.write("\r\x1b[K")
            self._live = False

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "table" in params:
            params = {**params, "table": self.say.table(str(params["table"]))}
        return params

    def phase(self, key: str, **params: Any) -> None:
        if self.quiet:
            return
        self._clear()
        text = self.say(key, **self._params(params))
        self.stream.write(f"[{time.perf_counter() - self.started:6.1f}s] {text}\n")
        self.stream.flush()

    def step(self, key: str, done: int, total: int, **params: Any) -> None:
        if self.quiet or not self.tty or total <= 0:
            return
        percent = min(100, done * 100 // total)
        bar = "#" * (percent // 5) + "-" * (20 - percent // 5)
        text = self.say(key, **self._params(params))
        self.stream.write(f"\r\x1b[K  {text}: [{bar}] {percent}%")
        self.stream.flush()
        self._live = True
