"""Nudges follow a meeting change at once (the meeting-changed hook).

A meeting confirmed, moved or cancelled changes what its secretary and its visitors owe:
"schedule it" is met, "report it" waits for the new day, a dropped visit is nobody's to
confirm. The sweep would find that out on its next run; the hook ends the tracks that are not
owed any more in the change's own transaction, so no figure counts them in between and the
next sweep starts from the truth. Messages already queued are withdrawn by the outbox's
last-moment check (`sendcheck`), which keeps a message that still names something owed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.context import ServiceContext
from bot.services.meetings.events import MeetingChanged, subscribe
from bot.services.nudges.obligations import Status
from bot.services.nudges.providers import (
    MeetingReport,
    MeetingUnscheduled,
    VisitReport,
    VisitUnconfirmed,
)
from bot.services.nudges.registry import statuses
from storage.models import Meeting
from storage.models.nudges import TrackEnd
from storage.repositories.nudge_sources import NudgeSources
from storage.repositories.nudges import NudgeRepository

FOLLOW_HOOK = "nudges.tracks"


async def keys_of_meeting(session: AsyncSession, meeting_id: int) -> list[str]:
    """The obligation keys that name this meeting or a visit to it."""
    visits = await NudgeSources(session).visits_of_meeting(meeting_id)
    return [
        f"{MeetingUnscheduled.prefix}:{meeting_id}",
        f"{MeetingReport.prefix}:{meeting_id}",
        *(f"{p}:{v}" for v in visits for p in (VisitUnconfirmed.prefix, VisitReport.prefix)),
    ]


async def close_tracks(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
) -> int:
    """End the open tracks of this meeting that are no longer owed; how many ended."""
    if ev.created:
        return 0
    repo = NudgeRepository(session)
    now = ctx.now()
    tracks = [
        t
        for t in (await repo.tracks_by_keys(await keys_of_meeting(session, meeting.id))).values()
        if t.ended_at is None
    ]
    if not tracks:
        return 0
    found = await statuses(session, [t.key for t in tracks], now, ctx.tz)
    met = [t.id for t in tracks if found[t.key] is Status.MET]
    lapsed = [t.id for t in tracks if found[t.key] is Status.LAPSED]
    await repo.end_tracks(met, TrackEnd.MET, now)
    await repo.end_tracks(lapsed, TrackEnd.LAPSED, now)
    return len(met) + len(lapsed)


def subscribe_meeting_changes() -> None:
    subscribe(FOLLOW_HOOK, close_tracks)
