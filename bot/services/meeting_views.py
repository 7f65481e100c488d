"""View models for /meetings, /meeting ID, /ics and the /report wizard: plain data, no aiogram.

Every function takes the acting person's `Actor` and asks the policy before reading anything a
callback id or a typed code points at (both can be forged). A group chat linked to a branch,
unit or the committee is itself an audience: `/meetings` there shows what that chat is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig, MeetingError
from bot.services.meetings.regularity import BranchMonth, Outcome, meeting_outcomes, month_figures
from bot.services.policy import Action, Actor, Refused, Target, require
from bot.services.vn_calendar import VN_TZ, month_of
from storage.models import Branch, ChatBinding, Meeting, MeetingReport, Unit
from storage.models.meetings import MeetingStatus
from storage.models.org import TargetType
from storage.repositories.access import AccessRepository
from storage.repositories.meetings import OPEN_STATUSES, MeetingRepository
from storage.repositories.org import OrgRepository

UPCOMING_MAX = 5
RECENT_MAX = 3
SUMMARY_PAGE = 15
# How far back /report looks for meetings still waiting for their report.
REPORT_LOOKBACK = timedelta(days=92)
REPORTABLE_MAX = 8


@dataclass(frozen=True)
class MeetingRow:
    meeting: Meeting
    outcome: Outcome


@dataclass(frozen=True)
class BranchMeetings:
    branch: Branch
    upcoming: list[MeetingRow]
    recent: list[MeetingRow]


@dataclass(frozen=True)
class Summary:
    """One page of a unit's or the committee's branches for one month."""

    scope_type: str  # "unit" or "committee"
    scope_id: int
    scope_name: str
    year: int
    month: int
    page: int
    pages: int
    rows: list[tuple[Branch, BranchMonth]]
    totals: dict[Outcome, int] = field(default_factory=dict)  # regular meetings, all branches


@dataclass(frozen=True)
class MeetingDetail:
    meeting: Meeting
    branch: Branch
    outcome: Outcome
    counts: tuple[int, int, int]  # yes, no, active members
    report: MeetingReport | None
    versions: int
    absent_names: dict[int, str]


@dataclass(frozen=True)
class Reportable:
    meeting: Meeting
    branch_name: str
    reported: bool


# Branch lists -------------------------------------------------------------------------------


async def _viewable_branch(
    session: AsyncSession, actor: Actor, branch_id: int, chat_binding: ChatBinding | None = None
) -> Branch:
    """The branch if the person may view it, or the question comes from the branch's own
    linked group (whoever sits in it is its audience)."""
    branch = await MeetingRepository(session).branch(branch_id)
    if branch is None or not branch.active:
        raise MeetingError("meetings.error.not_found")
    if not _is_chat_of(chat_binding, TargetType.BRANCH.value, branch.id):
        require(actor, Action.VIEW_BRANCH, Target.branch(branch))
    return branch


def _is_chat_of(binding: ChatBinding | None, target_type: str, target_id: int) -> bool:
    return binding is not None and (binding.target_type, binding.target_id) == (
        target_type,
        target_id,
    )


def own_branch_id(actor: Actor) -> int:
    """The branch a person means without saying: the one they lead, else their first."""
    led = actor.led_branch_ids()
    if led:
        return led[0]
    if actor.memberships:
        return actor.memberships[0].branch_id
    raise Refused("branch.none")


async def branch_meetings(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    branch_id: int,
    *,
    chat_binding: ChatBinding | None = None,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> BranchMeetings:
    """Upcoming meetings and the last three that have started, with their outcomes."""
    branch = await _viewable_branch(session, actor, branch_id, chat_binding)
    repo = MeetingRepository(session)
    now = clock.now()
    upcoming = await repo.of_branch(
        branch.id, since=now, statuses=OPEN_STATUSES, limit=UPCOMING_MAX
    )
    recent = await repo.of_branch(branch.id, until=now, newest_first=True, limit=RECENT_MAX)
    outcomes = await meeting_outcomes(session, [*upcoming, *recent], now, config=config)
    return BranchMeetings(
        branch,
        [MeetingRow(m, outcomes[m.id]) for m in upcoming],
        [MeetingRow(m, outcomes[m.id]) for m in recent],
    )


async def chat_scope(session: AsyncSession, chat_id: int) -> ChatBinding | None:
    """What a group chat is linked to (branch, unit, committee), if anything."""
    return await AccessRepository(session).binding_for_chat(chat_id)


@dataclass(frozen=True)
class Scope:
    kind: str  # "branch", "unit", "committee"
    id: int


async def resolve_code(session: AsyncSession, code: str) -> Scope:
    """A branch, unit or district code typed after /meetings."""
    repo = AccessRepository(session)
    text = code.strip().upper()
    branch = await repo.branch_by_code(text)
    if branch is not None:
        return Scope("branch", branch.id)
    unit = await repo.unit_by_code(text)
    if unit is not None:
        return Scope("committee" if unit.id == unit.district_id else "unit", unit.id)
    raise Refused("branch.unknown_code", code=code.strip())


async def default_scope(session: AsyncSession, actor: Actor) -> Scope:
    """Admins see their district's summary; everyone else their own branch."""
    if actor.is_any_admin:
        if actor.admin_districts:
            return Scope("committee", min(actor.admin_districts))
        districts = await OrgRepository(session).districts()
        if districts:
            return Scope("committee", districts[0].id)
    return Scope("branch", own_branch_id(actor))


# Summaries ----------------------------------------------------------------------------------


async def _scope_unit(
    session: AsyncSession, actor: Actor, scope: Scope, chat_binding: ChatBinding | None
) -> Unit:
    unit = await AccessRepository(session).unit(scope.id)
    if unit is None or unit.district_id is None or not unit.active:
        raise MeetingError("meetings.error.not_found")
    target = Target.unit(unit)
    if target.type.value != scope.kind:
        raise MeetingError("meetings.error.not_found")
    # The unit's (or committee's) own linked group may see its summary; anyone else asks policy.
    if not _is_chat_of(chat_binding, target.type.value, target.id):
        require(actor, Action.VIEW_BRANCH, target)
    return unit


async def summary(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    scope: Scope,
    year: int,
    month: int,
    page: int = 0,
    *,
    chat_binding: ChatBinding | None = None,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> Summary:
    """The regularity of a unit's (or the whole district's) branches in one local month."""
    unit = await _scope_unit(session, actor, scope, chat_binding)
    org = OrgRepository(session)
    if scope.kind == TargetType.COMMITTEE.value:
        branches = await org.branches_of_district(unit.id)
    else:
        branches = await org.branches_of_unit(unit.id)
    figures = await month_figures(
        session, [b.id for b in branches], year, month, clock.now(), config=config
    )
    totals: dict[Outcome, int] = {}
    for fig in figures:
        totals[fig.regular] = totals.get(fig.regular, 0) + 1
    pages = max(1, -(-len(branches) // SUMMARY_PAGE))
    page = min(max(page, 0), pages - 1)
    start = page * SUMMARY_PAGE
    rows = list(zip(branches, figures, strict=True))[start : start + SUMMARY_PAGE]
    return Summary(scope.kind, unit.id, unit.name, year, month, page, pages, rows, totals)


def this_month(clock: Clock) -> tuple[int, int]:
    return month_of(clock.now(), VN_TZ)


# One meeting --------------------------------------------------------------------------------


async def meeting_detail(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    meeting_id: int,
    *,
    chat_binding: ChatBinding | None = None,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> MeetingDetail:
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id)
    if meeting is None:
        raise MeetingError("meetings.error.not_found")
    branch = await _viewable_branch(session, actor, meeting.branch_id, chat_binding)
    versions = await repo.report_versions(meeting.id)
    report = versions[-1] if versions else None
    outcome = (await meeting_outcomes(session, [meeting], clock.now(), config=config))[meeting.id]
    counts = await repo.rsvp_counts(meeting.id, branch.id)
    names: dict[int, str] = {}
    if report is not None and report.absent:
        names = {m.id: m.full_name for m in await repo.active_members(branch.id)}
    return MeetingDetail(meeting, branch, outcome, counts, report, len(versions), names)


async def ics_branch(
    session: AsyncSession, actor: Actor, branch_id: int, chat_binding: ChatBinding | None = None
) -> Branch:
    """The branch whose calendar the person may download (policy-checked)."""
    return await _viewable_branch(session, actor, branch_id, chat_binding)


# The report wizard's lookups ----------------------------------------------------------------


async def reportable(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> tuple[list[Reportable], Meeting | None]:
    """Meetings of the branches the person leads that have started and await a report or may
    still be corrected, newest first; and the next meeting not started yet (for "too early")."""
    repo = MeetingRepository(session)
    now = clock.now()
    out: list[Reportable] = []
    upcoming: Meeting | None = None
    for branch_id in actor.led_branch_ids():
        branch = await repo.branch(branch_id)
        if branch is None or not branch.active:
            continue
        started = await repo.of_branch(
            branch.id,
            since=now - REPORT_LOOKBACK,
            until=now,
            statuses=OPEN_STATUSES,
            newest_first=True,
        )
        firsts = {m.id: await repo.report_versions(m.id) for m in started}
        for m in started:
            versions = firsts[m.id]
            if versions and now > versions[0].submitted_at + config.correction_window:
                continue
            out.append(Reportable(m, branch.name, bool(versions)))
        nxt = await repo.of_branch(branch.id, since=now, statuses=OPEN_STATUSES, limit=1)
        if nxt and (upcoming is None or nxt[0].starts_at < upcoming.starts_at):
            upcoming = nxt[0]
    out.sort(key=lambda r: r.meeting.starts_at, reverse=True)
    return out[:REPORTABLE_MAX], upcoming


async def has_report(session: AsyncSession, meeting_id: int) -> bool:
    return bool(await MeetingRepository(session).report_versions(meeting_id))


async def report_target(session: AsyncSession, branch: Branch) -> int | None:
    """The chat a branch's reports go to: its unit's linked group (or the committee's, for a
    branch directly under the district committee)."""
    repo = AccessRepository(session)
    unit = await repo.unit(branch.unit_id)
    if unit is None:
        return None
    kind = TargetType.COMMITTEE if unit.id == unit.district_id else TargetType.UNIT
    binding = await repo.binding_for_target(kind.value, unit.id)
    return binding.chat_id if binding is not None else None


async def member_names(session: AsyncSession, branch_id: int) -> dict[int, str]:
    """Active members of a branch by id, ordered by name (callers checked the permission)."""
    return {m.id: m.full_name for m in await MeetingRepository(session).active_members(branch_id)}


def is_open(meeting: Meeting) -> bool:
    return meeting.status != MeetingStatus.CANCELLED.value
