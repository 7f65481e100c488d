"""From the database to the solver's instance: one program's branches, meetings, visitors.

A branch's meeting time is its scheduled (or planned) regular meeting of the month when there
is one, else the rule's date after the holiday shift, so a draft made before the plan job ran
still sees the right days. The need of each branch comes from the published visits of past
quarters: not yet visited this year counts most, then quarters since its last visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.meetings.plan import rule_slot
from bot.services.rosters.common import DEFAULT_CONFIG, Quarter, RosterConfig
from bot.services.rosters.solver import Instance, Slot, Visitor
from bot.services.vn_calendar import VN_TZ, is_holiday, local_to_utc, rule_date, to_local
from storage.models import Branch, Meeting, Member, VisitProgram, WorkingGroup
from storage.models.meetings import MeetingStatus
from storage.models.rosters import Cadence
from storage.repositories.rosters import RosterRepository

HISTORY_QUARTERS = 4


@dataclass
class ProgramInput:
    """The instance and the rows it came from, so a solution maps back to ids."""

    program: VisitProgram
    group: WorkingGroup
    quarter: Quarter
    instance: Instance
    branches: dict[str, Branch]  # branch code -> row
    members: dict[str, Member]  # member code -> row
    meetings: dict[str, Meeting | None]  # slot key -> the regular meeting, if planned yet
    periods: dict[str, tuple[int, int]] = field(default_factory=dict)  # slot key -> (y, m)

    def slot(self, key: str) -> Slot:
        return next(s for s in self.instance.slots if s.key == key)


def slot_key(branch: Branch, year: int, month: int) -> str:
    return f"{branch.code}:{year:04d}-{month:02d}"


def quarter_periods(program: VisitProgram, quarter: Quarter) -> list[tuple[int, int]]:
    months = quarter.months if program.cadence == Cadence.MONTHLY else quarter.months[:1]
    return [(quarter.year, m) for m in months]


def window_starts(
    branch: Branch, year: int, month: int, current: datetime, days: Sequence[int], tz: ZoneInfo
) -> tuple[datetime, ...]:
    """The other starts the month's rule allows: its window days at the usual time, holidays
    and the current date left out."""
    out = []
    for day in days:
        d = rule_date(year, month, day)
        if is_holiday(d):
            continue
        start = to_local(local_to_utc(d, branch.meeting_time, tz), tz)
        if start.date() != current.date():
            out.append(start)
    return tuple(sorted(set(out)))


def slot_start(
    branch: Branch, meeting: Meeting | None, year: int, month: int, tz: ZoneInfo
) -> datetime | None:
    """When a visit to the branch's regular meeting of the month would start: the meeting's
    own time when it is planned or scheduled, the rule's date before the plan job made it,
    None when it is cancelled (nobody can visit it)."""
    if meeting is not None and meeting.status == MeetingStatus.CANCELLED:
        return None
    if meeting is not None:
        return to_local(meeting.starts_at, tz)
    day = rule_slot(branch.meeting_day, year, month).day
    return to_local(local_to_utc(day, branch.meeting_time, tz), tz)


async def program_branches(repo: RosterRepository, program: VisitProgram) -> list[Branch]:
    if program.branch_ids:
        rows = await repo.branches(program.branch_ids)
        return sorted((b for b in rows.values() if b.active), key=lambda b: b.code)
    return await repo.visited_branches(program.working_group_id)


async def load_input(
    session: AsyncSession,
    program: VisitProgram,
    quarter: Quarter,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
) -> ProgramInput:
    repo = RosterRepository(session)
    group = await repo.group(program.working_group_id)
    assert group is not None
    branches = await program_branches(repo, program)
    members = await repo.group_members(group.id)
    periods = quarter_periods(program, quarter)
    meetings = await repo.regular_meetings([b.id for b in branches], periods)

    # Need: published visits of the last quarters at these branches.
    start, _ = quarter.bounds(tz)
    history_start, _ = quarter.shift(-HISTORY_QUARTERS).bounds(tz)
    year_start, _ = Quarter(quarter.year, 1).bounds(tz)
    past = await repo.published_visits(
        branch_ids=[b.id for b in branches], before=start, since=min(history_start, year_start)
    )
    by_id = {b.id: b for b in branches}
    member_codes = {m.id: m.code for m in members}
    visited_this_year: set[int] = set()
    last_quarter: dict[int, int] = {}
    history: dict[tuple[str, str], int] = {}
    for visit in past:
        q = Quarter.of(to_local(visit.starts_at, tz).date())
        ago = quarter.index - q.index
        if visit.starts_at >= year_start:
            visited_this_year.add(visit.branch_id)
        last_quarter[visit.branch_id] = min(last_quarter.get(visit.branch_id, ago), ago)
        code = member_codes.get(visit.visitor_member_id)
        if code is not None:
            pair = (code, by_id[visit.branch_id].code)
            history[pair] = min(history.get(pair, ago), ago)

    slots: list[Slot] = []
    slot_meetings: dict[str, Meeting | None] = {}
    slot_periods: dict[str, tuple[int, int]] = {}
    for branch in branches:
        for year, month in periods:
            meeting = meetings.get((branch.id, year, month))
            begins = slot_start(branch, meeting, year, month, tz)
            if begins is None:
                continue
            key = slot_key(branch, year, month)
            slots.append(
                Slot(
                    key=key,
                    branch=branch.code,
                    start=begins,
                    visited_this_year=branch.id in visited_this_year,
                    quarters_since_visit=last_quarter.get(branch.id),
                    visitors_needed=max(1, program.visitors_per_meeting),
                    window=window_starts(branch, year, month, begins, config.window_days, tz),
                )
            )
            slot_meetings[key] = meeting
            slot_periods[key] = (year, month)

    busy = await repo.busy_days([m.id for m in members], quarter.first_day, quarter.last_day)
    unavailable: dict[int, set[date]] = {}
    for row in busy:
        unavailable.setdefault(row.member_id, set()).add(row.day)
    home = await repo.branches(m.branch_id for m in members)
    visitors = tuple(
        Visitor(
            key=m.code,
            own_branch=home[m.branch_id].code if m.branch_id in home else None,
            unavailable=frozenset(unavailable.get(m.id, ())),
        )
        for m in members
    )
    instance = Instance(
        slots=tuple(slots),
        visitors=visitors,
        history=history,
        gap=timedelta(minutes=program.min_gap_minutes),
        max_visits=program.max_visits_per_quarter,
    )
    return ProgramInput(
        program=program,
        group=group,
        quarter=quarter,
        instance=instance,
        branches={b.code: b for b in branches},
        members={m.code: m for m in members},
        meetings=slot_meetings,
        periods=slot_periods,
    )
