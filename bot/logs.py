"""Logging set-up: one line per event, key=value fields, and nothing secret or personal printed.

The bot's own loggers log at the chosen level; libraries stay at INFO or above whatever it is
(SQLAlchemy, aiosqlite and asyncpg at WARNING: their INFO/DEBUG lines carry SQL parameters,
i.e. phone numbers and names). As the safety net, every formatted line (tracebacks included)
passes through `redact`: the bot token and webhook secret, phone numbers, link codes and
invite tokens become `***`.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

OWN_LOGGERS = ("bot", "handlers", "storage", "sandbox", "bench")
# Libraries and the least they log at, whatever LOG_LEVEL says.
LIBRARY_FLOOR = {
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "alembic": logging.INFO,
    "aiohttp": logging.INFO,
    "aiohttp.access": logging.WARNING,  # duplicates our per-update line
    "aiogram": logging.INFO,
    "aiogram.event": logging.WARNING,  # duplicates our per-update line
    "apscheduler": logging.INFO,
    # "Running job" / "executed successfully" for every tick of every job: `bot.scheduler` logs
    # each run once, at INFO only when the run did something.
    "apscheduler.executors": logging.WARNING,
    "redis": logging.INFO,
    "asyncio": logging.INFO,
}

PATTERNS = (
    # Bot API tokens: 123456:AA... (also inside URLs).
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),
    # Phone numbers: +84 / 84 / 0 followed by 8-10 digits, with optional separators, and any
    # other run of 9-15 digits that looks like one (Telegram ids are logged on purpose, and are
    # at most 10-13 digits without a leading 0 or +).
    re.compile(r"(?<![\w])(?:\+|00)\d[\d .\-]{7,16}\d(?![\w])"),
    re.compile(r"(?<![\w.-])0\d(?:[ .\-]?\d){8,9}(?![\w])"),
    re.compile(r"(?<![\w-])84\d{9,10}(?![\w])"),
    # Link codes (XXXX-XXXX of the link alphabet) and invite tokens (i_<token>).
    re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b"),
    re.compile(r"\bi_[A-Za-z0-9_-]{16,}"),
)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) > 4:
            text = text.replace(secret, "***")
    for pattern in PATTERNS:
        text = pattern.sub("***", text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, arguments and traceback)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.secrets = tuple(s for s in (secrets or []) if s and len(s) > 4)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


# Kept for callers that attach it to a handler of their own.
class RedactFilter(logging.Filter):
    """Replaces secrets and personal data in a record's message."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) > 4)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(
    level: str, secrets: list[str] | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """One handler on the root logger; the bot's loggers at `level`, libraries at their floor."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    chosen = logging.getLevelName(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # The root (every library without a floor) never below INFO.
    root.setLevel(max(chosen, logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(chosen)
    for name, floor in LIBRARY_FLOOR.items():
        logging.getLogger(name).setLevel(max(chosen, floor))
    return handler
