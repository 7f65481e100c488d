"""One change of a meeting, every consequence: the "meeting changed" hook.

Every path that changes a meeting's time, place or existence (scheduling it at another time,
confirming it, rescheduling, cancelling, reinstating, a rule change or an import replanning
it) raises exactly one `MeetingChanged` through `raise_change`, in the use case's own
transaction. The features that must follow subscribe at start-up (the composition root calls
each feature's `subscribe_meeting_changes`): the announcement and corrections, the reminders
of the older version, the published rosters visiting the meeting, and the nudges tracking it.

Why a registry and not calls: a use case cannot forget a consequence it does not know about
(the roster stayed on the old day after `/schedule` confirmed a planned meeting at another
time, because only `/reschedule` called the repair), and meetings no longer import rosters,
which import meetings (the cycle `schedule -> rosters.changes -> rosters.moves -> schedule`).
The shape is the outbox's `on_failure`: keyed, so registering again replaces, never doubles.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.context import ServiceContext
from storage.models import Meeting
from storage.models.meetings import MeetingStatus

log = logging.getLogger("bot.meetings")


class ChangeKind(enum.StrEnum):
    """What happened to the meeting, as the person or job that did it would say."""

    SCHEDULED = "scheduled"  # confirmed or created by the secretary (perhaps at another time)
    REINSTATED = "reinstated"  # a cancelled meeting scheduled again
    RESCHEDULED = "rescheduled"  # moved, or its place/agenda changed
    CANCELLED = "cancelled"
    REPLANNED = "replanned"  # a planned meeting moved by its branch's rule (edit or import)


@dataclass(frozen=True)
class MeetingChanged:
    """One change of one meeting: who it belongs to, and its time, place and status before
    and after. `before` is the whole snapshot the corrections are worded from ({} for a
    meeting created by the change); `old_version` tells which reminders went stale."""

    meeting_id: int
    branch_id: int
    district_id: int
    kind: ChangeKind
    old_starts_at: datetime | None
    new_starts_at: datetime
    old_place: str | None
    new_place: str
    old_status: MeetingStatus | None
    new_status: MeetingStatus
    old_version: int | None
    new_version: int
    before: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def created(self) -> bool:
        return self.old_status is None

    @property
    def moved(self) -> bool:
        """The time changed (or the meeting stopped or started existing)."""
        return self.old_starts_at != self.new_starts_at or self.old_status != self.new_status

    @property
    def cancelled(self) -> bool:
        return self.new_status is MeetingStatus.CANCELLED

    @classmethod
    def of(cls, meeting: Meeting, kind: ChangeKind, before: dict[str, object]) -> MeetingChanged:
        """The event for `meeting` as it is now, against the snapshot taken before the change
        ({} when the change created it)."""
        old_start = before.get("starts_at")
        old_place = before.get("place")
        old_status = before.get("status")
        old_version = before.get("version")
        return cls(
            meeting_id=meeting.id,
            branch_id=meeting.branch_id,
            district_id=meeting.district_id,
            kind=kind,
            old_starts_at=old_start if isinstance(old_start, datetime) else None,
            new_starts_at=meeting.starts_at,
            old_place=old_place if isinstance(old_place, str) else None,
            new_place=meeting.place,
            old_status=MeetingStatus(old_status) if isinstance(old_status, str) else None,
            new_status=MeetingStatus(meeting.status),
            old_version=old_version if isinstance(old_version, int) else None,
            new_version=meeting.version,
            before=dict(before),
        )


# A subscriber runs in the use case's transaction; what it returns is kept under its name
# (the announcement's `Told` is read back by the use case for the secretary's answer).
Subscriber = Callable[[AsyncSession, ServiceContext, Meeting, MeetingChanged], Awaitable[Any]]


@dataclass
class MeetingHooks:
    """Subscribers by name, run in the order they were first registered."""

    subscribers: dict[str, Subscriber] = field(default_factory=dict)

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self.subscribers[name] = subscriber

    async def raise_change(
        self, session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
    ) -> dict[str, Any]:
        """Run every subscriber; an exception propagates and rolls the whole change back (a
        meeting moved while its roster stays put is the defect this exists to prevent)."""
        results: dict[str, Any] = {}
        for name, subscriber in list(self.subscribers.items()):
            results[name] = await subscriber(session, ctx, meeting, ev)
        log.debug("meeting %s %s: %s", ev.meeting_id, ev.kind, ", ".join(results))
        return results


default_hooks = MeetingHooks()


def subscribe(name: str, subscriber: Subscriber) -> None:
    """Register a feature's reaction to every meeting change (start-up, once per name)."""
    default_hooks.subscribe(name, subscriber)


def subscribed() -> list[str]:
    return list(default_hooks.subscribers)


async def raise_change(
    session: AsyncSession,
    ctx: ServiceContext,
    meeting: Meeting,
    kind: ChangeKind,
    before: dict[str, object],
) -> dict[str, Any]:
    """Raise the one event of this change; returns each subscriber's result by name."""
    await session.flush()
    return await default_hooks.raise_change(
        session, ctx, meeting, MeetingChanged.of(meeting, kind, before)
    )
