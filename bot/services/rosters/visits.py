"""A visitor's own side of the roster: the days they cannot go, their visits, their reports.

Busy days feed the next draft only: a day marked after publication changes no published visit
(the person hands that visit back instead: `mark_busy` tells the leader and offers it), because
a silent change to a published plan would leave the branch and the group misinformed.

A visit report is the visitor's account of the meeting: whether they went, how the meeting
was, and the members' proposals they heard. Each proposal becomes a `HeardProposal` row the
feedback feature picks up, and the group's leader gets a one-line summary in private.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.rosters.common import (
    DEFAULT_CONFIG,
    NOTE_MAX,
    PROPOSAL_MAX,
    PROPOSALS_MAX,
    Quarter,
    RosterConfig,
    RosterError,
)
from bot.services.rosters.handover import HANDED, Teller, own_live_visit, scope_of
from bot.services.rosters.notices import RosterNotices
from bot.services.vn_calendar import VN_TZ, ReadableDay, ReadableMoment, to_local
from storage.models import Branch, Meeting, RosterVisit, VisitReport
from storage.models.rosters import VisitQuality
from storage.repositories.access import AccessRepository
from storage.repositories.meetings import MeetingRepository
from storage.repositories.rosters import RosterRepository

# C0 and C1 control characters except tab and newline: a NUL breaks PostgreSQL text, the others
# only hide text from the person reading it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Busy days ------------------------------------------------------------------------------------


def busy_quarter(ctx: ServiceContext) -> Quarter:
    """The quarter /busy opens on: the coming one, whose draft the busy days still shape."""
    return Quarter.of(ctx.today()).shift(1)


def busy_range(ctx: ServiceContext) -> tuple[date, date]:
    """Days a person may mark: from today to the end of the coming quarter. Past days change
    nothing, and later quarters are too far for anyone to know."""
    return ctx.today(), busy_quarter(ctx).last_day


async def _seated_members(session: AsyncSession, actor: Actor) -> dict[int, int]:
    """member id -> district id of the actor's member rows that sit in a working group.

    A person is normally one member row; each row that may be rostered carries the day, so
    whichever group drafts next sees it."""
    if not actor.groups:
        raise RosterError("roster.not_a_visitor")
    districts = {m.member_id: m.district_id for m in actor.memberships}
    seats = await AccessRepository(session).working_groups_of_members(list(districts))
    out = {member_id: districts[member_id] for _, member_id in seats if member_id in districts}
    if not out:
        raise RosterError("roster.not_a_visitor")
    return out


async def busy_days(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, quarter: Quarter
) -> tuple[Quarter, set[date]]:
    """The quarter shown (a quarter outside the editable ones falls back to the coming one, so
    an old button never opens a calendar nobody may change) and the person's busy days in it."""
    members = await _seated_members(session, actor)
    current = Quarter.of(ctx.today())
    if quarter not in (current, current.shift(1)):
        quarter = busy_quarter(ctx)
    rows = await RosterRepository(session).busy_days(members, quarter.first_day, quarter.last_day)
    return quarter, {row.day for row in rows}


async def _set_busy(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, day: date, busy: bool | None
) -> bool:
    """Mark or unmark `day` for every rostered member row of the person (`busy`: set it so;
    None: the other way round); True = now busy. Private: a busy day is marked through
    `mark_busy` only, so no way of marking one can skip saying its conflicts."""
    members = await _seated_members(session, actor)
    first, last = busy_range(ctx)
    if not first <= day <= last:
        raise RosterError(
            "roster.busy.out_of_range", first=ReadableDay(first), last=ReadableDay(last)
        )
    repo = RosterRepository(session)
    was = bool(await repo.busy_days(members, day, day))
    if busy is not None and busy == was:
        return was
    now = ctx.now()
    for member_id, district_id in sorted(members.items()):
        await repo.set_busy(member_id, day, not was, now)
        await audit.record(
            session,
            action="roster.busy",
            entity_type="member",
            entity_id=member_id,
            district_id=district_id,
            actor_id=actor.telegram_id,
            before={"day": day, "busy": was},
            after={"day": day, "busy": not was},
        )
    return not was


@dataclass(frozen=True)
class BusyChange:
    """A day marked or unmarked: whether it is now busy, and the person's visits that day
    they may still hand back (each offered on the screen); `unreached`: those of them whose
    group's leader the Trợ lý could not tell (no private chat), so the screen never claims
    the leader knows when they do not."""

    busy: bool
    clashes: list[VisitInfo]
    unreached: list[VisitInfo] = field(default_factory=list)


async def mark_busy(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    day: date,
    busy: bool | None = None,
) -> BusyChange:
    """The one use case behind every way of marking a busy day (`/busy DD/MM/YYYY` sets it,
    `busy=True`; a tap on the calendar toggles it, None). A busy day on one's own published
    visit still ahead is a conflict said out loud: the leader hears of it at once, once per
    visit and day (not at the next nudge, which must not ask to confirm that very visit),
    and the person is offered the hand-back."""
    now_busy = await _set_busy(session, ctx, actor, day, busy)
    if not now_busy:
        return BusyChange(False, [])
    clashes = [
        i
        for i in await visits_on(session, actor, day, tz=ctx.tz)
        # Only a visit they may still give away: one on offer or handed back is in hand.
        if i.visit.starts_at > ctx.now() and i.visit.status in HANDED
    ]
    tell = Teller(session, ctx)
    unreached = []
    for info in clashes:
        scope = await scope_of(session, info.visit)
        leader = await tell.member(scope.group.leader_member_id)
        if leader is not None and leader.id == info.visit.visitor_member_id:
            continue  # the leader's own visit: they know
        if leader is None or not await tell.reachable(leader):
            unreached.append(info)
            continue
        await tell.tell(
            leader.id,
            "roster.busy.leader_told",
            f"visit:{info.visit.id}:busy:{day:%Y%m%d}",  # once, however often it is marked
            params_for=await tell.about(info.visit),
            origin_id=info.visit.id,
            name=await tell.name(info.visit.visitor_member_id),
        )
    return BusyChange(True, clashes, unreached)


# The visitor's visits -------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitInfo:
    visit: RosterVisit
    branch: Branch
    meeting: Meeting | None
    report: VisitReport | None


def _member_ids(actor: Actor) -> list[int]:
    return sorted({m.member_id for m in actor.memberships})


async def _infos(session: AsyncSession, visits: list[RosterVisit]) -> list[VisitInfo]:
    repo = RosterRepository(session)
    meetings = MeetingRepository(session)
    branches = await repo.branches(v.branch_id for v in visits)
    reports = await repo.reports(v.id for v in visits)
    out = []
    for v in visits:
        meeting = await meetings.get(v.meeting_id) if v.meeting_id is not None else None
        out.append(VisitInfo(v, branches[v.branch_id], meeting, reports.get(v.id)))
    return out


def reportable(visit: RosterVisit, now: datetime, config: RosterConfig = DEFAULT_CONFIG) -> bool:
    """Started, and still inside the report window (a report is not checked here)."""
    return visit.starts_at <= now <= visit.starts_at + timedelta(days=config.report_days)


async def my_visits(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    *,
    reportable_only: bool = False,
    config: RosterConfig = DEFAULT_CONFIG,
) -> list[VisitInfo]:
    """The person's live published visits, upcoming and recent (still within the report
    window), soonest first; `reportable_only`: started, in the window, not reported yet."""
    now = ctx.now()
    since = now - timedelta(days=config.report_days)
    repo = RosterRepository(session)
    visits: list[RosterVisit] = []
    for member_id in _member_ids(actor):
        visits += await repo.published_visits(visitor_id=member_id, since=since)
    if reportable_only:
        visits = [v for v in visits if reportable(v, now, config)]
    visits.sort(key=lambda v: (v.starts_at, v.id))
    infos = await _infos(session, visits)
    if reportable_only:
        infos = [i for i in infos if i.report is None]
    return infos


async def visits_on(
    session: AsyncSession, actor: Actor, day: date, *, tz: ZoneInfo = VN_TZ
) -> list[VisitInfo]:
    """The person's live published visits on a local day: after marking it busy, the handler
    says "you already have a visit that day: hand it back" (the visit itself is not changed)."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = start + timedelta(days=1)
    repo = RosterRepository(session)
    visits: list[RosterVisit] = []
    for member_id in _member_ids(actor):
        visits += await repo.published_visits(visitor_id=member_id, since=start, before=end)
    visits.sort(key=lambda v: (v.starts_at, v.id))
    return await _infos(session, visits)


# Reports --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitReportInput:
    attended: bool
    quality: VisitQuality | None
    proposals: tuple[str, ...] = ()
    note: str = ""


def clean_text(text: str) -> str:
    """Typed text as stored: composed Vietnamese (NFC), newlines unified, control characters
    (NUL included) removed, outer blanks stripped."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _checked(data: VisitReportInput) -> tuple[str, list[str]]:
    """The note and the non-empty proposals, cleaned; a refusal when one is out of bounds."""
    if data.attended and data.quality is None:
        raise RosterError("roster.visit_quality_needed")
    note = clean_text(data.note)
    if len(note) > NOTE_MAX:
        raise RosterError("roster.visit_text_too_long", max=NOTE_MAX, length=len(note))
    proposals = [t for t in (clean_text(p) for p in data.proposals) if t]
    if len(proposals) > PROPOSALS_MAX:
        raise RosterError("roster.visit_too_many_proposals", max=PROPOSALS_MAX)
    for text in proposals:
        if len(text) > PROPOSAL_MAX:
            raise RosterError("roster.visit_text_too_long", max=PROPOSAL_MAX, length=len(text))
    return note, proposals


async def submit_visit_report(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    visit_id: int,
    data: VisitReportInput,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
) -> VisitReport:
    """File the report of one's own visit, once, from its start to `report_days` after."""
    # Any live visit (one on offer too: it was theirs when they went), started or not (the
    # report follows the meeting), locked against a second report.
    visit, _ = await own_live_visit(session, actor, visit_id, now=None, lock=True)
    now = ctx.now()
    repo = RosterRepository(session)
    if now < visit.starts_at:
        raise RosterError("roster.visit_not_started", start=ReadableMoment(visit.starts_at, ctx.tz))
    if await repo.report(visit.id) is not None:
        raise RosterError("roster.visit_reported")
    if not reportable(visit, now, config):
        raise RosterError("roster.visit_report_closed", days=config.report_days)
    note, proposals = _checked(data)
    # Quality describes a meeting the visitor saw; without attending there is none to give.
    quality = data.quality if data.attended and data.quality is not None else None
    report = VisitReport(
        visit_id=visit.id,
        attended=data.attended,
        quality=quality,
        note=note,
        submitted_by=actor.telegram_id,
        submitted_at=now,
    )
    session.add(report)
    await repo.add_proposals(visit, proposals, now)
    await session.flush()
    await audit.record(
        session,
        action="roster.visit_report",
        entity_type="roster_visit",
        entity_id=visit.id,
        district_id=visit.district_id,
        actor_id=actor.telegram_id,
        before=None,
        after={
            "attended": data.attended,
            "quality": quality,
            "proposals": len(proposals),
            "note_chars": len(note),
        },
    )
    await _tell_leader(session, ctx, visit, quality or "absent", proposals)
    return report


async def _tell_leader(
    session: AsyncSession,
    ctx: ServiceContext,
    visit: RosterVisit,
    outcome: str,
    proposals: list[str],
) -> None:
    """One line to the group's leader in private (not when the leader reported their own)."""
    repo = RosterRepository(session)
    roster = await repo.roster(visit.roster_id)
    program = await repo.program(roster.program_id) if roster is not None else None
    group = await repo.group(program.working_group_id) if program is not None else None
    if group is None or group.leader_member_id in (None, visit.visitor_member_id):
        return
    assert group.leader_member_id is not None
    people = await repo.members([group.leader_member_id, visit.visitor_member_id])
    branch = (await repo.branches([visit.branch_id]))[visit.branch_id]
    visitor = people.get(visit.visitor_member_id)
    await RosterNotices(session, ctx).tell(
        people.get(group.leader_member_id),
        f"roster.visit_report.leader.{outcome}",
        f"visit:{visit.id}:report",
        origin_id=visit.id,
        visitor=escape(visitor.full_name) if visitor is not None else "",
        branch=escape(branch.name),
        date=f"{to_local(visit.starts_at, ctx.tz):%d/%m/%Y}",
        proposals=len(proposals),
    )
