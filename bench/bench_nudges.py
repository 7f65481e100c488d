"""Nudges sweep speed: a 30-district city of the sample district (~209,000 members, ~8,200
branches) with about 10% of every kind of obligation open, swept on PostgreSQL (and SQLite
with `--backend`).

The city is imported into a fresh database; then, as of Friday 2027-01-08 10:00 (the clock is
fixed there for the whole run): every
secretary, deputy and working-group member has an account, each district an admin, half the
units a group chat; a year of regular meetings (January 2026 to March 2027, as the plan job
made them), those held scheduled and 90% reported (the ones of the past days too), the next
3 days' 90% confirmed; every working group has a published roster for each quarter of 2026
and 2027-Q1 (one visit per visited branch at the quarter's first-month meeting; 2027-Q1
published 4 days ago, 90% confirmed, 90% of its held visits reported; the past ones all
done); one feedback item per branch, deadlines spread over ±10 days, 10% still waiting; and
20,000 obligations nudged and met in 2026 (tracks and events).

The first sweep decides (and writes) every nudge due at once, as after a long stop; the next
ones are the steady state (every few minutes: read, decide, nothing new). Printed: both
times, and the PostgreSQL plans of the steady sweep's queries (EXPLAIN with their
parameters), with any sequential scan of a large table named. Target: under 2 s per sweep.

    python -m bench nudges [--quick] [--districts N] [--backend postgresql|sqlite|both]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, event, func, insert, literal, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.bench_import import _pg_admin, _pg_admin_url
from bench.common import fixed_clock, require_postgresql, sample_city, sample_district
from bot.i18n import create_i18n
from bot.services.context import ServiceContext
from bot.services.meetings import generate_plan
from bot.services.nudges import sweep
from bot.services.org_import import apply_org, load_and_validate
from bot.services.rosters.planning import ensure_programs
from bot.services.vn_calendar import local_to_utc
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    FeedbackItem,
    Meeting,
    Member,
    NudgeTrack,
    Roster,
    RosterVisit,
    TelegramUser,
    Unit,
    VisitProgram,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.org import VISITED_BRANCH_KINDS

NOW = local_to_utc(date(2027, 1, 8), dtime(10))
LIMIT = 2.0
TG = 9_000_000_000  # accounts given to members who have none: TG + member id
# Sequential scans of these are named in the summary; one of members fails the run (the issue:
# "no full scan of members per obligation").
BIG_TABLES = ("members", "meetings", "meeting_reports", "roster_visits", "feedback_items")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def _populate(factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    # A year of history: each month's plan as the daily job made it (February 2027 last).
    for month in range(1, 14):
        year, mo = (2026, month) if month <= 12 else (2027, 1)
        plan_clock = Clock(local_to_utc(date(year, mo, 1), dtime(0, 1)))
        async with factory() as s, s.begin():
            await generate_plan(s, plan_clock)
    async with factory() as s, s.begin():
        seated = select(WorkingGroupMember.member_id)
        leaders = Member.role.in_(["secretary", "deputy_secretary"])
        await s.execute(
            update(Member)
            .where(Member.telegram_id.is_(None), leaders | Member.id.in_(seated))
            .values(telegram_id=literal(TG, BigInteger) + Member.id)
        )
        await s.execute(
            insert(TelegramUser).from_select(
                ["id", "first_name"],
                select(Member.telegram_id, func.min(Member.full_name))
                .where(Member.telegram_id.is_not(None), Member.active)
                .group_by(Member.telegram_id),
            )
        )
        districts = list(await s.scalars(select(Unit).where(Unit.id == Unit.district_id)))
        for i, d in enumerate(districts):
            s.add(CommitteeAdmin(district_id=d.id, telegram_id=TG - 1 - i))
            s.add(TelegramUser(id=TG - 1 - i, first_name="Admin"))
        units = list(await s.scalars(select(Unit).where(Unit.id != Unit.district_id)))
        for u in units[::2]:
            s.add(
                ChatBinding(
                    chat_id=-1_005_000_000_000 - u.id,
                    target_type="unit",
                    target_id=u.id,
                    district_id=u.district_id,
                )
            )
        # Meetings: held ones scheduled and 90% reported; the next 3 days' 90% confirmed.
        await s.execute(update(Meeting).where(Meeting.starts_at < NOW).values(status="scheduled"))
        await s.execute(
            update(Meeting)
            .where(
                Meeting.starts_at >= NOW,
                Meeting.starts_at <= NOW + timedelta(days=3),
                Meeting.id % 10 != 0,
            )
            .values(status="scheduled")
        )
        await s.execute(
            text(
                "INSERT INTO meeting_reports (meeting_id, version, held, present_count, absent,"
                " minutes_kept, resolution, topics, proposals, submitted_at)"
                " SELECT id, 1, :t, 5, '[]', :f, '', '[]', '[]', starts_at FROM meetings"
                " WHERE starts_at < :now AND id % 10 != 0"
            ),
            {"now": NOW, "t": True, "f": False},
        )
        for d in districts:
            await ensure_programs(s, d.id)
    await _rosters(factory)
    await _feedback(factory)
    await _history(factory, 20_000)
    async with factory() as s:
        counts = {}
        for name in ("members", "meetings", "roster_visits", "feedback_items", "nudge_events"):
            counts[name] = int(await s.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
    return counts


QUARTERS = [(2026, 1), (2026, 2), (2026, 3), (2026, 4), (2027, 1)]


async def _rosters(factory: async_sessionmaker[AsyncSession]) -> None:
    """A published roster per program and quarter of 2026 and 2027-Q1: a visit per visited
    branch at its meeting of the quarter's first month, visitors taken in turn; the past ones
    confirmed and reported; in 2027-Q1 90% confirmed and 90% of the held ones reported."""
    async with factory() as s, s.begin():
        programs = list(await s.scalars(select(VisitProgram)))
        for p in programs:
            group = await s.get(WorkingGroup, p.working_group_id)
            assert group is not None
            people = list(
                await s.scalars(
                    select(WorkingGroupMember.member_id).where(
                        WorkingGroupMember.working_group_id == group.id
                    )
                )
            )
            units = select(WorkingGroupUnit.unit_id).where(
                WorkingGroupUnit.working_group_id == group.id
            )
            for year, quarter in QUARTERS:
                current = (year, quarter) == QUARTERS[-1]
                month = 3 * quarter - 2
                roster = Roster(
                    program_id=p.id,
                    district_id=p.district_id,
                    year=year,
                    quarter=quarter,
                    status="published",
                    published_at=(
                        NOW - timedelta(days=4)
                        if current
                        else local_to_utc(date(year, month, 1), dtime(9)) - timedelta(days=10)
                    ),
                )
                s.add(roster)
                await s.flush()
                rows = await s.execute(
                    select(Branch.id, Meeting.id, Meeting.starts_at)
                    .join(Meeting, Meeting.branch_id == Branch.id)
                    .where(
                        Branch.unit_id.in_(units),
                        Branch.kind.in_([k.value for k in VISITED_BRANCH_KINDS]),
                        Meeting.period_year == year,
                        Meeting.period_month == month,
                        Meeting.kind == "regular",
                    )
                )
                for i, (branch_id, meeting_id, starts_at) in enumerate(rows.all()):
                    confirmed = not current or meeting_id % 10
                    s.add(
                        RosterVisit(
                            roster_id=roster.id,
                            district_id=p.district_id,
                            branch_id=branch_id,
                            meeting_id=meeting_id,
                            period_year=year,
                            period_month=month,
                            starts_at=starts_at,
                            visitor_member_id=people[i % len(people)],
                            status="confirmed" if confirmed else "assigned",
                        )
                    )
        await s.flush()
        await s.execute(
            text(
                "INSERT INTO visit_reports (visit_id, attended, quality, note, submitted_at)"
                " SELECT id, :t, 'good', '', starts_at FROM roster_visits"
                " WHERE starts_at < :now AND (id % 10 != 0 OR starts_at < :year)"
            ),
            {"now": NOW, "t": True, "year": local_to_utc(date(2027, 1, 1), dtime(0))},
        )


async def _history(factory: async_sessionmaker[AsyncSession], n: int) -> None:
    """`n` obligations nudged in 2026, done: their tracks and two events each."""
    async with factory() as s, s.begin():
        districts = list(await s.scalars(select(Unit.id).where(Unit.id == Unit.district_id)))
        start = local_to_utc(date(2026, 1, 10), dtime(9))
        tracks = [
            {
                "key": f"report:h{i}",
                "kind": "meeting_report",
                "district_id": districts[i % len(districts)],
                "since": start + timedelta(minutes=25 * i),
                "started_at": start + timedelta(minutes=25 * i, hours=24),
                "ended_at": start + timedelta(minutes=25 * i, hours=30),
                "end": "met",
            }
            for i in range(n)
        ]
        for chunk in range(0, n, 2000):
            await s.execute(insert(NudgeTrack), tracks[chunk : chunk + 2000])
        await s.execute(
            text(
                "INSERT INTO nudge_events (track_id, key, kind, district_id, chat_id, step, at)"
                " SELECT id, key, kind, district_id, :chat, 'nudge1', started_at"
                " FROM nudge_tracks"
            ),
            {"chat": TG},
        )


async def _feedback(factory: async_sessionmaker[AsyncSession]) -> None:
    """One item per branch, deadlines spread over ±10 days, 10% still waiting."""
    async with factory() as s, s.begin():
        branches = list(await s.scalars(select(Branch).order_by(Branch.id)))
        numbers: dict[int, int] = {}
        rows = []
        for b in branches:
            numbers[b.district_id] = numbers.get(b.district_id, 0) + 1
            waiting = b.id % 10 == 0
            rows.append(
                {
                    "district_id": b.district_id,
                    "year": 2027,
                    "number": numbers[b.district_id],
                    "branch_id": b.id,
                    "unit_id": b.unit_id,
                    "raised_as": "member",
                    "category": "infra",
                    "text": "Đường thôn bị hỏng",
                    "level_type": "branch" if b.id % 3 else "unit",
                    "level_id": b.id if b.id % 3 else b.unit_id,
                    "reached_level_at": NOW - timedelta(days=15),
                    "deadline": NOW + timedelta(hours=(b.id * 7) % 480 - 240),
                    "status": "open" if waiting else "closed",
                    "created_at": NOW - timedelta(days=15),
                    "updated_at": NOW,
                }
            )
        for start in range(0, len(rows), 2000):
            await s.execute(insert(FeedbackItem), rows[start : start + 2000])


async def _timed_sweep(
    factory: async_sessionmaker[AsyncSession], ctx: ServiceContext
) -> tuple[float, Any]:
    started = time.perf_counter()
    async with factory() as s, s.begin():
        result = await sweep(s, ctx)
    return time.perf_counter() - started, result


async def _plans(engine: AsyncEngine, statements: list[tuple[str, Any]]) -> list[str]:
    """EXPLAIN of each distinct statement with its parameters; returns the warnings."""
    warnings = []
    seen = set()
    async with engine.connect() as conn:
        for statement, params in statements:
            if not statement.lstrip().upper().startswith("SELECT") or statement in seen:
                continue
            seen.add(statement)
            raw = await conn.exec_driver_sql("EXPLAIN " + statement, params)
            plan = [row[0] for row in raw.all()]
            print("-- " + " ".join(statement.split())[:300])
            for line in plan:
                print("   " + line)
            for line in plan:
                for table in BIG_TABLES:
                    if f"Seq Scan on {table}" in line:
                        warnings.append(f"{table}: {line.strip()}")
    return warnings


async def _one(name: str, folder: Path, url: str, explain: bool, profile: bool = False) -> bool:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        factory = create_session_factory(engine)
        data, errors = load_and_validate(folder)
        assert not errors, errors[:3]
        started = time.perf_counter()
        async with factory() as s, s.begin():
            await apply_org(s, data)
        counts = await _populate(factory)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
        setup = time.perf_counter() - started
        clock = Clock(NOW)
        ctx = ServiceContext(clock, create_i18n("vi"), "vi")
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        first, result = await _timed_sweep(factory, ctx)
        if profile:
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        steady = []
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            captured.append((statement, params))

        for i in range(3):
            clock.at = NOW + timedelta(minutes=5 * (i + 1))
            if i == 2:
                event.listen(engine.sync_engine, "before_cursor_execute", capture)
            seconds, again = await _timed_sweep(factory, ctx)
            steady.append(seconds)
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        median = statistics.median(steady)
        print(
            f"{name} [{engine.dialect.name}]: {counts['members']:,} members, "
            f"{counts['meetings']:,} meetings, {counts['roster_visits']:,} visits, "
            f"{counts['feedback_items']:,} feedback items, {counts['nudge_events']:,} past nudge "
            f"events (set-up {setup:.0f} s)"
        )
        print(
            f"  first sweep {first:.2f} s: {result.obligations:,} owed, {result.due:,} due, "
            f"{result.nudges:,} nudges and {result.escalations:,} escalations queued "
            f"({result.events:,} events)"
        )
        print(
            f"  steady sweep median {median:.2f} s (runs: "
            + ", ".join(f"{x:.2f}" for x in steady)
            + f"; queued {again.nudges + again.escalations}) "
            + ("OK" if median < LIMIT else "OVER")
            + f" (target {LIMIT:.0f} s), {len(captured)} statements"
        )
        warnings: list[str] = []
        if explain and engine.dialect.name == "postgresql":
            warnings = await _plans(engine, captured)
            print("  sequential scans of large tables: " + ("; ".join(warnings) or "none"))
        return median < LIMIT and not [w for w in warnings if w.startswith("members:")]
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench nudges")
    parser.add_argument("--quick", action="store_true", help="one district instead of the city")
    parser.add_argument("--districts", type=int, default=30)
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite", "both"])
    parser.add_argument("--profile", action="store_true", help="cProfile the first sweep")
    args = parser.parse_args(argv)
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        require_postgresql()
    ok = True
    with tempfile.TemporaryDirectory() as tmp, fixed_clock(NOW):
        if args.quick:
            folder, name = sample_district(Path(tmp) / "district"), "district"
        else:
            folder = sample_city(Path(tmp) / "city", args.districts)
            name = f"city ({args.districts} districts)"
        for backend in backends:
            pg_name = ""
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp}/nudges-{uuid.uuid4().hex[:6]}.db"
            else:
                pg_name = f"bench_nudges_{uuid.uuid4().hex[:10]}"
                asyncio.run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
                url = make_url(_pg_admin_url()).set(database=pg_name).render_as_string(False)
            try:
                ok &= asyncio.run(_one(name, folder, url, explain=True, profile=args.profile))
            finally:
                if pg_name:
                    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    return 0 if ok else 1
