"""When a quarter's visits begin, and the one rule that follows from it: nothing is drafted,
offered or published for a quarter whose visits have begun.

A roster tells visitors where to go; once the first visit of a quarter has started, a draft
for it would plan (and a publication announce) visits that are over or going on, and the
coverage figures would count branches nobody visited. "Begun" is decided here only, from the
same meeting times the solver plans with, so the picker, the check screen, the publish, the
drafts job and the command line can never disagree about it.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.inputs import program_branches, quarter_periods, slot_start
from bot.services.vn_calendar import VN_TZ, ReadableDay, to_local
from storage.models import VisitProgram
from storage.repositories.rosters import RosterRepository


def quarter_start(quarter: Quarter, tz: ZoneInfo = VN_TZ) -> datetime:
    """The earliest moment any visit of the quarter can be: its first day at midnight."""
    return datetime.combine(quarter.first_day, time.min, tzinfo=tz)


async def visits_begin(
    session: AsyncSession,
    program: VisitProgram | None,
    quarter: Quarter,
    tz: ZoneInfo = VN_TZ,
) -> datetime:
    """The start of the quarter's first visit for the program: the earliest meeting of the
    quarter's first month at the branches it visits (the scheduled or planned meeting, the
    rule's date where none is planned yet, a cancelled one skipped), as the solver would place
    the visit. Without a program or a branch to visit, the quarter's first day."""
    if program is None:
        return quarter_start(quarter, tz)
    repo = RosterRepository(session)
    branches = await program_branches(repo, program)
    year, month = quarter_periods(program, quarter)[0]
    meetings = await repo.regular_meetings([b.id for b in branches], [(year, month)])
    starts = [
        start
        for b in branches
        if (start := slot_start(b, meetings.get((b.id, year, month)), year, month, tz)) is not None
    ]
    return min(starts, default=quarter_start(quarter, tz))


def has_begun(begin: datetime, now: datetime) -> bool:
    """Begun from the first visit's start on: a visit going on is no longer planned."""
    return begin <= now


async def ensure_open(
    session: AsyncSession,
    program: VisitProgram | None,
    quarter: Quarter,
    now: datetime,
    tz: ZoneInfo = VN_TZ,
) -> None:
    """Refuse (`roster.quarter_begun`, the quarter and the first visit's date) before anything
    is written when the quarter's visits have begun for the program."""
    begin = await visits_begin(session, program, quarter, tz)
    if has_begun(begin, now):
        raise RosterError(
            "roster.quarter_begun", quarter=quarter, first=ReadableDay(to_local(begin, tz).date())
        )


async def is_open(
    session: AsyncSession,
    program: VisitProgram | None,
    quarter: Quarter,
    now: datetime,
    tz: ZoneInfo = VN_TZ,
) -> bool:
    """`ensure_open` as a question (what /roster offers)."""
    return not has_begun(await visits_begin(session, program, quarter, tz), now)
