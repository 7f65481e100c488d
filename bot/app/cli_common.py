"""What every command of `python -m bot` shares."""

from __future__ import annotations

import sys

from bot.settings import Settings, SettingsError, load_settings


def settings_or_exit(require_token: bool = True) -> Settings:
    """The settings, or the one-line reason they are wrong on stderr and exit code 2."""
    try:
        return load_settings(require_token=require_token)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
