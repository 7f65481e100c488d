"""A year of rosters on the real Đan Phượng data: four quarters drafted and published the way
the drafts job and the leaders do it, each quarter seeing the visits published before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services.context import ServiceContext
from bot.services.org_import import import_org
from bot.services.rosters.cli_report import plan_report
from bot.services.rosters.common import Quarter
from bot.services.rosters.review import publish
from bot.services.vn_calendar import local_to_utc
from storage.db import create_session_factory
from tests.helpers import DAN_PHUONG

DATASET = DAN_PHUONG
VISITED_BRANCHES = 129


@dataclass
class Fixed:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_a_year_visits_every_branch_and_never_repeats_a_pair_in_a_row(
    engine: AsyncEngine,
) -> None:
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        assert (await import_org(s, DATASET)).errors == []
    seen: set[str] = set()
    last: set[tuple[str, str]] = set()
    for q in range(1, 5):
        quarter = Quarter(2027, q)
        clock = Fixed(local_to_utc(quarter.first_day, time(9)) - timedelta(days=10))
        ctx = ServiceContext(clock, create_i18n("vi"), "vi")
        report = await plan_report(factory, ctx, quarter, "D01")
        assert [g["status"] for g in report["groups"]] == ["optimal"] * 8
        for group in report["groups"]:
            async with factory() as s, s.begin():
                await publish(s, ctx, None, group["roster_id"], None)
        pairs = {(a["visitor"], a["branch"]) for g in report["groups"] for a in g["assignments"]}
        seen |= {branch for _, branch in pairs}
        # Rotation: on this data another choice always exists, so no pair repeats.
        assert not pairs & last, f"{quarter}: repeated {sorted(pairs & last)[:3]}"
        last = pairs
        # Every shortfall is explained in words.
        assert all(u["reason"] for g in report["groups"] for u in g["uncovered"])
    assert len(seen) == VISITED_BRANCHES
