"""The project's own sample organisation (`bot.sample_org`, `python -m bot sample-org`)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.cli import main
from bot.i18n import create_i18n
from bot.sample_org import SHAPES, build_sample, write_sample
from bot.sample_org.names import (
    FAMILY_NAMES,
    FEMALE_GIVEN,
    FEMALE_MIDDLE,
    MALE_GIVEN,
    MALE_MIDDLE,
)
from bot.services.org_import import import_org
from storage.db import create_session_factory
from storage.models import Branch, Member, Unit, WorkingGroup, WorkingGroupMember
from tests.helpers import local

ROOT = Path(__file__).resolve().parents[1]
FILES = ("units", "branches", "members", "working_groups", "working_group_members")
VIETNAMESE_WORD = re.compile(
    r"[A-ZĐÂĂÊÔƠƯÁÀẢÃẠẤẦẨẪẬẮẰẲẴẶÉÈẺẼẸẾỀỂỄỆÍÌỈĨỊÓÒỎÕỌỐỒỔỖỘỚỜỞỠỢÚÙỦŨỤỨỪỬỮỰÝỲỶỸỴ]"
    r"[a-zđâăêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]*"
)


def _rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as fp:
        return list(csv.DictReader(fp))


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / f"{name}.csv").read_bytes() for name in FILES}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", seed=5)
    write_sample(tmp_path / "b", seed=5)
    write_sample(tmp_path / "c", seed=6)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert _bytes(tmp_path / "a")["members"] != _bytes(tmp_path / "c")["members"]


def test_default_district_has_the_published_shape() -> None:
    org = build_sample()
    units, branches = org.tables["units"], org.tables["branches"]
    assert Counter(u["kind"] for u in units) == {"district_committee": 1, "town": 1, "commune": 15}
    visited = [b for b in branches if b["kind"] in ("village", "residential")]
    assert len(visited) == 129
    assert len(branches) == 1 + 129 + 144  # the district office's own branch, then the others
    assert {b["meeting_day"] for b in branches} <= {"3", "4", "5"}
    assert len(org.tables["working_groups"]) == 8
    covered = [c for g in org.tables["working_groups"] for c in g["unit_codes"].split(";")]
    assert sorted(covered) == sorted(u["code"] for u in units[1:])  # each unit visited once
    members = org.tables["members"]
    assert 6_500 <= len(members) <= 7_500
    secretaries = Counter(m["branch_code"] for m in members if m["role"] == "secretary")
    assert set(secretaries) == {b["code"] for b in branches}
    assert set(secretaries.values()) == {1}
    with_telegram = sum(1 for m in members if m["telegram_id"]) / len(members)
    with_phone = sum(1 for m in members if m["phone"]) / len(members)
    assert 0.8 < with_telegram < 0.95 and 0.9 < with_phone < 1.0


def test_names_are_vietnamese_family_name_first() -> None:
    members = build_sample(seed=2).tables["members"]
    for m in members:
        family, middle, given = m["full_name"].split(" ")
        assert family in FAMILY_NAMES, m
        assert (middle in MALE_MIDDLE and given in MALE_GIVEN) or (
            middle in FEMALE_MIDDLE and given in FEMALE_GIVEN
        ), m
        assert all(VIETNAMESE_WORD.fullmatch(w) for w in (family, middle, given)), m
    families = Counter(m["full_name"].split(" ")[0] for m in members)
    assert families.most_common(1)[0][0] == "Nguyễn"
    assert any("Thị" in m["full_name"] for m in members)


def test_a_city_of_districts_keeps_codes_and_accounts_unique() -> None:
    org = build_sample(districts=3, seed=1)
    units = org.tables["units"]
    assert len(units) == 3 * 17 and len(org.tables["branches"]) == 3 * 274
    districts = [u["name"] for u in units if u["kind"] == "district_committee"]
    assert len(set(districts)) == 3
    for table in ("units", "branches", "members", "working_groups"):
        codes = [r["code"] for r in org.tables[table]]
        assert len(codes) == len(set(codes)), table
    members = org.tables["members"]
    for column in ("phone", "telegram_id", "telegram_username"):
        values = [m[column] for m in members if m[column]]
        assert len(values) == len(set(values)), column


async def _count(engine: AsyncEngine, model: type[Any]) -> int:
    async with create_session_factory(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_default_sample_imports_without_errors(engine: AsyncEngine, tmp_path: Path) -> None:
    counts = write_sample(tmp_path / "org")
    with time_machine.travel(local(2027, 1, 8, 10), tick=False):
        async with create_session_factory(engine)() as session, session.begin():
            outcome = await import_org(session, tmp_path / "org")
    assert outcome.errors == []
    assert outcome.report is not None and outcome.report.districts == ["D01"]
    assert await _count(engine, Unit) == counts["units"] == 17
    assert await _count(engine, Branch) == counts["branches"] == 274
    assert await _count(engine, Member) == counts["members"]
    assert await _count(engine, WorkingGroup) == counts["working_groups"] == 8
    assert await _count(engine, WorkingGroupMember) == counts["working_group_members"]


def test_cli_writes_the_files_in_another_process_identically(tmp_path: Path) -> None:
    # Another interpreter with another hash seed: nothing may depend on set or dict hashing.
    env = {**os.environ, "PYTHONHASHSEED": "123", "DEFAULT_LANGUAGE": "vi"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sample-org", str(tmp_path / "cli"), "--seed", "4"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    counts = write_sample(tmp_path / "here", seed=4)
    assert _bytes(tmp_path / "cli") == _bytes(tmp_path / "here")
    expected = create_i18n("vi").t(
        "sample_org.written",
        "vi",
        shape="district",
        districts=1,
        seed=4,
        path=tmp_path / "cli",
        units=counts["units"],
        branches=counts["branches"],
        members=counts["members"],
        groups=counts["working_groups"],
    )
    assert done.stdout.strip() == expected
    assert len(_rows(tmp_path / "cli", "members")) == counts["members"]


def test_cli_refuses_zero_districts_in_the_catalogs_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    assert main(["sample-org", str(tmp_path / "x"), "--districts", "0"]) == 2
    expected = create_i18n("en").t("sample_org.bad_districts", "en", most=999, value=0)
    assert capsys.readouterr().err.strip() == expected
    assert not (tmp_path / "x").exists()


def test_shapes_are_chosen_by_name_from_the_registry() -> None:
    assert {"commune", "province", "district"} <= set(SHAPES)
    with pytest.raises(ValueError, match="unknown shape 'region'"):
        build_sample("region")
