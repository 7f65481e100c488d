"""Keeping a published roster true when a branch moves or cancels a visited meeting.

The visits follow their meeting (a new time, or DROPPED when it is cancelled); then the
program's quarter is solved again with the live visits as `previous`. The solver's objective
puts coverage first and the number of changed (visitor, meeting) pairs second, so a visitor
whose two visits now collide loses exactly one of them to someone free, and every assignment
that is still valid stays. Only the difference is applied, to meetings not yet started (the
past is history, never re-planned), each new pair checked against the rows once more, and
everybody affected is told: the visitors who lose or gain a visit, and the group's leader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.context import ServiceContext
from bot.services.meetings.events import MeetingChanged, subscribe
from bot.services.rosters.common import DEFAULT_CONFIG, Quarter, RosterConfig
from bot.services.rosters.handover import Scope, Teller, cannot_go, drop, scope_of
from bot.services.rosters.inputs import ProgramInput, load_input, slot_key
from bot.services.rosters.planning import ensure_meetings
from bot.services.rosters.solver import SolveStatus, solve
from storage.models import Meeting, Roster, RosterVisit
from storage.models.meetings import MeetingStatus
from storage.models.rosters import VisitStatus
from storage.repositories.meetings import MeetingRepository
from storage.repositories.rosters import RosterRepository

log = logging.getLogger("bot.rosters")


@dataclass(frozen=True)
class Repair:
    """What a meeting change did to the rosters visiting it: pairs kept, visits that follow
    the meeting's new time, visits dropped (cancelled meeting or a collision), visits added."""

    kept: int
    moved: list[RosterVisit]
    dropped: list[RosterVisit]
    added: list[RosterVisit]


@dataclass
class _Outcome:
    kept: int
    dropped: list[RosterVisit] = field(default_factory=list)
    added: list[RosterVisit] = field(default_factory=list)


async def repair_after_change(
    session: AsyncSession,
    ctx: ServiceContext,
    meeting_id: int,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
) -> Repair | None:
    """Called by the system after a meeting is rescheduled or cancelled; None when no
    published roster visits that meeting."""
    repo = RosterRepository(session)
    visits = await repo.published_visits(meeting_id=meeting_id)
    meeting = await MeetingRepository(session).get(meeting_id)
    if not visits or meeting is None:
        return None
    cancelled = meeting.status == MeetingStatus.CANCELLED
    tell = Teller(session, ctx)
    moved: list[RosterVisit] = []
    dropped: list[RosterVisit] = []
    added: list[RosterVisit] = []
    kept = 0
    for roster_id in sorted({v.roster_id for v in visits}):
        roster = await repo.roster(roster_id, for_update=True)
        assert roster is not None
        own = [v for v in visits if v.roster_id == roster_id]
        scope = await scope_of(session, own[0])
        before = {"meeting": meeting.id, "visits": [v.id for v in own]}
        here: list[RosterVisit] = []
        shifted: list[RosterVisit] = []
        for visit in own:
            if cancelled:
                drop(visit, "meeting_cancelled")
                here.append(visit)
            elif visit.starts_at != meeting.starts_at:
                visit.starts_at = meeting.starts_at
                shifted.append(visit)
        await session.flush()
        outcome = await _resolve(session, ctx, scope, config)
        kept += outcome.kept
        here += outcome.dropped
        new = outcome.added
        shifted = [v for v in shifted if v.status != VisitStatus.DROPPED]
        moved += shifted
        dropped += here
        added += new
        roster.version += 1
        await session.flush()
        await audit.record(
            session,
            action="roster_visit.repair",
            entity_type="roster",
            entity_id=roster.id,
            before=before,
            after={
                "starts_at": meeting.starts_at,
                "cancelled": cancelled,
                "dropped": [v.id for v in here],
                "added": [v.id for v in new],
                "version": roster.version,
            },
            actor_label="system",
            district_id=roster.district_id,
        )
        await _tell(tell, roster, scope, meeting, shifted, here, new)
    return Repair(kept, moved, dropped, added)


async def follow_meeting(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
) -> Repair | None:
    """The meeting-changed hook: whatever path moved or cancelled a meeting (`/schedule` at
    another time, `/reschedule`, `/cancel`, a move request, a rule change), the published
    rosters visiting it follow. A change of place or agenda alone keeps every visit."""
    if ev.created:
        return None
    newly_cancelled = ev.cancelled and ev.old_status is not MeetingStatus.CANCELLED
    if ev.old_starts_at == ev.new_starts_at and not newly_cancelled:
        return None
    return await repair_after_change(session, ctx, meeting.id)


REPAIR_HOOK = "rosters.repair"


def subscribe_meeting_changes() -> None:
    subscribe(REPAIR_HOOK, follow_meeting)


def _slot_of(visit: RosterVisit, inp: ProgramInput) -> str | None:
    branch = next((b for b in inp.branches.values() if b.id == visit.branch_id), None)
    return None if branch is None else slot_key(branch, visit.period_year, visit.period_month)


async def _resolve(
    session: AsyncSession, ctx: ServiceContext, scope: Scope, config: RosterConfig
) -> _Outcome:
    """Solve the roster's quarter again from its live visits; apply only the difference."""
    repo = RosterRepository(session)
    roster, now = scope.roster, ctx.now()
    inp = await load_input(
        session, scope.program, Quarter(roster.year, roster.quarter), config=config, tz=ctx.tz
    )
    codes = {m.id: code for code, m in inp.members.items()}
    future = {s.key for s in inp.instance.slots if s.start > now}
    at: dict[str, list[RosterVisit]] = {}
    for visit in await repo.visits(roster.id):
        key = _slot_of(visit, inp)
        if key in future and visit.visitor_member_id in codes:
            at.setdefault(key, []).append(visit)
    previous = {k: frozenset(codes[v.visitor_member_id] for v in vs) for k, vs in at.items()}
    instance = replace(
        inp.instance,
        slots=tuple(s for s in inp.instance.slots if s.key in future),
        previous=previous,
    )
    # In a worker thread, as `make_draft` solves: CP-SAT releases the GIL while it searches,
    # so the bot goes on answering people during the solve.
    solution = await asyncio.to_thread(solve, instance, time_limit=config.time_limit)
    total = sum(len(v) for v in previous.values())
    if solution.status == SolveStatus.INFEASIBLE:
        log.warning("roster %s: repair found no roster; visits left as they are", roster.id)
        return _Outcome(kept=total)
    dropped: list[RosterVisit] = []
    freed: dict[str, list[RosterVisit]] = {}
    for key, standing in at.items():
        chosen = set(solution.assignments.get(key, ()))
        for visit in standing:
            if codes[visit.visitor_member_id] not in chosen:
                drop(visit, "repair")
                dropped.append(visit)
                freed.setdefault(key, []).append(visit)
    await session.flush()
    added: list[RosterVisit] = []
    for key in sorted(solution.assignments):
        if key not in future:
            continue
        for code in sorted(set(solution.assignments[key]) - previous.get(key, frozenset())):
            visit = _new_visit(inp, key, code, roster, freed.get(key, []), now)
            member = inp.members[code]
            probe = Scope(visit, roster, scope.program, scope.group)
            if await cannot_go(session, ctx, probe, member) is not None:
                continue  # the rows disagree with the instance (another group's visit): skip
            session.add(visit)
            await session.flush()
            added.append(visit)
    if any(v.meeting_id is None for v in added):
        await ensure_meetings(session, ctx, roster)
    return _Outcome(kept=total - len(dropped), dropped=dropped, added=added)


def _new_visit(
    inp: ProgramInput,
    key: str,
    code: str,
    roster: Roster,
    freed: list[RosterVisit],
    now: datetime,
) -> RosterVisit:
    slot, meeting = inp.slot(key), inp.meetings.get(key)
    year, month = inp.periods[key]
    return RosterVisit(
        roster_id=roster.id,
        district_id=roster.district_id,
        branch_id=inp.branches[slot.branch].id,
        meeting_id=meeting.id if meeting is not None else None,
        period_year=year,
        period_month=month,
        starts_at=meeting.starts_at if meeting is not None else slot.start,
        visitor_member_id=inp.members[code].id,
        status=VisitStatus.ASSIGNED,
        replaces_visit_id=freed.pop(0).id if freed else None,
        created_at=now,
    )


async def _tell(
    tell: Teller,
    roster: Roster,
    scope: Scope,
    meeting: Meeting,
    moved: Sequence[RosterVisit],
    dropped: Sequence[RosterVisit],
    added: Sequence[RosterVisit],
) -> None:
    """Each visitor who follows, loses or gains a visit, then the leader's summary."""
    stamp = f"m{meeting.id}:v{meeting.version}"
    for visit in moved:
        await tell.tell(
            visit.visitor_member_id,
            "roster.visit.moved",
            f"visit:{visit.id}:moved:{stamp}",
            params_for=await tell.about(visit),
            origin_id=visit.id,
        )
    for visit in dropped:
        cancelled = visit.dropped_reason == "meeting_cancelled"
        await tell.tell(
            visit.visitor_member_id,
            "roster.visit.cancelled" if cancelled else "roster.visit.dropped",
            f"visit:{visit.id}:dropped",
            params_for=await tell.about(visit),
            origin_id=visit.id,
        )
    for visit in added:
        await tell.tell(
            visit.visitor_member_id,
            "roster.visit.given",
            f"visit:{visit.id}:given",
            params_for=await tell.about(visit),
            origin_id=visit.id,
        )
    lines = [await _line(tell, "roster.repair.line_dropped", v) for v in dropped] + [
        await _line(tell, "roster.repair.line_added", v) for v in added
    ]
    head = (
        "roster.repair.cancelled"
        if meeting.status == MeetingStatus.CANCELLED
        else "roster.repair.moved"
    )
    about = await tell.about(scope.visit)
    i18n = tell.ctx.i18n

    def params(locale: str) -> dict[str, str]:
        rendered = "\n".join(line(locale) for line in lines)
        return {
            **about(locale),
            "changes": rendered or i18n.t("roster.repair.no_change", locale),
        }

    await tell.tell(
        scope.group.leader_member_id,
        head,
        f"roster:{roster.id}:repair:{stamp}",
        params_for=params,
        origin_id=roster.id,
    )


async def _line(tell: Teller, key: str, visit: RosterVisit) -> Callable[[str], str]:
    about = await tell.about(visit)
    name = await tell.name(visit.visitor_member_id)
    i18n = tell.ctx.i18n
    return lambda locale: i18n.t(key, locale, name=name, **about(locale))
