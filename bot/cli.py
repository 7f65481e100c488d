"""Command line: `python -m bot [run|migrate|check|...]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from bot.cli_text import Say, add_lang_option, cli_locale
from bot.settings import Settings, SettingsError, load_settings


def _settings(require_token: bool = True) -> Settings:
    try:
        return load_settings(require_token=require_token)
    except SettingsError as exc:
        print(Say(cli_locale())("op.error", text=exc), file=sys.stderr)
        raise SystemExit(2) from None


def say_for(args: argparse.Namespace, settings: Settings | None = None) -> Say:
    """The operator's language: `--lang`, else DEFAULT_LANGUAGE (settings or environment)."""
    chosen = getattr(args, "lang", None)
    if chosen is None and settings is not None:
        chosen = settings.default_language
    return Say(cli_locale(chosen))


def cmd_run(_args: argparse.Namespace) -> int:
    from bot.app import run
    from bot.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_level, [settings.bot_token, settings.webhook_secret or ""])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging
    from storage.db import create_engine
    from storage.migrate import upgrade_to_head

    settings = _settings(require_token=False)
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
    from bot.checks import run_checks

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
    _register_extra(sub)
    add_lang_option(parser)
    return parser


def _register_extra(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Feature commands (import, outbox, roster, sample-org) add themselves here."""
    for module_name in ("bot.cli_import", "bot.cli_outbox", "bot.cli_roster", "bot.cli_sample"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        args = parser.parse_args(["run", *(argv or [])])
    return int(args.func(args) or 0)
