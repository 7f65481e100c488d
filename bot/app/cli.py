"""Command line: `python -m bot [run|migrate|check|...]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from bot.app import cli_demo, cli_import, cli_outbox, cli_roster, cli_sample, run
from bot.app.checks import run_checks
from bot.app.cli_common import settings_or_exit
from bot.app.hooks import subscribe_features
from bot.cli_text import add_lang_option, say_for
from bot.logs import setup_logging
from storage.db import create_engine
from storage.migrate import upgrade_to_head


def cmd_run(_args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    setup_logging(settings.log_level, [settings.bot_token, settings.webhook_secret or ""])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = settings_or_exit(require_token=False)
    setup_logging(settings.log_level)

    async def _go() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(_go())
    print(say_for(args, settings)("op.migrated"))
    return 0


def cmd_check(_args: argparse.Namespace) -> int:
    """Check each prerequisite and print OK/FAIL for each, exit 1 on any failure."""
    return asyncio.run(run_checks())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Branch meeting assistant bot. Without a command, runs the bot.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser(
        "run",
        help="run the bot (migrates an SQLite database first)",
        description="Run the bot in polling or webhook mode (MODE).",
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "migrate",
        help="upgrade the database to the latest schema",
        description="Apply every pending Alembic migration to DATABASE_URL.",
    )
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser(
        "check",
        help="check settings, database and the bot token",
        description="Check settings, that the database is reachable and that "
        "Telegram accepts the token (getMe); prints OK or FAIL for each.",
    )
    p.set_defaults(func=cmd_check)
    for feature in (cli_import, cli_outbox, cli_roster, cli_sample, cli_demo):
        feature.register(sub)
    add_lang_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    subscribe_features()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        args = parser.parse_args(["run", *(argv or [])])
    return int(args.func(args) or 0)
