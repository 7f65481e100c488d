"""Scheduling, confirming, moving and cancelling meetings: the use cases.

Each checks the policy and the dates, writes, and raises the one meeting-changed event
(`events.raise_change`) in the caller's transaction: its subscribers queue the announcement and
corrections, withdraw stale reminders, repair the rosters and close the nudges, so a caller
cannot forget a consequence. The result says what was queued for the secretary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services import audit
from bot.services.access.policy import Action, Actor, Target, require
from bot.services.context import ServiceContext
from bot.services.meetings.common import (
    AGENDA_MAX,
    CANCEL_REASON_MAX,
    PLACE_MAX,
    TITLE_MAX,
    MeetingError,
    check_length,
    led_branches,
    managed_meeting,
)
from bot.services.meetings.events import ChangeKind, raise_change
from bot.services.meetings.notices import Told, told_of
from bot.services.meetings.plan import period_of, regular_rule_date
from bot.services.meetings.quickform import check_start, odd_hour, parse_quick_form
from bot.services.vn_calendar import quarter_bounds, quarter_of, to_local
from storage.models import Branch, Meeting
from storage.models.meetings import MeetingKind, MeetingOrigin, MeetingStatus
from storage.repositories.meetings import OPEN_STATUSES, MeetingRepository


@dataclass(frozen=True)
class ScheduleResult:
    meeting: Meeting
    branch: Branch
    created: bool
    reinstated: bool = False
    # Thematic meetings already in the same quarter (one per quarter is expected).
    thematic_in_quarter: int = 0
    told: Told = field(default_factory=Told)


@dataclass(frozen=True)
class SchedulePreview:
    """What a schedule would do, shown for a Xác nhận before anybody is told."""

    branch: Branch
    kind: MeetingKind
    starts_at: datetime
    place: str
    # Before 06:00 or after 22:00: the check screen asks whether that is right.
    odd_hour: bool
    # This month's regular meeting, cancelled: confirming reinstates it (the screen says so).
    cancelled: Meeting | None = None


@dataclass(frozen=True)
class Change:
    meeting: Meeting
    branch: Branch
    before: dict[str, object]
    told: Told


def _snapshot(m: Meeting) -> dict[str, object]:
    return {
        "status": m.status,
        "starts_at": m.starts_at,
        "place": m.place,
        "title": m.title,
        "agenda": m.agenda,
        "version": m.version,
    }


def _validate_texts(place: str, title: str, agenda: str) -> tuple[str, str, str]:
    return (
        check_length(place, PLACE_MAX, "meetings.error.place_too_long"),
        check_length(title, TITLE_MAX, "meetings.error.title_too_long"),
        check_length(agenda, AGENDA_MAX, "meetings.error.agenda_too_long"),
    )


async def open_meetings(session: AsyncSession, branch_id: int, clock: Clock) -> list[Meeting]:
    """Planned and scheduled meetings not started yet: when several, the secretary picks one."""
    return await MeetingRepository(session).of_branch(
        branch_id, since=clock.now(), statuses=OPEN_STATUSES
    )


async def led_open_meetings(session: AsyncSession, actor: Actor, clock: Clock) -> list[Meeting]:
    """Open meetings of every branch `actor` leads (/reschedule and /cancel offer these)."""
    out: list[Meeting] = []
    for branch in await led_branches(session, actor):
        out += await open_meetings(session, branch.id, clock)
    return out


async def schedule_meeting(
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    branch_id: int,
    *,
    kind: MeetingKind,
    starts_at: datetime,
    place: str | None = None,
    title: str = "",
    agenda: str = "",
    reinstate: bool = True,
) -> ScheduleResult:
    """Confirm (or create) a meeting and announce it. A regular one lands on its month's row:
    the planned one is confirmed, a cancelled one reinstated (those told before are told so) when
    `reinstate` (a conversation passes what its check screen said); a month's second regular
    meeting is refused."""
    repo = MeetingRepository(session)
    branch = await repo.branch(branch_id)
    if branch is None or not branch.active:
        raise MeetingError("meetings.error.not_found")
    require(actor, Action.MANAGE_BRANCH, Target.branch(branch))
    if kind not in MeetingKind.__members__.values():
        raise MeetingError("meetings.error.bad_kind")
    kind = MeetingKind(kind)
    tz = ctx.tz
    check_start(starts_at, ctx.now(), tz)
    place, title, agenda = _validate_texts(
        branch.location if place is None else place, title, agenda
    )
    year, month = period_of(starts_at, tz)
    fields = {
        "starts_at": starts_at,
        "place": place,
        "title": title,
        "agenda": agenda,
        "status": MeetingStatus.SCHEDULED,
        "updated_by": actor.telegram_id,
    }
    meeting: Meeting | None = None
    created = reinstated = False
    if kind == MeetingKind.REGULAR:
        meeting = await repo.regular_for_month(branch.id, year, month)
        if meeting is not None and meeting.status == MeetingStatus.SCHEDULED:
            raise MeetingError("meetings.error.regular_exists", meeting_id=meeting.id)
        cancelled = meeting is not None and meeting.status == MeetingStatus.CANCELLED
        if cancelled and not reinstate:  # cancelled after the check screen was shown: ask again
            raise MeetingError("mtg.error.month_cancelled_now")
    if meeting is None:
        meeting = Meeting(
            branch_id=branch.id,
            district_id=branch.district_id,
            kind=kind,
            origin=MeetingOrigin.SECRETARY,
            period_year=year,
            period_month=month,
            rule_date=regular_rule_date(branch, year, month)
            if kind == MeetingKind.REGULAR
            else None,
            version=1,
            created_by=actor.telegram_id,
            **fields,
        )
        try:
            async with session.begin_nested():
                session.add(meeting)
                await session.flush()
        except IntegrityError:
            if kind != MeetingKind.REGULAR:
                raise
            # The plan job created this month's row meanwhile: land on it like on any planned one.
            return await schedule_meeting(
                session,
                actor,
                ctx,
                branch_id,
                kind=kind,
                starts_at=starts_at,
                place=place,
                title=title,
                agenda=agenda,
            )
        created = True
        before: dict[str, object] | None = None
    else:
        before = _snapshot(meeting)
        if meeting.status == MeetingStatus.CANCELLED:
            reinstated = True
            meeting.version += 1
            meeting.cancel_reason = meeting.cancelled_at = None
        for name, value in fields.items():
            setattr(meeting, name, value)
    await session.flush()
    thematic = 0
    if kind == MeetingKind.THEMATIC:
        start, end = quarter_bounds(year, quarter_of(month), tz)
        others = await repo.of_branch(
            branch.id, since=start, until=end, statuses=OPEN_STATUSES, kinds=[kind]
        )
        thematic = len([m for m in others if m.id != meeting.id])
    await audit.record(
        session,
        action="meeting.schedule",
        entity_type="meeting",
        entity_id=meeting.id,
        before=before,
        after=_snapshot(meeting),
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    kind_of_change = ChangeKind.REINSTATED if reinstated else ChangeKind.SCHEDULED
    told = told_of(await raise_change(session, ctx, meeting, kind_of_change, before or {}))
    return ScheduleResult(meeting, branch, created, reinstated, thematic, told)


async def preview_schedule(
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    branch_id: int,
    *,
    kind: MeetingKind,
    starts_at: datetime,
    place: str | None,
) -> SchedulePreview:
    """Everything `schedule_meeting` would check, without writing: the check screen shows the
    result, questions an odd hour and says when a cancelled month's meeting would come back."""
    repo = MeetingRepository(session)
    branch = await repo.branch(branch_id)
    if branch is None or not branch.active:
        raise MeetingError("meetings.error.not_found")
    require(actor, Action.MANAGE_BRANCH, Target.branch(branch))
    check_start(starts_at, ctx.now(), ctx.tz)
    place, _title, _agenda = _validate_texts(
        (branch.location or "") if place is None else place, "", ""
    )
    cancelled: Meeting | None = None
    if kind == MeetingKind.REGULAR:
        year, month = period_of(starts_at, ctx.tz)
        meeting = await repo.regular_for_month(branch.id, year, month)
        if meeting is not None and meeting.status == MeetingStatus.SCHEDULED:
            raise MeetingError("meetings.error.regular_exists", meeting_id=meeting.id)
        if meeting is not None and meeting.status == MeetingStatus.CANCELLED:
            cancelled = meeting
    at = to_local(starts_at, ctx.tz).time()
    return SchedulePreview(branch, kind, starts_at, place, odd_hour(at), cancelled)


async def preview_form(
    session: AsyncSession, actor: Actor, ctx: ServiceContext, branch_id: int, form: str
) -> SchedulePreview:
    """`/schedule [chuyên đề] 03/12 19:30 [place]` read and checked, nothing written yet."""
    parsed = parse_quick_form(form, ctx.now(), ctx.tz)
    return await preview_schedule(
        session,
        actor,
        ctx,
        branch_id,
        kind=parsed.kind,
        starts_at=parsed.starts_at,
        place=parsed.place,
    )


async def confirm_planned(
    session: AsyncSession, actor: Actor, ctx: ServiceContext, meeting_id: int
) -> ScheduleResult:
    """One tap: confirm the meeting the rule planned, as planned."""
    meeting, _branch = await managed_meeting(session, actor, meeting_id)
    if meeting.status != MeetingStatus.PLANNED:
        raise MeetingError("mtg.error.not_planned")
    return await schedule_meeting(
        session,
        actor,
        ctx,
        meeting.branch_id,
        kind=meeting.kind,
        starts_at=meeting.starts_at,
        place=meeting.place,
        title=meeting.title,
        agenda=meeting.agenda,
    )


async def reschedule_meeting(
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    meeting_id: int,
    *,
    starts_at: datetime | None = None,
    place: str | None = None,
    title: str | None = None,
    agenda: str | None = None,
) -> Change:
    """Move a meeting or change its place/agenda, and correct everyone told before; a regular
    one stays in its month (it is still "the December meeting"). The version grows so later
    reminders carry the new details."""
    meeting, branch = await managed_meeting(session, actor, meeting_id)
    now, tz = ctx.now(), ctx.tz
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("meetings.error.cancelled")
    if meeting.starts_at <= now:
        raise MeetingError("meetings.error.already_started")
    new_start = starts_at or meeting.starts_at
    if starts_at is not None:
        check_start(new_start, now, tz)
    if meeting.kind == MeetingKind.REGULAR and period_of(new_start, tz) != (
        meeting.period_year,
        meeting.period_month,
    ):
        raise MeetingError(
            "meetings.error.outside_month",
            month=f"{meeting.period_month:02d}/{meeting.period_year}",
        )
    new_place, new_title, new_agenda = _validate_texts(
        meeting.place if place is None else place,
        meeting.title if title is None else title,
        meeting.agenda if agenda is None else agenda,
    )
    before = _snapshot(meeting)
    if (new_start, new_place, new_title, new_agenda) == (
        meeting.starts_at,
        meeting.place,
        meeting.title,
        meeting.agenda,
    ):
        raise MeetingError("meetings.error.nothing_changed")
    meeting.starts_at, meeting.place = new_start, new_place
    meeting.title, meeting.agenda = new_title, new_agenda
    meeting.status = MeetingStatus.SCHEDULED
    meeting.version += 1
    meeting.updated_by = actor.telegram_id
    await session.flush()
    await audit.record(
        session,
        action="meeting.reschedule",
        entity_type="meeting",
        entity_id=meeting.id,
        before=before,
        after=_snapshot(meeting),
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    told = told_of(await raise_change(session, ctx, meeting, ChangeKind.RESCHEDULED, before))
    return Change(meeting, branch, before, told)


async def reschedule_to(
    session: AsyncSession, actor: Actor, ctx: ServiceContext, meeting_id: int, form: str
) -> Change:
    """`/reschedule 04/12 20:00 [place]` (or the same typed after picking the meeting)."""
    parsed = parse_quick_form(form, ctx.now(), ctx.tz)
    return await reschedule_meeting(
        session, actor, ctx, meeting_id, starts_at=parsed.starts_at, place=parsed.place
    )


def cancel_reason(reason: str) -> str:
    """The reason a cancellation needs (checked before the secretary picks the meeting)."""
    reason = check_length(reason, CANCEL_REASON_MAX, "meetings.error.reason_too_long")
    if not reason:
        raise MeetingError("meetings.error.reason_required")
    return reason


def cancel_reason_problem(reason: str) -> MeetingError | None:
    """Why `reason` cannot cancel a meeting, if it cannot (the handler adds the usage line)."""
    try:
        cancel_reason(reason)
    except MeetingError as err:
        return err
    return None


async def cancel_meeting(
    session: AsyncSession, actor: Actor, ctx: ServiceContext, meeting_id: int, reason: str
) -> Change:
    """Cancel with a reason everyone told before will read; a cancelled regular meeting counts
    as not held for its month (unless reinstated by scheduling it again)."""
    meeting, branch = await managed_meeting(session, actor, meeting_id)
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("meetings.error.cancelled")
    now = ctx.now()
    if meeting.starts_at <= now:
        raise MeetingError("meetings.error.already_started")
    reason = cancel_reason(reason)
    before = _snapshot(meeting)
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancel_reason, meeting.cancelled_at = reason, now
    meeting.version += 1
    meeting.updated_by = actor.telegram_id
    await session.flush()
    await audit.record(
        session,
        action="meeting.cancel",
        entity_type="meeting",
        entity_id=meeting.id,
        before=before,
        after={**_snapshot(meeting), "reason": reason},
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    told = told_of(await raise_change(session, ctx, meeting, ChangeKind.CANCELLED, before))
    return Change(meeting, branch, before, told)
