"""Roster solving speed: a 2026 commune committee (the sample `commune` shape: 50 branches,
20 committee members attending monthly) by month and by quarter, a quarter of the sample
district (the generator's default) and of a 30-district city of it, solved from the database
(imported into a fresh SQLite file), every group's draft made the way the draft job makes it,
ten days before the quarter (the clock is fixed there, as the draft job would see it).

Per group: the solver status, covered/due, the largest load and the solve time (the whole
use case: reading the database, solving every level, writing the draft). Targets: a commune
committee's month proven optimal in under 1 s, a district quarter in under 1 s, the city in
under 30 s. Baseline in the same run: the same groups' time to read their instance from the
database alone, so the ratio says what the solver adds on top of just loading the data.

    python -m bench roster [--quick] [--districts N] [--quarter 2027-Q1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import fixed_clock, sample_city, sample_district
from bot.i18n import create_i18n
from bot.sample_org import write_sample
from bot.services.context import ServiceContext
from bot.services.org_import import apply_org, load_and_validate
from bot.services.rosters.cli_report import plan_report
from bot.services.rosters.common import Quarter
from bot.services.rosters.inputs import load_input
from bot.services.rosters.solver import solve
from bot.services.vn_calendar import local_to_utc
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.repositories.rosters import RosterRepository

# The commune's quarter is three months of every branch (about 150 meetings) in one model, the
# largest single group there is; its month alone is the acceptance figure (MONTH_LIMIT).
LIMITS = {"district": 1.0, "city": 30.0, "commune": 10.0}
# A 2026 commune committee's month: its 50 branches' meetings, its 20 members attending.
MONTH_LIMIT = 1.0


@dataclass
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


class LoopWatch:
    """How long the event loop went without a turn while the drafts were made: the time a
    person's message would have waited for an answer. A ticker asks for a turn every 5 ms."""

    TICK = 0.005

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.TICK)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - self.TICK)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def draft_moment(quarter: Quarter) -> datetime:
    """Ten days before the quarter, 09:00, when the draft job runs."""
    return local_to_utc(quarter.first_day, dtime(9, 0)) - timedelta(days=10)


async def _one(name: str, folder: Path, quarter: Quarter, verbose: bool) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        try:
            await upgrade_to_head(engine)
            factory = create_session_factory(engine)
            data, errors = load_and_validate(folder)
            assert not errors, errors[:3]
            async with factory() as s, s.begin():
                await apply_org(s, data)
            clock = FixedClock(draft_moment(quarter))
            ctx = ServiceContext(clock, create_i18n("vi"), "vi")
            # Baseline: reading every group's instance only.
            started = time.perf_counter()
            async with factory() as s:
                for program in await RosterRepository(s).programs():
                    await load_input(s, program, quarter)
            baseline = time.perf_counter() - started
            started = time.perf_counter()
            async with LoopWatch() as watch:
                report = await plan_report(factory, ctx, quarter, None)
            total = time.perf_counter() - started
            month_ok = await _months(factory, quarter) if name == "commune" else True
        finally:
            await engine.dispose()
    groups = report["groups"]
    optimal = sum(g["status"] == "optimal" for g in groups)
    covered = sum(g["covered"] for g in groups)
    due = sum(g["due"] for g in groups)
    if verbose:
        print(f"{'group':<12}{'status':<11}{'covered':>10}{'max load':>10}{'seconds':>10}")
        for g in groups:
            print(
                f"{g['code']:<12}{g['status']:<11}{g['covered']:>5}/{g['due']:<4}"
                f"{g['max_load']:>10}{g['seconds']:>10.3f}"
            )
    slowest = max((g["seconds"] for g in groups), default=0.0)
    limit = LIMITS[name]
    ok = total < limit and optimal == len(groups) and month_ok
    print(
        f"{name}: {len(groups)} groups, {optimal} optimal, covered {covered}/{due}, "
        f"total {total:.2f}s (limit {limit:.0f}s; slowest group {slowest:.3f}s; "
        f"baseline read-only {baseline:.2f}s, ratio {total / max(baseline, 1e-9):.1f}x; "
        f"longest stall of the event loop meanwhile {watch.worst * 1000:.0f} ms) "
        f"{'OK' if ok else 'OVER'}",
        flush=True,
    )
    return ok


async def _months(factory: async_sessionmaker[AsyncSession], quarter: Quarter) -> bool:
    """Each month of the commune committee's quarter solved alone: one line per month."""
    ok = True
    async with factory() as s:
        for program in await RosterRepository(s).programs():
            inp = await load_input(s, program, quarter)
            for year, month in sorted(set(inp.periods.values())):
                month_slots = tuple(
                    slot for slot in inp.instance.slots if inp.periods[slot.key] == (year, month)
                )
                instance = replace(inp.instance, slots=month_slots)
                solution = solve(instance)
                good = solution.status == "optimal" and solution.wall_time < MONTH_LIMIT
                ok &= good
                print(
                    f"commune month {year}-{month:02d}: {len(month_slots)} branches, "
                    f"{len(instance.visitors)} members, {solution.status}, covered "
                    f"{len(solution.assignments)}/{len(month_slots)}, "
                    f"{solution.wall_time:.3f}s (limit {MONTH_LIMIT:.0f}s) "
                    f"{'OK' if good else 'OVER'}",
                    flush=True,
                )
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench roster")
    parser.add_argument("--quick", action="store_true", help="the district only")
    parser.add_argument("--districts", type=int, default=30)
    parser.add_argument("--quarter", default="2027-Q1")
    args = parser.parse_args(argv)
    quarter = Quarter.parse(args.quarter)
    with tempfile.TemporaryDirectory() as tmp, fixed_clock(draft_moment(quarter)):
        district = sample_district(Path(tmp) / "district")
        commune = Path(tmp) / "commune"
        write_sample(commune, "commune", 1, 0)
        ok = asyncio.run(_one("commune", commune, quarter, True))
        ok &= asyncio.run(_one("district", district, quarter, True))
        if not args.quick:
            city = sample_city(Path(tmp) / "city", args.districts)
            ok &= asyncio.run(_one("city", city, quarter, False))
    return 0 if ok else 1
