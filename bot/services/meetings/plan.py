"""The plan: each branch's rule generates its coming regular meetings, holidays avoided.

Generation is idempotent: a (branch, year, month) that already has its regular meeting (planned,
scheduled, moved, cancelled) is left alone, so the job can run every day and after restarts.
A rule date on a holiday moves within the month (see `vn_calendar.shift_within_month`); the
meeting keeps `shifted_from` and the holiday's name until the secretary has been told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services import audit
from bot.services.access.policy import Action, Actor, Target, require
from bot.services.context import ServiceContext
from bot.services.meetings.common import (
    DEFAULT_CONFIG,
    PLACE_MAX,
    MeetingConfig,
    MeetingError,
    check_length,
)
from bot.services.meetings.events import ChangeKind, raise_change
from bot.services.vn_calendar import (
    VN_TZ,
    add_months,
    holiday_name,
    local_to_utc,
    rule_date,
    shift_within_month,
    to_local,
)
from storage.models import Branch, Meeting
from storage.models.meetings import MeetingKind, MeetingOrigin, MeetingStatus
from storage.repositories.meetings import MeetingRepository


@dataclass(frozen=True)
class RuleSlot:
    """Where a branch's rule puts its meeting in one month."""

    year: int
    month: int
    rule_day: date  # the rule's own date (day clamped to the month)
    day: date  # after the holiday shift
    shift_reason: str | None  # the holiday's name (Vietnamese) when shifted

    @property
    def shifted(self) -> bool:
        return self.day != self.rule_day


def rule_slot(meeting_day: int, year: int, month: int) -> RuleSlot:
    wanted = rule_date(year, month, meeting_day)
    actual = shift_within_month(wanted)
    reason = holiday_name(wanted, "vi") if actual != wanted else None
    return RuleSlot(year, month, wanted, actual, reason)


@dataclass(frozen=True)
class PlanResult:
    created: list[Meeting]

    @property
    def shifted(self) -> list[Meeting]:
        return [m for m in self.created if m.shifted_from is not None]


def new_regular(branch: Branch, slot: RuleSlot, tz: ZoneInfo) -> Meeting:
    return Meeting(
        branch_id=branch.id,
        district_id=branch.district_id,
        kind=MeetingKind.REGULAR,
        status=MeetingStatus.PLANNED,
        origin=MeetingOrigin.RULE,
        period_year=slot.year,
        period_month=slot.month,
        starts_at=local_to_utc(slot.day, branch.meeting_time, tz),
        place=branch.location or "",
        title="",
        agenda="",
        rule_date=slot.day,
        shifted_from=slot.rule_day if slot.shifted else None,
        shift_reason=slot.shift_reason,
        version=1,
    )


async def generate_plan(
    session: AsyncSession,
    clock: Clock,
    *,
    branch_ids: list[int] | None = None,
    config: MeetingConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
) -> PlanResult:
    """Create the missing planned regular meetings for this month and the next ones.

    A month whose rule moment has already passed is skipped (a meeting is never planned in the
    past); the secretary can still schedule that month's meeting by hand.
    """
    now = clock.now()
    local_now = to_local(now, tz)
    periods = [add_months(local_now.year, local_now.month, i) for i in range(config.horizon_months)]
    repo = MeetingRepository(session)
    branches = await repo.active_branches(branch_ids)
    existing = await repo.regular_periods([b.id for b in branches], periods)
    created: list[Meeting] = []
    for branch in branches:
        for year, month in periods:
            if (branch.id, year, month) in existing:
                continue
            meeting = new_regular(branch, rule_slot(branch.meeting_day, year, month), tz)
            if meeting.starts_at <= now:
                continue
            session.add(meeting)
            created.append(meeting)
    if created:
        await session.flush()
    return PlanResult(created)


async def shift_notices(session: AsyncSession, branch_id: int | None = None) -> list[Meeting]:
    """Holiday-shifted meetings whose secretary has not been told yet."""
    return await MeetingRepository(session).pending_shift_notices(branch_id)


async def mark_shift_told(session: AsyncSession, meeting_id: int, clock: Clock) -> None:
    meeting = await MeetingRepository(session).get(meeting_id)
    if meeting is not None and meeting.shift_told_at is None:
        meeting.shift_told_at = clock.now()


@dataclass(frozen=True)
class RuleChange:
    branch: Branch
    replanned: list[Meeting]


async def update_rule(
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    branch_id: int,
    *,
    meeting_day: int,
    meeting_time: time,
    location: str,
) -> RuleChange:
    """The secretary edits the branch's rule; future meetings still only *planned* from the
    rule follow it (confirmed, moved or cancelled ones are the secretary's and stay)."""
    repo = MeetingRepository(session)
    branch = await repo.branch(branch_id)
    if branch is None or not branch.active:
        raise MeetingError("meetings.error.not_found")
    require(actor, Action.MANAGE_BRANCH, Target.branch(branch))
    if not 1 <= meeting_day <= 31:
        raise MeetingError("meetings.error.bad_rule_day")
    location = check_length(location, PLACE_MAX, "meetings.error.place_too_long")
    before = {"day": branch.meeting_day, "time": branch.meeting_time, "place": branch.location}
    branch.meeting_day, branch.meeting_time, branch.location = meeting_day, meeting_time, location
    replanned = await replan_from_rule(session, ctx, branch, actor.telegram_id)
    await audit.record(
        session,
        action="meeting.rule",
        entity_type="branch",
        entity_id=branch.id,
        before=before,
        after={"day": meeting_day, "time": meeting_time, "place": location},
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    await session.flush()
    return RuleChange(branch, replanned)


async def replan_from_rule(
    session: AsyncSession, ctx: ServiceContext, branch: Branch, actor_id: int | None
) -> list[Meeting]:
    """Future meetings still only planned from the branch's rule follow its current rule (a
    rule edit, an import that changed the day, time or place); each one that moves raises the
    meeting-changed event, so a roster visiting it follows too."""
    now = ctx.now()
    replanned: list[Meeting] = []
    for meeting in await MeetingRepository(session).of_branch(
        branch.id,
        since=now,
        statuses=[MeetingStatus.PLANNED],
        kinds=[MeetingKind.REGULAR],
    ):
        if meeting.origin != MeetingOrigin.RULE:
            continue
        fresh = new_regular(
            branch, rule_slot(branch.meeting_day, meeting.period_year, meeting.period_month), ctx.tz
        )
        if fresh.starts_at <= now:
            continue
        if (fresh.starts_at, fresh.place) == (meeting.starts_at, meeting.place):
            continue
        before: dict[str, object] = {
            "status": meeting.status,
            "starts_at": meeting.starts_at,
            "place": meeting.place,
            "title": meeting.title,
            "agenda": meeting.agenda,
            "version": meeting.version,
        }
        meeting.starts_at, meeting.place = fresh.starts_at, fresh.place
        meeting.rule_date, meeting.shifted_from = fresh.rule_date, fresh.shifted_from
        meeting.shift_reason, meeting.shift_told_at = fresh.shift_reason, None
        meeting.updated_by = actor_id
        replanned.append(meeting)
        await raise_change(session, ctx, meeting, ChangeKind.REPLANNED, before)
    return replanned


def regular_rule_date(branch: Branch, year: int, month: int) -> date:
    """The (holiday-shifted) rule date of a month: the start of its on-time window."""
    return rule_slot(branch.meeting_day, year, month).day


def period_of(starts_at: datetime, tz: ZoneInfo = VN_TZ) -> tuple[int, int]:
    loc = to_local(starts_at, tz)
    return loc.year, loc.month
