"""Any committee at the top, its levels named by its own data (the organisation since July 2025).

The catalogs name no level of their own (no "Huyện ủy", "huyện", "thị trấn": a 2026 commune or
province would read a level it does not have); an import says its levels (`level`,
`level_name`), tops its tree with whatever committee has no parent, carries the committees'
admins, and says which branches a working group visits and how often.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import LOCALES_DIR, create_i18n, load_catalog
from bot.sample_org import write_sample
from bot.services.access import admins
from bot.services.access.admins import AdminOp
from bot.services.access.policy import Refused, load_actor
from bot.services.meetings.presentation import announcement_text
from bot.services.org_import import import_org, load_and_validate
from storage.db import create_session_factory
from storage.models import (
    Branch,
    CommitteeAdmin,
    Meeting,
    Unit,
    VisitProgram,
    WorkingGroup,
)
from tests.helpers import local

FORBIDDEN = re.compile(r"\b(huyện ủy|huyện|thị trấn)\b", re.IGNORECASE)


def test_vi_catalogs_name_no_district_or_town_level() -> None:
    catalog = load_catalog(LOCALES_DIR / "vi")
    assert catalog is not None
    found = {str(m.id): str(m.string) for m in catalog if m.id and FORBIDDEN.search(str(m.string))}
    assert found == {}


def _rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / f"{table}.csv").open(encoding="utf-8") as fp:
        return list(csv.DictReader(fp))


def _write(folder: Path, table: str, rows: list[dict[str, str]]) -> None:
    with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_commune_with_no_level_above_it_validates_with_its_own_level_names(
    tmp_path: Path,
) -> None:
    write_sample(tmp_path, "commune", 1, 0)
    data, errors = load_and_validate(tmp_path)
    assert errors == []
    top = data.units["X01"]
    assert (top.parent_code, top.district_code, top.level_name) == (None, "X01", "Đảng ủy xã")
    assert data.district_codes == ["X01"]
    assert data.units["X01G1"].level_name == "Đảng bộ cơ sở"
    group = data.working_groups["X01BCH"] if data.working_groups else None
    assert group is not None
    assert (group.visit_kinds, group.cadence, group.visitors_per_meeting) == (
        "all",
        "monthly",
        1,
    )


def test_a_level_that_contradicts_the_tree_and_bad_admin_ids_are_reported(
    tmp_path: Path,
) -> None:
    write_sample(tmp_path, "province", 1, 0)
    units = _rows(tmp_path, "units")
    units[1]["level"] = "2"  # a commune directly under the province is level 1
    units[1]["admin_telegram_ids"] = "12;abc"
    _write(tmp_path, "units", units)
    _data, errors = load_and_validate(tmp_path)
    assert any("bad admin_telegram_ids entry 'abc'" in e for e in errors)
    units[1]["admin_telegram_ids"] = ""
    _write(tmp_path, "units", units)
    _data, errors = load_and_validate(tmp_path)
    assert any("level 2 does not match its place in the tree (1)" in e for e in errors)


async def test_a_province_import_stores_level_names_admins_and_visiting_programs(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    write_sample(tmp_path, "province", 1, 0)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        outcome = await import_org(s, tmp_path)
    assert outcome.errors == []
    async with factory() as s:
        units = {u.code: u for u in await s.scalars(select(Unit))}
        rows = list(await s.scalars(select(CommitteeAdmin)))
        programs = {
            g.code: p
            for g, p in await s.execute(
                select(WorkingGroup, VisitProgram).join(
                    VisitProgram, VisitProgram.working_group_id == WorkingGroup.id
                )
            )
        }
    assert units["P01"].level_name == "Tỉnh ủy" and units["P01"].district_id == units["P01"].id
    assert units["P01W03"].level_name == "Đảng ủy phường"
    assert {units[c].district_id for c in units} == {units["P01"].id}
    # One admin for the province (its whole organisation), one for each commune and ward.
    assert sum(a.unit_id is None for a in rows) == 1
    assert {a.unit_id for a in rows if a.unit_id} == {
        units[c].id for c in ("P01X01", "P01X02", "P01W03")
    }
    assert (programs["P01X01BCH"].cadence, programs["P01WG1"].cadence) == (
        "monthly",
        "quarter_first_month",
    )


async def test_the_top_admin_adds_and_removes_a_lower_committees_admin(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    write_sample(tmp_path, "commune", 1, 0)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        assert (await import_org(s, tmp_path)).errors == []
    async with factory() as s, s.begin():
        top = await s.scalar(
            select(CommitteeAdmin.telegram_id).where(CommitteeAdmin.unit_id.is_(None))
        )
        assert top is not None
        actor = await load_actor(s, top)
        now = local(2026, 12, 22, 9)
        done = await admins.manage(
            s, actor, AdminOp.ADD, target_id=555, district_code="X01G1", now=now
        )
        assert done.listing.district_name == "Đảng bộ Quân sự xã Tam Hiệp"
        assert [a.telegram_id for a in done.listing.admins] == [555]
        assert done.target_roles == ["unit_admin"]
        # The lower committee's admin does not manage admins; the top's last admin stays.
        try:
            await admins.manage(
                s, await load_actor(s, 555), AdminOp.ADD, target_id=556, district_code="X01G1",
                now=now,
            )  # fmt: skip
            raise AssertionError("a lower committee's admin added an admin")
        except Refused as refused:
            assert refused.key == "policy.needs_admin"
        done = await admins.manage(
            s, actor, AdminOp.REMOVE, target_id=555, district_code="X01G1", now=now
        )
        assert done.listing.admins == []
        try:
            await admins.manage(
                s, actor, AdminOp.REMOVE, target_id=top, district_code="X01", now=now
            )
            raise AssertionError("the last top admin was removed")
        except Refused as refused:
            assert refused.key == "admins.last"


def test_an_announcement_says_the_invitation_is_also_in_the_app_only_where_the_branch_says_so() -> (
    None
):
    i18n = create_i18n("vi")
    meeting = Meeting(
        kind="regular",
        status="scheduled",
        starts_at=local(2027, 1, 5, 19, 30),
        place="Nhà văn hóa thôn Đông",
        agenda="",
        title="",
        period_year=2027,
        period_month=1,
    )
    app_line = i18n.t("mtg.announce.app", "vi")
    for says, expected in ((True, True), (False, False)):
        branch = Branch(name="Chi bộ thôn Đông", kind="village", app_invites=says)
        text = announcement_text(i18n, "vi", meeting, branch, 1, 0, 3)
        assert (app_line in text) is expected
