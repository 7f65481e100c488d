"""View models for /meetings, /meeting ID and /ics: plain data, no aiogram.

Every function takes the acting person's `Actor` and asks the policy before reading anything a
callback id or a typed code points at (both can be forged). A group chat linked to a branch,
unit or the committee is itself an audience: `/meetings` there shows what that chat is for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.inputs import try_int
from bot.services.access.policy import Action, Actor, Refused, Target, can, require
from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig, MeetingError
from bot.services.meetings.ics import branch_ics
from bot.services.meetings.regularity import BranchMonth, Outcome, meeting_outcomes, month_figures
from bot.services.meetings.reports import row_id
from bot.services.vn_calendar import VN_TZ, format_date, month_bounds, month_of
from bot.services.vn_sort import vn_key, vn_sorted
from storage.models import Branch, ChatBinding, Meeting, MeetingReport, MeetingRsvp, Unit
from storage.models.meetings import MeetingStatus, RsvpAnswer
from storage.models.org import TargetType
from storage.repositories.access import AccessRepository
from storage.repositories.meetings import OPEN_STATUSES, MeetingRepository
from storage.repositories.onboarding import joined_since_many
from storage.repositories.org import OrgRepository

UPCOMING_MAX = 5
RECENT_MAX = 3
SUMMARY_PAGE = 15
# Months a summary may show.
YEAR_MIN, YEAR_MAX = 2000, 2100


@dataclass(frozen=True)
class MeetingRow:
    meeting: Meeting
    outcome: Outcome


@dataclass(frozen=True)
class Answer:
    """One member's answer: Có mặt, or Vắng mặt with the reason given (if any)."""

    answer: RsvpAnswer
    reason_code: str | None = None
    reason_text: str = ""

    @classmethod
    def of(cls, rsvp: MeetingRsvp) -> Answer:
        return cls(RsvpAnswer(rsvp.answer), rsvp.reason_code, rsvp.reason_text or "")


@dataclass(frozen=True)
class BranchMeetings:
    branch: Branch
    upcoming: list[MeetingRow]
    recent: list[MeetingRow]
    # Asked in private by a member of the branch: their own answers to the upcoming meetings
    # (a meeting missing here is not answered yet); None when not theirs to see here.
    mine: dict[int, Answer] | None = None


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
    # Asked in private by a member of the branch: whether they answered (`answered`) and how.
    mine: Answer | None = None
    answered: bool | None = None
    # Asked in private by the branch's leaders before the report: who said they will be absent
    # and why, in Vietnamese order of their names; None when not theirs to see here.
    absences: tuple[tuple[str, Answer], ...] | None = None

    @property
    def cancelled(self) -> bool:
        return self.meeting.status == MeetingStatus.CANCELLED


# Branch lists -------------------------------------------------------------------------------


async def _viewable_branch(
    session: AsyncSession, actor: Actor, branch_id: int, chat_binding: ChatBinding | None = None
) -> Branch:
    """The branch if the person may view it, or the question comes from the branch's own
    linked group (whoever sits in it is its audience)."""
    branch = await MeetingRepository(session).branch(row_id(branch_id))
    if branch is None or not branch.active:
        raise MeetingError("meetings.error.not_found")
    if not _is_chat_of(chat_binding, TargetType.BRANCH, branch.id):
        require(actor, Action.VIEW_BRANCH, Target.branch(branch))
    return branch


def _is_chat_of(binding: ChatBinding | None, target_type: TargetType, target_id: int) -> bool:
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
    month: tuple[int, int] | None = None,
    private: bool = False,
) -> BranchMeetings:
    """Upcoming meetings and the last three that have started, with their outcomes; with a
    `month` typed, that month's meetings (split the same way), never silently the current."""
    branch = await _viewable_branch(session, actor, branch_id, chat_binding)
    repo = MeetingRepository(session)
    now = clock.now()
    if month is not None:
        start, end = month_bounds(*month)
        mine = await repo.of_branch(branch.id, since=start, until=end)
        upcoming = [m for m in mine if m.starts_at > now and m.status in OPEN_STATUSES]
        recent = sorted((m for m in mine if m.starts_at <= now), key=lambda m: m.starts_at)
        recent.reverse()
    else:
        upcoming = await repo.of_branch(
            branch.id, since=now, statuses=OPEN_STATUSES, limit=UPCOMING_MAX
        )
        recent = await repo.of_branch(branch.id, until=now, newest_first=True, limit=RECENT_MAX)
    outcomes = await meeting_outcomes(session, [*upcoming, *recent], now, config=config)
    own: dict[int, Answer] | None = None
    member_id = _member_of(actor, branch.id) if private else None
    if member_id is not None:
        answers = await repo.answers_of(member_id, [m.id for m in upcoming])
        own = {mid: Answer.of(r) for mid, r in answers.items()}
    return BranchMeetings(
        branch,
        [MeetingRow(m, outcomes[m.id]) for m in upcoming],
        [MeetingRow(m, outcomes[m.id]) for m in recent],
        own,
    )


def _member_of(actor: Actor, branch_id: int) -> int | None:
    """The person's member id in this branch, if they belong to it."""
    return next((m.member_id for m in actor.memberships if m.branch_id == branch_id), None)


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
    unit = await AccessRepository(session).unit(row_id(scope.id))
    if unit is None or unit.district_id is None or not unit.active:
        raise MeetingError("meetings.error.not_found")
    target = Target.unit(unit)
    if target.type != scope.kind:
        raise MeetingError("meetings.error.not_found")
    # The unit's (or committee's) own linked group may see its summary; anyone else asks policy.
    if not _is_chat_of(chat_binding, target.type, target.id):
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
    if scope.kind == TargetType.COMMITTEE:
        branches = await org.branches_of_district(unit.id)
    else:
        branches = await org.branches_of_unit(unit.id)
    branches = vn_sorted(branches, key=lambda b: b.name)
    ids = [b.id for b in branches]
    since = await joined_since_many(session, ids)
    figures = await month_figures(
        session, ids, year, month, clock.now(), config=config, joined_since=since
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
    private: bool = False,
) -> MeetingDetail:
    """A meeting for those who may view its branch; asked in private, also the person's own
    answer (a member) and the absences announced so far (the branch's leaders, before the
    report: after it, the report's own list of the absent counts)."""
    repo = MeetingRepository(session)
    meeting = await repo.get(row_id(meeting_id))
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
    mine: Answer | None = None
    answered: bool | None = None
    member_id = _member_of(actor, branch.id) if private else None
    if member_id is not None:
        rsvp = await repo.rsvp(meeting.id, member_id)
        mine, answered = (None if rsvp is None else Answer.of(rsvp)), rsvp is not None
    absences: tuple[tuple[str, Answer], ...] | None = None
    if private and report is None and can(actor, Action.MANAGE_BRANCH, Target.branch(branch)):
        members = {m.id: m.full_name for m in await repo.active_members(branch.id)}
        absent = [
            (members[r.member_id], Answer.of(r))
            for r in await repo.rsvps(meeting.id)
            if r.answer == RsvpAnswer.NO.value and r.member_id in members
        ]
        absences = tuple(sorted(absent, key=lambda a: vn_key(a[0])))
    return MeetingDetail(
        meeting,
        branch,
        outcome,
        counts,
        report,
        len(versions),
        names,
        mine=mine,
        answered=answered,
        absences=absences,
    )


async def ics_branch(
    session: AsyncSession, actor: Actor, branch_id: int, chat_binding: ChatBinding | None = None
) -> Branch:
    """The branch whose calendar the person may download (policy-checked)."""
    return await _viewable_branch(session, actor, branch_id, chat_binding)


# What the handlers ask, from the chat they are asked in ----------------------------------


@dataclass(frozen=True)
class Where:
    """The chat a question is asked in: a group linked to a branch, a unit or the committee is
    an audience of its own, and a group linked to nothing is refused."""

    chat_id: int
    private: bool


async def _binding(session: AsyncSession, where: Where) -> ChatBinding | None:
    return None if where.private else await chat_scope(session, where.chat_id)


def parse_month(word: str) -> tuple[int, int] | None:
    """(year, month) of `MM/YYYY` in ASCII digits, or None (then the word is a code)."""
    month_text, sep, year_text = word.strip().partition("/")
    if not sep or len(month_text) > 2 or len(year_text) != 4:
        return None
    year, month = try_int(year_text, lo=YEAR_MIN, hi=YEAR_MAX), try_int(month_text, lo=1, hi=12)
    return None if year is None or month is None else (year, month)


async def overview(
    session: AsyncSession, actor: Actor, clock: Clock, where: Where, args: str
) -> BranchMeetings | Summary:
    """/meetings [code] [MM/YYYY]: a branch's meetings, or a unit's or the committee's
    summary; without a code, what the group is for, or the person's own scope in private."""
    binding = await _binding(session, where)
    year, month = this_month(clock)
    code: str | None = None
    typed: tuple[int, int] | None = None
    for word in args.split():
        parsed = parse_month(word)
        if parsed is not None:
            year, month = typed = parsed
        else:
            code = word
    if code is not None:
        scope = await resolve_code(session, code)
    elif binding is not None:
        scope = Scope(binding.target_type, binding.target_id)
        if scope.kind not in ("branch", "unit", "committee"):
            raise Refused("mrep.view.chat_not_org")
    elif not where.private:
        raise Refused("mrep.view.chat_unlinked")
    else:
        scope = await default_scope(session, actor)
    if scope.kind == "branch":
        return await branch_meetings(
            session,
            actor,
            clock,
            scope.id,
            chat_binding=binding,
            month=typed,
            private=where.private,
        )
    return await summary(session, actor, clock, scope, year, month, chat_binding=binding)


async def summary_page(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    where: Where,
    scope: Scope,
    year: int,
    month: int,
    page: int,
) -> Summary:
    """Another page or month of a summary; everything in it came from a button (forgeable)."""
    if scope.kind not in ("unit", "committee") or not (
        1 <= month <= 12 and YEAR_MIN <= year <= YEAR_MAX
    ):
        raise MeetingError("meetings.error.not_found")
    binding = await _binding(session, where)
    return await summary(session, actor, clock, scope, year, month, page, chat_binding=binding)


async def detail(
    session: AsyncSession, actor: Actor, clock: Clock, where: Where, meeting_id: int
) -> MeetingDetail:
    """/meeting ID, for those who may view its branch (or in the branch's own group)."""
    binding = await _binding(session, where)
    return await meeting_detail(
        session, actor, clock, meeting_id, chat_binding=binding, private=where.private
    )


@dataclass(frozen=True)
class Day:
    """A day in a refusal, read in the person's language ('Thứ Ba, 05/01/2027')."""

    day: date

    def label(self, locale: str | None = "vi") -> str:
        return format_date(self.day, locale)


async def meetings_on(
    session: AsyncSession, actor: Actor, clock: Clock, where: Where, day: date
) -> list[Meeting]:
    """/meeting 05/01: the meetings of a day, of the branch the chat is for (its linked group)
    or the person's own; none is refused (`mrep.view.none_on_day`)."""
    binding = await _binding(session, where)
    if binding is not None and binding.target_type == TargetType.BRANCH:
        branch_id = binding.target_id
    else:
        branch_id = own_branch_id(actor)
    branch = await _viewable_branch(session, actor, branch_id, binding)
    start = datetime.combine(day, time(0), VN_TZ)
    found = await MeetingRepository(session).of_branch(
        branch.id, since=start, until=start + timedelta(days=1)
    )
    if not found:
        raise MeetingError("mrep.view.none_on_day", date=Day(day))
    return found


@dataclass(frozen=True)
class IcsFile:
    data: bytes
    filename: str


async def ics_file(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    i18n: CatalogI18n,
    locale: str,
    where: Where,
    *,
    code: str = "",
    branch_id: int | None = None,
) -> IcsFile:
    """A branch's calendar: the one a button or a code names, else the group's, else the
    person's own; policy-checked whichever it is."""
    binding = await _binding(session, where)
    if branch_id is None:
        if code:
            scope = await resolve_code(session, code)
            if scope.kind != "branch":
                raise Refused("mrep.ics.branch_only")
            branch_id = scope.id
        elif binding is not None and binding.target_type == TargetType.BRANCH:
            branch_id = binding.target_id
        else:
            branch_id = own_branch_id(actor)
    branch = await _viewable_branch(session, actor, branch_id, binding)
    data = await branch_ics(session, branch.id, i18n, locale, clock.now())
    safe = re.sub(r"[^A-Za-z0-9_-]", "", branch.code)
    return IcsFile(data, f"lich-sinh-hoat-{safe or branch.id}.ics")
