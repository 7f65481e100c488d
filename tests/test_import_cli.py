"""`python -m bot import-org` through `bot.app.cli.main`: bad rows, dry run, exit codes, xlsx."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.app.cli import main
from bot.cli_text import Say
from bot.services.org_import import load_and_validate
from storage.db import create_engine
from storage.models import AuditLog, Member
from tests.test_import import DAN_PHUONG, Rows, copy_dataset, edit, read_rows


def _count(url: str, model: object) -> int:
    async def go() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(model))).scalar())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _set(rows: Rows, code: str, **values: str) -> None:
    for r in rows:
        if r["code"] == code:
            r.update(values)
            return
    raise AssertionError(code)


def _break_everything(folder: Path) -> list[str]:
    """Several different bad rows across the files; returns the expected report lines."""
    edit(folder, "units", lambda rows: _set(rows, "D01U03", parent_code="D99"))

    def branches(rows: Rows) -> Rows:
        _set(rows, "D01U01B02", meeting_time="25:00")
        _set(rows, "D01U01B03", meeting_day="32")
        _set(rows, "D01U01B04", kind="temple")
        return [*rows, dict(rows[1])]  # D01U01B01 again, on the last line

    edit(folder, "branches", branches)

    def members(rows: Rows) -> None:
        _set(rows, "M0000004", role="chairman")
        _set(rows, "M0000005", role="secretary")
        _set(rows, "M0000006", phone="12345")
        _set(rows, "M0000007", branch_code="XX")

    edit(folder, "members", members)
    edit(folder, "working_groups", lambda rows: _set(rows, "D01WG1", unit_codes="D01U01;D01U99"))

    def group_members(rows: Rows) -> None:
        rows[1]["member_code"] = "M9999999"

    edit(folder, "working_group_members", group_members)
    return [
        "units.csv:5: unknown parent code D99",
        "branches.csv:4: bad meeting time '25:00' (HH:MM, 00:00-23:59)",
        "branches.csv:5: bad meeting day '32' (a day of the month, 1-31)",
        "branches.csv:6: unknown branch kind 'temple' (one of residential, village, agency, "
        "school, health, enterprise, cooperative, armed, credit_fund)",
        "branches.csv:276: duplicate branch code D01U01B01 (first on line 3)",
        "members.csv:5: unknown role 'chairman' (one of member, deputy_secretary, secretary)",
        "members.csv:6: two secretaries in branch D01X000 (M0000001 on line 2 is one)",
        "members.csv:7: bad phone: not a phone number: '12345'",
        "members.csv:8: unknown branch code 'XX'",
        "working_groups.csv:2: unknown unit code 'D01U99' in unit_codes",
        "working_group_members.csv:3: unknown member code 'M9999999'",
    ]


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = copy_dataset(tmp_path)
    expected = _break_everything(folder)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("DEFAULT_LANGUAGE", raising=False)
    code = main(["import-org", str(folder)])
    out, err = capsys.readouterr()
    assert code == 1
    # Exactly these problems: no cascade of follow-up errors from the rows they broke.
    assert out.splitlines() == expected
    # The operator's language: Vietnamese by default, like the bot.
    assert Say("vi")("op.import.problems", n=11) in err
    assert Say("vi")("op.import.validated", rows=7468, seconds=0.0, problems=11)[:24] in err
    assert _count(database_url, Member) == 0
    assert _count(database_url, AuditLog) == 0


def test_import_then_dry_run_then_real_run(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["import-org", str(DAN_PHUONG), "-q", "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # -q: no progress
    assert "members" in out and "7,122" in out
    assert _count(database_url, Member) == 7122

    folder = copy_dataset(tmp_path)
    edit(folder, "members", lambda rows: _set(rows, "M0000009", branch_code="D01U05B01"))
    audit_rows = _count(database_url, AuditLog)
    assert main(["import-org", str(folder), "--dry-run", "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("DRY RUN, nothing written")
    assert "members moved: M0000009" in out
    assert "validated 7,467 rows" in err  # phases are shown even when not on a terminal
    assert _count(database_url, AuditLog) == audit_rows

    assert main(["--lang", "en", "import-org", str(folder), "-q"]) == 0
    out, _ = capsys.readouterr()
    assert "members moved: M0000009" in out
    assert _count(database_url, AuditLog) == audit_rows + 2  # the move + the summary


def test_database_url_option_and_fresh_sqlite_file_is_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'fresh.db'}"
    assert main(["import-org", str(DAN_PHUONG), "--database-url", url, "-q"]) == 0
    capsys.readouterr()
    assert _count(url, Member) == 7122


def test_missing_source_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert main(["import-org", str(tmp_path / "nope"), "--database-url", url]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("x")
    assert main(["import-org", str(tmp_path / "a.txt"), "--database-url", url]) == 2


def test_xlsx_errors_name_sheet_and_row(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for table in ("units", "branches", "members"):
        sheet = workbook.create_sheet(table)
        rows = read_rows(DAN_PHUONG, table)[:30]
        sheet.append(list(rows[0]))
        for r in rows:
            sheet.append(list(r.values()))
    workbook["members"]["E4"] = "boss"  # role of the member on row 4
    workbook["branches"]["F3"] = "7h"  # meeting_time of row 3
    path = tmp_path / "org.xlsx"
    workbook.save(path)
    _, errors = load_and_validate(path)
    assert errors == [
        "branches:3: bad meeting time '7h' (HH:MM, 00:00-23:59)",
        "members:4: unknown role 'boss' (one of member, deputy_secretary, secretary)",
    ]


def test_unit_loops_missing_columns_and_blank_lines(tmp_path: Path) -> None:
    folder = copy_dataset(tmp_path)

    def loop(rows: Rows) -> None:
        _set(rows, "D01U01", parent_code="D01U02")
        _set(rows, "D01U02", parent_code="D01U01")

    edit(folder, "units", loop)
    text = (folder / "members.csv").read_text(encoding="utf-8").replace("\n", "\n\n", 3)
    (folder / "members.csv").write_text(text, encoding="utf-8")
    (folder / "working_group_members.csv").write_text("working_group_code\nD01WG1\n")
    _, errors = load_and_validate(folder)
    assert errors == [
        "units.csv:3: not under a top committee (parent chain loops)",
        "units.csv:4: not under a top committee (parent chain loops)",
        "working_group_members.csv:1: missing column(s): member_code",
    ]
