"""How each meeting ended, and the regularity figures per branch and month that reports use.

Outcomes, decided from the meeting and its current report:
* on_time: reported held; for a regular meeting, on or before its rule date + N days (default
  5, `MeetingConfig.on_time_days_after_rule`); thematic and extraordinary ones are on time when
  held at all.
* late: a regular meeting reported held later in its month than that.
* not_held: reported as not held, or cancelled (and, for a month, no regular meeting at all once
  the month is over).
* not_scheduled: (a month) no regular meeting at all though the day the branch's rule gives
  has passed: missed so far, never "upcoming".
* not_reported: started more than `report_grace` ago with no report.
* upcoming / awaiting_report: not decided yet.
* not_joined: the branch had not joined the bot by the month's meeting (`onboarding.owes`: by
  the regular meeting's start, or the rule's moment when there is none): a month summary says
  so instead of judging it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig
from bot.services.meetings.plan import rule_slot
from bot.services.vn_calendar import VN_TZ, local_to_utc, month_bounds, to_local
from storage.models import Branch, Meeting, MeetingReport
from storage.models.meetings import MeetingKind, MeetingStatus
from storage.repositories.meetings import MeetingRepository
from storage.repositories.onboarding import owes


class Outcome(enum.StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    NOT_HELD = "not_held"
    NOT_REPORTED = "not_reported"
    UPCOMING = "upcoming"
    AWAITING_REPORT = "awaiting_report"
    NOT_JOINED = "not_joined"  # the branch has not joined the bot: not judged by it
    NOT_SCHEDULED = "not_scheduled"  # a month: its rule day passed with no meeting at all


FINAL_OUTCOMES = frozenset({Outcome.ON_TIME, Outcome.LATE, Outcome.NOT_HELD, Outcome.NOT_REPORTED})


def outcome(
    meeting: Meeting,
    report: MeetingReport | None,
    now: datetime,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
) -> Outcome:
    if meeting.status == MeetingStatus.CANCELLED:
        return Outcome.NOT_HELD
    if report is not None:
        if not report.held:
            return Outcome.NOT_HELD
        if meeting.kind != MeetingKind.REGULAR or meeting.rule_date is None:
            return Outcome.ON_TIME
        held_on = to_local(meeting.starts_at, tz).date()
        deadline = meeting.rule_date + timedelta(days=config.on_time_days_after_rule)
        in_month = (held_on.year, held_on.month) == (meeting.period_year, meeting.period_month)
        return Outcome.ON_TIME if in_month and held_on <= deadline else Outcome.LATE
    if now < meeting.starts_at:
        return Outcome.UPCOMING
    if now < meeting.starts_at + config.report_grace:
        return Outcome.AWAITING_REPORT
    return Outcome.NOT_REPORTED


@dataclass(frozen=True)
class BranchMonth:
    """One branch's month: its regular meeting's outcome and the other meetings held."""

    branch_id: int
    year: int
    month: int
    regular: Outcome
    regular_meeting_id: int | None
    thematic_held: int = 0
    extraordinary_held: int = 0
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # every meeting of the month


async def meeting_outcomes(
    session: AsyncSession,
    meetings: list[Meeting],
    now: datetime,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
) -> dict[int, Outcome]:
    reports = await MeetingRepository(session).current_reports([m.id for m in meetings])
    return {m.id: outcome(m, reports.get(m.id), now, config=config, tz=tz) for m in meetings}


async def month_figures(
    session: AsyncSession,
    branch_ids: list[int],
    year: int,
    month: int,
    now: datetime,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
    joined_since: Mapping[int, datetime] | None = None,
) -> list[BranchMonth]:
    """Regularity of each branch for one local month, in three queries whatever the count;
    `joined_since`: when each branch joined the bot (`onboarding.joined_since_many`): a branch
    that had not joined by the month's meeting reads `not_joined`; None judges every branch."""
    start, end = month_bounds(year, month, tz)
    repo = MeetingRepository(session)
    meetings = await repo.of_branches(branch_ids, start, end)
    branches = {b.id: b for b in await repo.branches(branch_ids)}
    outcomes = await meeting_outcomes(session, meetings, now, config=config, tz=tz)
    by_branch: dict[int, list[Meeting]] = {b: [] for b in branch_ids}
    for m in meetings:
        by_branch[m.branch_id].append(m)
    figures = []
    for branch_id in branch_ids:
        mine = by_branch[branch_id]
        regular = next((m for m in mine if m.kind == MeetingKind.REGULAR), None)
        due = regular.starts_at if regular else rule_moment(branches[branch_id], year, month, tz)
        if joined_since is not None and not owes(joined_since.get(branch_id), due):
            regular_outcome = Outcome.NOT_JOINED
        elif regular is not None:
            regular_outcome = outcomes[regular.id]
        elif now >= end:
            regular_outcome = Outcome.NOT_HELD
        else:
            regular_outcome = Outcome.UPCOMING if now < due else Outcome.NOT_SCHEDULED
        held = {Outcome.ON_TIME, Outcome.LATE}
        figures.append(
            BranchMonth(
                branch_id=branch_id,
                year=year,
                month=month,
                regular=regular_outcome,
                regular_meeting_id=regular.id if regular else None,
                thematic_held=sum(
                    1 for m in mine if m.kind == MeetingKind.THEMATIC and outcomes[m.id] in held
                ),
                extraordinary_held=sum(
                    1
                    for m in mine
                    if m.kind == MeetingKind.EXTRAORDINARY and outcomes[m.id] in held
                ),
                outcomes={m.id: outcomes[m.id] for m in mine},
            )
        )
    return figures


def rule_moment(branch: Branch, year: int, month: int, tz: ZoneInfo = VN_TZ) -> datetime:
    """When the branch's rule puts its regular meeting of the month (holiday-shifted)."""
    return local_to_utc(rule_slot(branch.meeting_day, year, month).day, branch.meeting_time, tz)


def local_month(dt: datetime, tz: ZoneInfo = VN_TZ) -> tuple[int, int]:
    loc = to_local(dt, tz)
    return loc.year, loc.month
