"""`python -m bot import-org PATH [--dry-run]`: load the organisation from CSV files or a workbook.

Operator-only output, in plain English: bad rows as `file:line: reason` (exit 1, nothing
written), otherwise a table of changes per table. Progress goes to stderr so stdout stays a
clean report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from bot.services.org_import import apply_org, format_report, load_and_validate
from bot.services.org_import_read import ImportSourceError
from bot.settings import Settings, SettingsError, load_settings
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head

EXIT_BAD_ROWS = 1
EXIT_USAGE = 2


class StderrProgress:
    """Phase lines always; a live percentage only on a terminal and only for big steps."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.started = time.perf_counter()
        self._live = False

    def _clear(self) -> None:
        if self._live:
            self.stream.write("\r\x1b[K")
            self._live = False

    def phase(self, text: str) -> None:
        if self.quiet:
            return
        self._clear()
        self.stream.write(f"[{time.perf_counter() - self.started:6.1f}s] {text}\n")
        self.stream.flush()

    def step(self, label: str, done: int, total: int) -> None:
        if self.quiet or not self.tty or total <= 0:
            return
        self.stream.write(f"\r\x1b[K  {label}: {min(100, done * 100 // total)}%")
        self.stream.flush()
        self._live = True


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
    try:
        settings = _settings(args.database_url)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = StderrProgress(sys.stderr, quiet=args.quiet)
    try:
        data, errors = load_and_validate(args.path, progress)
    except ImportSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if errors:
        for line in errors:
            print(line)
        print(
            f"{len(errors)} problem(s) found; nothing was written. Fix the rows above and "
            "run the import again.",
            file=sys.stderr,
        )
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
                    progress.phase("committing")
                    await tx.commit()
            return report
        finally:
            await engine.dispose()

    report = asyncio.run(_go())
    for line in format_report(report):
        print(line)
    return 0
