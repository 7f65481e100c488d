"""Typed settings read once from the environment (and `.env`).

A bad value raises `SettingsError` naming the variable and the fix, so the CLI can print
one line and exit 2 instead of a traceback deep inside start-up.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.inputs import try_int

TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
LANGUAGES = ("vi", "en")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    bot_token: str = field(repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    telegram_api_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    default_language: str = "vi"
    admin_ids: frozenset[int] = frozenset()
    mode: str = "polling"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    redis_url: str | None = None
    log_level: str = "INFO"
    max_concurrent_updates: int = 64
    # Outbox sender limits (Telegram: ~30 msg/s overall, 1/s per chat, 20/min per group).
    send_global_per_sec: float = 30.0
    send_per_chat_per_sec: float = 1.0
    send_per_group_per_min: float = 20.0
    run_sender: bool = True
    # Trying the bot: its clock starts here (ticking). Only with a Bot API on this machine.
    clock_start: datetime | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def bot_id(self) -> int:
        return int(self.bot_token.split(":", 1)[0])

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        msg = f"must be a whole number between {lo} and {hi}, got {raw!r}"
        raise SettingsError(name, msg) from None
    if not lo <= value <= hi:
        raise SettingsError(name, f"must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a positive number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(name, f"must be a positive number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _env(env, name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, f"must be true or false, got {raw!r}")


def _database_url(env: Mapping[str, str]) -> str:
    url = _env(env, "DATABASE_URL", DEFAULT_DATABASE_URL)
    assert url is not None
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            "DATABASE_URL",
            "is not a database URL; use e.g. sqlite+aiosqlite:///data/bot.db or "
            "postgresql+asyncpg://user@host:5432/dbname",
        ) from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise SettingsError(
            "DATABASE_URL",
            f"driver {parsed.drivername!r} is not supported; use sqlite+aiosqlite:// or "
            "postgresql+asyncpg://",
        )
    if parsed.drivername.startswith("sqlite") and not parsed.database:
        raise SettingsError(
            "DATABASE_URL", "SQLite URL needs a file path, e.g. sqlite+aiosqlite:///data/bot.db"
        )
    return url


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    dotenv_path: str | Path | None = ".env",
    require_token: bool = True,
) -> Settings:
    """Build settings from `env` (default: the process environment over `.env`)."""
    if env is None:
        merged: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ)
        env = merged

    token = _env(env, "BOT_TOKEN")
    if token is None:
        if require_token:
            raise SettingsError(
                "BOT_TOKEN",
                "is not set; get a token from @BotFather (https://t.me/BotFather) and put "
                "BOT_TOKEN=... in .env, or try the bot locally: run `make sandbox` in another "
                "terminal and set BOT_TOKEN=123456:TEST TELEGRAM_API_URL=http://127.0.0.1:8081",
            )
        token = "0:unset"
    elif not TOKEN_RE.match(token):
        raise SettingsError("BOT_TOKEN", "looks malformed; it should look like 123456789:AAE...")

    api_url = _env(env, "TELEGRAM_API_URL")
    if api_url is not None and not re.match(r"^https?://[^\s/]+", api_url):
        raise SettingsError(
            "TELEGRAM_API_URL",
            f"must be an http(s) URL such as http://127.0.0.1:8081, got {api_url!r}",
        )
    if api_url is not None:
        api_url = api_url.rstrip("/")

    tz = _env(env, "TIMEZONE", "Asia/Ho_Chi_Minh")
    assert tz is not None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {tz!r}; use e.g. Asia/Ho_Chi_Minh"
        raise SettingsError("TIMEZONE", msg) from None

    lang = (_env(env, "DEFAULT_LANGUAGE", "vi") or "vi").lower()
    if lang not in LANGUAGES:
        raise SettingsError(
            "DEFAULT_LANGUAGE", f"must be one of {', '.join(LANGUAGES)}, got {lang!r}"
        )

    admin_raw = _env(env, "ADMIN_IDS", "") or ""
    admin_ids: set[int] = set()
    for part in admin_raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        admin_id = try_int(part, lo=1)
        if admin_id is None:
            raise SettingsError(
                "ADMIN_IDS", f"must be comma-separated Telegram user ids (numbers), got {part!r}"
            )
        admin_ids.add(admin_id)

    mode = (_env(env, "MODE", "polling") or "polling").lower()
    if mode not in ("polling", "webhook"):
        raise SettingsError("MODE", f"must be polling or webhook, got {mode!r}")
    webhook_url = _env(env, "WEBHOOK_URL")
    webhook_secret = _env(env, "WEBHOOK_SECRET")
    if mode == "webhook":
        if webhook_url is None or not webhook_url.startswith(("https://", "http://")):
            raise SettingsError("WEBHOOK_URL", "must be the public https:// URL when MODE=webhook")
        if webhook_secret is None:
            raise SettingsError(
                "WEBHOOK_SECRET", "must be set when MODE=webhook (1-256 chars of A-Z a-z 0-9 _ -)"
            )
    if webhook_secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", webhook_secret):
        raise SettingsError("WEBHOOK_SECRET", "may contain only A-Z a-z 0-9 _ - (1-256 chars)")

    log_level = (_env(env, "LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError(
            "LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
        )

    redis_url = _env(env, "REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            "REDIS_URL", f"must look like redis://127.0.0.1:6379/0, got {redis_url!r}"
        )
    if redis_url is not None and importlib.util.find_spec("redis") is None:
        # `redis` is an optional extra: say so at start-up rather than at the first update.
        raise SettingsError("REDIS_URL", "needs the redis extra: pip install 'chibo-bot[redis]'")

    clock_start = _clock_start(env, api_url)

    return Settings(
        bot_token=token,
        database_url=_database_url(env),
        telegram_api_url=api_url,
        timezone=tz,
        default_language=lang,
        admin_ids=frozenset(admin_ids),
        mode=mode,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        web_host=_env(env, "WEB_HOST", "127.0.0.1") or "127.0.0.1",
        web_port=_int(env, "WEB_PORT", 8080, 1, 65535),
        redis_url=redis_url,
        log_level=log_level,
        max_concurrent_updates=_int(env, "MAX_CONCURRENT_UPDATES", 64, 1, 10000),
        send_global_per_sec=_float(env, "SEND_GLOBAL_PER_SEC", 30.0),
        send_per_chat_per_sec=_float(env, "SEND_PER_CHAT_PER_SEC", 1.0),
        send_per_group_per_min=_float(env, "SEND_PER_GROUP_PER_MIN", 20.0),
        run_sender=_bool(env, "RUN_SENDER", True),
        clock_start=clock_start,
    )


def is_local_api(api_url: str | None) -> bool:
    """Whether the Bot API is a stand-in on this machine (never Telegram's own servers)."""
    if api_url is None:
        return False
    host = urlsplit(api_url).hostname or ""
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _clock_start(env: Mapping[str, str], api_url: str | None) -> datetime | None:
    raw = _env(env, "CLOCK_START")
    if raw is None:
        return None
    if not is_local_api(api_url):
        raise SettingsError(
            "CLOCK_START",
            "shifts the bot's clock for trying it and is accepted only with TELEGRAM_API_URL "
            "on this machine (the local stand-in), never with Telegram",
        )
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise SettingsError(
            "CLOCK_START",
            f"must be a date and time with its zone, e.g. 2026-12-03T09:00+07:00, got {raw!r}",
        )
    return instant
