"""What every meeting service shares: the typed error, limits, configuration, permission check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Action, Actor, Refused, Target, require
from storage.models import Branch, Meeting
from storage.repositories.meetings import MeetingRepository

# Text limits: Telegram allows 4096 characters per message; these leave room for the layout.
PLACE_MAX = 256
TITLE_MAX = 256
AGENDA_MAX = 3000
CANCEL_REASON_MAX = 512
ABSENCE_TEXT_MAX = 256
RESOLUTION_MAX = 3000
LIST_ITEMS_MAX = 20
TOPIC_MAX = 256
PROPOSAL_MAX = 1000
FILE_ID_MAX = 256


class MeetingError(Refused):
    """A meeting request refused for a reason the person can read (catalog key + fields).

    A subclass of the policy's `Refused`, so a handler answers both the same way.
    """

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True)
class MeetingConfig:
    """Rules an operator may tune; the defaults follow the district's usual practice."""

    # How many months ahead (this month included) the rule plans regular meetings.
    horizon_months: int = 3
    # A regular meeting is "on time" when held on or before its rule date + this many days
    # (within its month); later in the month it is "late".
    on_time_days_after_rule: int = 5
    # A past meeting with no report after this long is "not reported".
    report_grace: timedelta = timedelta(days=3)
    # A report can be corrected this long after its first version.
    correction_window: timedelta = timedelta(days=7)
    # Length shown in calendars (the bot does not track when a meeting ends).
    duration: timedelta = timedelta(hours=2)
    # A quick-form date without a year that is more than this many days past means next year
    # (scheduling January's meeting in December); a nearer past date is a mistake.
    next_year_after_days: int = 60


DEFAULT_CONFIG = MeetingConfig()


def check_length(value: str, limit: int, key: str) -> str:
    value = value.strip()
    if len(value) > limit:
        raise MeetingError(key, max=limit, length=len(value))
    return value


async def led_branches(
    session: AsyncSession, actor: Actor, *, refuse_none: bool = False
) -> list[Branch]:
    """The active branches `actor` leads (secretary or deputy), once each; with `refuse_none`,
    none at all is a refusal (only a secretary schedules)."""
    repo = MeetingRepository(session)
    out = []
    for branch_id in dict.fromkeys(actor.led_branch_ids()):
        branch = await repo.branch(branch_id)
        if branch is not None and branch.active:
            out.append(branch)
    if refuse_none and not out:
        raise Refused("policy.needs_secretary")
    return out


async def led_branch(session: AsyncSession, actor: Actor, branch_id: int) -> Branch:
    """One of those, by an id from callback data (never trusted)."""
    for branch in await led_branches(session, actor):
        if branch.id == branch_id:
            return branch
    raise Refused("policy.not_your_branch")


async def load_meeting(
    session: AsyncSession, meeting_id: int, *, for_update: bool = False
) -> tuple[Meeting, Branch]:
    repo = MeetingRepository(session)
    meeting = await repo.get(meeting_id, for_update=for_update)
    branch = await repo.branch(meeting.branch_id) if meeting is not None else None
    if meeting is None or branch is None:
        raise MeetingError("meetings.error.not_found")
    return meeting, branch


async def managed_meeting(
    session: AsyncSession, actor: Actor, meeting_id: int, *, for_update: bool = True
) -> tuple[Meeting, Branch]:
    """The meeting if `actor` may manage its branch: ids from callback data are never trusted."""
    meeting, branch = await load_meeting(session, meeting_id, for_update=for_update)
    require(actor, Action.MANAGE_BRANCH, Target.branch(branch))
    return meeting, branch
