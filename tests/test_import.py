"""Organisation import: counts, idempotence, moves, deactivation, hand-overs, xlsx, districts.

Every test runs on SQLite and on PostgreSQL (`database_url`). Modified variants of the shared
dataset are written to tmp dirs; the copy under tests/data is never touched.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sample_org import write_sample
from bot.services.org_import import ImportReport, apply_org, import_org, load_and_validate
from storage.db import create_session_factory
from storage.models import (
    AuditLog,
    Branch,
    Member,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.repositories.org import OrgRepository
from tests.helpers import DAN_PHUONG

Rows = list[dict[str, str]]


def read_rows(folder: Path, table: str) -> Rows:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as fp:
        return list(csv.DictReader(fp))


def write_rows(folder: Path, table: str, rows: Rows, fieldnames: list[str] | None = None) -> None:
    names = fieldnames or list(rows[0])
    with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


def copy_dataset(tmp_path: Path, name: str = "dp", source: Path = DAN_PHUONG) -> Path:
    target = tmp_path / name
    shutil.copytree(source, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def edit(folder: Path, table: str, change: Callable[[Rows], Rows | None]) -> None:
    rows = read_rows(folder, table)
    fieldnames = list(rows[0])
    result = change(rows)
    write_rows(folder, table, rows if result is None else result, fieldnames)


async def run_import(engine: AsyncEngine, folder: Path, dry_run: bool = False) -> ImportReport:
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        outcome = await import_org(session, folder, dry_run=dry_run)
    assert outcome.errors == []
    assert outcome.report is not None
    return outcome.report


async def count(engine: AsyncEngine, model: Any, *where: Any) -> int:
    factory = create_session_factory(engine)
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def member(engine: AsyncEngine, code: str) -> Member:
    factory = create_session_factory(engine)
    async with factory() as session:
        found = await OrgRepository(session).member_by_code(code)
        assert found is not None
        return found


def generate(out: Path, districts: int) -> None:
    """The project's own sample generator (`python -m bot sample-org`)."""
    write_sample(out, shape="district", districts=districts, seed=7)


async def test_dan_phuong_imports_with_the_published_counts_and_reimport_changes_nothing(
    engine: AsyncEngine,
) -> None:
    report = await run_import(engine, DAN_PHUONG)
    assert report.tables["members"].counts()["added"] == 7122
    assert await count(engine, Unit) == 17
    assert await count(engine, Branch) == 274
    assert await count(engine, Member) == 7122
    assert await count(engine, WorkingGroup) == 8
    assert await count(engine, WorkingGroupMember) == 46
    assert await count(engine, WorkingGroupUnit) == 16
    # One secretary per branch, as in the file.
    secretaries = sum(1 for r in read_rows(DAN_PHUONG, "members") if r["role"] == "secretary")
    assert secretaries == 274
    assert await count(engine, Member, Member.role == "secretary", Member.active) == 274
    # Every row carries its district, the district committee's own id.
    district = await count(engine, Unit, Unit.kind == "district_committee")
    assert district == 1
    assert await count(engine, Member, Member.district_id.is_(None)) == 0
    assert await count(engine, Unit, Unit.district_id.is_(None)) == 0
    # Accounts given in the file are linked at once; phones are normalised.
    with_tg = sum(1 for r in read_rows(DAN_PHUONG, "members") if r["telegram_id"])
    assert await count(engine, Member, Member.telegram_id.is_not(None)) == with_tg
    first = await member(engine, "M0000001")
    assert first.telegram_id == 7000000783
    assert first.phone == "+84973383683"
    audit_rows = await count(engine, AuditLog)
    assert audit_rows == 17 + 274 + 7122 + 8 + 1  # one per added entity + the summary

    again = await run_import(engine, DAN_PHUONG)
    assert again.changed == 0
    assert again.tables["members"].unchanged == 7122
    assert await count(engine, AuditLog) == audit_rows


async def test_moved_member_moves_missing_is_deactivated_and_returning_is_reactivated(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    folder = copy_dataset(tmp_path)
    await run_import(engine, folder)
    before_move = await member(engine, "M0000005")
    assert before_move.telegram_id is not None

    def change(rows: Rows) -> Rows:
        for r in rows:
            if r["code"] == "M0000005":
                assert r["branch_code"] == "D01X000"
                r["branch_code"] = "D01U02B03"
                r["telegram_id"] = ""  # an empty id keeps the account linked in the bot
        return [r for r in rows if r["code"] != "M0000010"]

    edit(folder, "members", change)
    report = await run_import(engine, folder)
    members = report.tables["members"]
    assert members.moved == ["M0000005"]
    assert members.deactivated == ["M0000010"]
    assert members.updated == [] and members.added == []

    moved = await member(engine, "M0000005")
    assert moved.branch_id != before_move.branch_id
    assert moved.telegram_id == before_move.telegram_id
    gone = await member(engine, "M0000010")
    assert gone.active is False  # deactivated, still there
    assert await count(engine, Member) == 7122

    factory = create_session_factory(engine)
    async with factory() as session:
        audit = (
            await session.scalars(
                select(AuditLog).where(
                    AuditLog.action == "import.moved", AuditLog.entity_id == str(moved.id)
                )
            )
        ).one()
    assert audit.before == {"code": "M0000005", "branch_code": "D01X000"}
    assert audit.after == {"branch_code": "D01U02B03"}
    assert audit.entity_type == "member"
    assert audit.actor_label == "import-org"

    shutil.copy(DAN_PHUONG / "members.csv", folder / "members.csv")
    back = await run_import(engine, folder)
    assert back.tables["members"].reactivated == ["M0000010"]
    assert back.tables["members"].moved == ["M0000005"]
    assert (await member(engine, "M0000010")).active is True


async def test_secretaries_swap_between_branches_and_hand_over_within_one(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The one-active-secretary index is checked row by row: the import orders its writes."""
    folder = copy_dataset(tmp_path)
    await run_import(engine, folder)
    rows = read_rows(folder, "members")
    sec = {r["branch_code"]: r["code"] for r in rows if r["role"] == "secretary"}
    a, b = sec["D01U01B01"], sec["D01U01B02"]
    c = sec["D01U01B03"]
    plain_c = next(
        r["code"] for r in rows if r["branch_code"] == "D01U01B03" and r["role"] == "member"
    )

    def change(rows: Rows) -> None:
        for r in rows:
            if r["code"] == a:
                r["branch_code"] = "D01U01B02"
            elif r["code"] == b:
                r["branch_code"] = "D01U01B01"
            elif r["code"] == c:
                r["role"] = "member"
            elif r["code"] == plain_c:
                r["role"] = "secretary"

    edit(folder, "members", change)
    report = await run_import(engine, folder)
    assert sorted(report.tables["members"].moved) == sorted([a, b])
    assert sorted(report.tables["members"].updated) == sorted([c, plain_c])
    factory = create_session_factory(engine)
    async with factory() as session:
        repo = OrgRepository(session)
        for branch_code, expected in (("D01U01B01", b), ("D01U01B02", a), ("D01U01B03", plain_c)):
            branch = await repo.branch_by_code(branch_code)
            assert branch is not None
            secretary = await repo.secretary_of_branch(branch.id)
            assert secretary is not None and secretary.code == expected
    assert await count(engine, Member, Member.role == "secretary", Member.active) == 274


async def test_dry_run_reports_but_writes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    fresh = await run_import(engine, DAN_PHUONG, dry_run=True)
    assert fresh.dry_run and fresh.tables["members"].counts()["added"] == 7122
    assert await count(engine, Member) == 0
    assert await count(engine, AuditLog) == 0

    await run_import(engine, DAN_PHUONG)
    folder = copy_dataset(tmp_path)
    edit(folder, "members", lambda rows: [r for r in rows if r["code"] != "M0000003"])
    edit(
        folder,
        "branches",
        lambda rows: [
            {**r, "meeting_time": "20:15"} if r["code"] == "D01U01B01" else r for r in rows
        ],
    )
    audit_rows = await count(engine, AuditLog)
    report = await run_import(engine, folder, dry_run=True)
    assert report.tables["members"].deactivated == ["M0000003"]
    assert report.tables["branches"].updated == ["D01U01B01"]
    assert (await member(engine, "M0000003")).active is True
    assert await count(engine, AuditLog) == audit_rows


def _write_xlsx(folder: Path, target: Path) -> None:
    """One sheet per CSV; numbers and times typed as a spreadsheet user would have them."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for path in sorted(folder.glob("*.csv")):
        sheet = workbook.create_sheet(path.stem)
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        header = rows[0]
        sheet.append(header)
        for row in rows[1:]:
            typed: list[Any] = []
            for name, value in zip(header, row, strict=True):
                if name in ("telegram_id", "meeting_day") and value:
                    typed.append(int(value))
                elif name == "phone" and value:
                    typed.append(int(value))  # the leading zero is lost, as in Excel
                elif name == "meeting_time":
                    hour, minute = value.split(":")
                    typed.append(dt.time(int(hour), int(minute)))
                else:
                    typed.append(value)
            sheet.append(typed)
    workbook.save(target)


async def test_xlsx_import_equals_csv_import(engine: AsyncEngine, tmp_path: Path) -> None:
    workbook = tmp_path / "org.xlsx"
    _write_xlsx(DAN_PHUONG, workbook)
    from_csv, errors_csv = load_and_validate(DAN_PHUONG)
    from_xlsx, errors_xlsx = load_and_validate(workbook)
    assert errors_csv == errors_xlsx == []
    assert from_xlsx.members == from_csv.members
    assert from_xlsx.branches == from_csv.branches
    assert from_xlsx.units == from_csv.units
    assert from_xlsx.working_groups == from_csv.working_groups
    assert from_xlsx.working_group_members == from_csv.working_group_members

    await run_import(engine, DAN_PHUONG)
    again = await run_import(engine, workbook)
    assert again.changed == 0  # the workbook says exactly what the CSV files said


async def test_two_districts_in_one_database_do_not_interfere(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    both = tmp_path / "both"
    generate(both, districts=2)
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    for district, folder in (("D01", d1), ("D02", d2)):
        folder.mkdir()
        members = read_rows(both, "members")
        branches = [r for r in read_rows(both, "branches") if r["code"].startswith(district)]
        codes = {r["code"] for r in branches}
        write_rows(
            folder, "units", [r for r in read_rows(both, "units") if r["code"].startswith(district)]
        )
        write_rows(folder, "branches", branches)
        write_rows(folder, "members", [r for r in members if r["branch_code"] in codes])
        write_rows(
            folder,
            "working_groups",
            [r for r in read_rows(both, "working_groups") if r["code"].startswith(district)],
        )
        write_rows(
            folder,
            "working_group_members",
            [
                r
                for r in read_rows(both, "working_group_members")
                if r["working_group_code"].startswith(district)
            ],
        )
    await run_import(engine, d1)
    report = await run_import(engine, d2)
    assert report.districts == ["D02"]
    assert report.tables["members"].deactivated == []  # D01 is not in these files
    assert report.tables["units"].deactivated == []
    d2_members = len(read_rows(d2, "members"))
    total = len(read_rows(both, "members"))
    assert await count(engine, Member, Member.active) == total

    # Re-import D01 without one of its members: only that member is deactivated.
    gone = read_rows(d1, "members")[5]["code"]
    edit(d1, "members", lambda rows: [r for r in rows if r["code"] != gone])
    again = await run_import(engine, d1)
    assert again.tables["members"].deactivated == [gone]
    assert await count(engine, Member, Member.active) == total - 1

    factory = create_session_factory(engine)
    async with factory() as session:
        repo = OrgRepository(session)
        dist1 = await repo.unit_by_code("D01")
        dist2 = await repo.unit_by_code("D02")
        assert dist1 is not None and dist2 is not None
        # Scoped look-ups do not cross districts.
        first = read_rows(d1, "branches")[0]["code"]
        assert await repo.branch_by_code(first, district_id=dist2.id) is None
        assert await repo.branch_by_code(first, district_id=dist1.id) is not None
        in_d2 = select(func.count()).where(Member.district_id == dist2.id)
        assert await session.scalar(in_d2) == d2_members
        summaries = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "import.summary"))
        ).all()
    assert sorted(a.district_id for a in summaries) == sorted([dist1.id, dist2.id, dist1.id])


async def test_repository_helpers_on_imported_data(engine: AsyncEngine) -> None:
    await run_import(engine, DAN_PHUONG)
    factory = create_session_factory(engine)
    async with factory() as session:
        repo = OrgRepository(session)
        branch = await repo.branch_by_code("D01U01B01")
        assert branch is not None
        total = await repo.count_members_of_branch(branch.id)
        page1 = await repo.members_of_branch(branch.id, limit=5)
        page2 = await repo.members_of_branch(branch.id, offset=5, limit=5)
        assert page1[0].role == "secretary"
        assert len(page1) == 5 and not {m.id for m in page1} & {m.id for m in page2}
        everyone = await repo.members_of_branch(branch.id)
        assert len(everyone) == total
        first = await repo.member_by_telegram_id(7000000783)
        assert first is not None and first.code == "M0000001"
        assert [m.code for m in await repo.members_by_phone("+84973383683")] == ["M0000001"]
        wg = await repo.working_group_by_code("D01WG1")
        assert wg is not None
        units = [u.code for u in await repo.working_group_units(wg.id)]
        assert units == ["D01U01", "D01U02"]
        visited = await repo.visited_branches(wg.id)
        assert len(visited) == 9 + 8  # the town's street groups and the commune's villages
        assert {b.kind for b in visited} == {"residential", "village"}
        staff = await repo.working_group_members(wg.id)
        assert wg.leader_member_id in {m.id for m in staff}
        assert [g.code for g in await repo.working_groups_of_member(staff[0].id)] == ["D01WG1"]
        assert len(await repo.units_of_district(wg.district_id)) == 16
        led = await repo.branches_led_by(7000000783)
        assert [b.code for b in led] == ["D01X000"]


async def test_apply_twice_in_one_transaction_is_stable(engine: AsyncEngine) -> None:
    """apply_org sees its own writes: a second pass inside the same transaction is a no-op."""
    data, errors = load_and_validate(DAN_PHUONG)
    assert errors == []
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await apply_org(session, data)
        second = await apply_org(session, data)
    assert second.changed == 0


@pytest.mark.parametrize("table", ["working_groups", "working_group_members"])
def test_working_group_files_come_in_pairs(tmp_path: Path, table: str) -> None:
    folder = copy_dataset(tmp_path)
    (folder / f"{table}.csv").unlink()
    _, errors = load_and_validate(folder)
    assert len(errors) == 1 and "give both" in errors[0]


async def test_audit_record_helper_stores_json_safe_snapshots(engine: AsyncEngine) -> None:
    from bot.services.audit import record

    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await record(
            session,
            action="member.linked",
            entity_type="member",
            entity_id=42,
            before={"telegram_id": None},
            after={"telegram_id": 7, "at": dt.time(19, 30)},
            actor_id=900,
            actor_label="secretary",
        )
    async with factory() as session:
        row = (await session.scalars(select(AuditLog))).one()
    assert (row.action, row.entity_id, row.actor_id) == ("member.linked", "42", 900)
    assert row.after == {"telegram_id": 7, "at": "19:30:00"}
    assert row.before == {"telegram_id": None}


def test_isdigit_class_unicode_digits_in_an_import_are_reported_not_raised(
    tmp_path: Path,
) -> None:
    folder = copy_dataset(tmp_path)
    branch = read_rows(folder, "branches")[0]["code"]

    def odd_day(rows: Rows) -> Rows:
        rows[0]["meeting_day"] = "²"
        return rows

    def odd_telegram_id(rows: Rows) -> Rows:
        rows[0]["telegram_id"] = "٣٣٣"
        return rows

    edit(folder, "branches", odd_day)
    edit(folder, "members", odd_telegram_id)
    _, errors = load_and_validate(folder)
    assert any("bad meeting day '²'" in e for e in errors), errors
    assert any("telegram_id" in e and "٣٣٣" in e for e in errors), errors
    assert branch
