"""`python -m bot import-org PATH [--dry-run]`: load the organisation from CSV files or a workbook.

Operator output in the operator's language (`bot.cli_text`): bad rows as `file:line: reason`
(exit 1, nothing written), otherwise a table of changes per table. Progress goes to stderr so
stdout stays a clean report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli_text import Say, StderrProgress, cli_locale, number
from bot.services.org_import import apply_org, load_and_validate
from bot.services.org_import.read import ImportSourceError
from bot.settings import Settings, SettingsError, load_settings
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head

if TYPE_CHECKING:
    from bot.services.org_import import ImportReport

EXIT_BAD_ROWS = 1
EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-org",
        help="import units, branches, members and working groups from CSV or .xlsx",
        description="Validate every row, then upsert by code in one transaction: unchanged "
        "rows stay, moved members move, rows missing from the files are deactivated (never "
        "deleted) within the districts the files contain. Any bad row: nothing is written, "
        "every problem is listed as file:line: reason, exit code 1. See docs/import.md.",
    )
    p.add_argument(
        "path",
        type=Path,
        help="a folder with units.csv, branches.csv, members.csv, working_groups.csv, "
        "working_group_members.csv, or one .xlsx workbook with one sheet per file",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--database-url", help="database to import into (default: DATABASE_URL)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_import_org)


def _settings(database_url: str | None) -> Settings:
    env: dict[str, str] | None = None
    if database_url:
        env = {**os.environ, "DATABASE_URL": database_url}
    return load_settings(env, require_token=False)


def cmd_import_org(args: argparse.Namespace) -> int:
    say = Say(cli_locale(getattr(args, "lang", None)))
    try:
        settings = _settings(args.database_url)
    except SettingsError as exc:
        print(say("op.error", text=exc), file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "lang", None) is None:
        say = Say(settings.default_language)
    progress = StderrProgress(sys.stderr, say, quiet=args.quiet)
    try:
        data, errors = load_and_validate(args.path, progress)
    except ImportSourceError as exc:
        print(say("op.error", text=exc), file=sys.stderr)
        return EXIT_USAGE
    if errors:
        for line in errors:
            print(line)
        print(say("op.import.problems", n=len(errors)), file=sys.stderr)
        return EXIT_BAD_ROWS

    async def _go() -> Any:
        engine = create_engine(settings.database_url)
        try:
            await upgrade_to_head(engine)
            factory = create_session_factory(engine)
            async with factory() as session:
                tx = await session.begin()
                try:
                    report = await apply_org(session, data, dry_run=args.dry_run, progress=progress)
                except BaseException:
                    await tx.rollback()
                    raise
                if args.dry_run:
                    await tx.rollback()
                else:
                    progress.phase("op.import.committing")
                    await tx.commit()
            return report
        finally:
            await engine.dispose()

    report = asyncio.run(_go())
    for line in format_report(report, say):
        print(line)
    return 0


def format_report(report: ImportReport, say: Say, limit: int = 20) -> list[str]:
    """Operator-facing lines in their language: a table of counts, then the codes of the
    notable changes."""
    head = say("op.import.dry_run") if report.dry_run else ""
    lines = [
        say(
            "op.import.summary",
            head=head,
            source=report.source,
            districts=", ".join(report.districts),
            rows=report.rows,
            changed=report.changed,
            seconds=report.seconds,
        )
    ]
    kinds = ("added", "updated", "moved", "deactivated", "reactivated", "removed", "unchanged")
    lines.append(
        f"{say('op.import.table'):<24}" + "".join(f"{say(f'op.kind.{k}'):>12}" for k in kinds)
    )
    for name, changes in report.tables.items():
        counts = changes.counts()
        lines.append(
            f"{say.table(name):<24}"
            + "".join(f"{number(counts[k], say.locale):>12}" for k in kinds)
        )
    for name, changes in report.tables.items():
        for kind in ("updated", "moved", "deactivated", "reactivated", "removed", "added"):
            codes: Iterable[str] = getattr(changes, kind)
            codes = list(codes)
            if not codes or (kind == "added" and not report.dry_run):
                continue
            shown = ", ".join(codes[:limit])
            more = say("op.import.more", n=len(codes) - limit) if len(codes) > limit else ""
            lines.append(f"  {say.table(name)} {say(f'op.kind.{kind}')}: {shown}{more}")
    return lines
