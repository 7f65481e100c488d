"""What every broadcast service shares: the typed error, the configuration, who may send for a
district or a commune, and who may see or act on a broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, Refused
from storage.models import Broadcast
from storage.repositories.broadcasts import BroadcastRepository

# Outbox origins: the copies and button messages (stopped and retried together), the sender's
# progress message, the reminders.
ORIGIN = "broadcast"
ORIGIN_PROGRESS = "broadcast_progress"
ORIGIN_REMINDER = "broadcast_reminder"


class BroadcastError(Refused):
    """A broadcast request refused for a reason the person can read (catalog key + fields)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True)
class BroadcastConfig:
    """Rules an operator may tune."""

    page_size: int = 8
    # The reminder goes this long before the deadline, or halfway from sending to the
    # deadline when that is later (a deadline two hours away is reminded after one).
    remind_before: timedelta = timedelta(hours=24)
    # A deadline closer than this to the sending time leaves no time to read.
    min_ack_window: timedelta = timedelta(minutes=30)
    # How far ahead a sending time or a deadline may be.
    max_ahead: timedelta = timedelta(days=366)
    # Telegram albums hold 2-10 items.
    album_max: int = 10
    excerpt_max: int = 120
    # The live progress message is edited at most this often (seconds), and the pace shown
    # is measured over this window.
    progress_every: float = 5.0
    pace_window: timedelta = timedelta(seconds=30)
    # Acknowledgements after the deadline are still recorded; the nudges feature looks back
    # this far for broadcasts whose deadline passed.
    nudge_lookback: timedelta = timedelta(days=30)


DEFAULT_CONFIG = BroadcastConfig()


def scope_of(actor: Actor, district_id: int) -> frozenset[int] | None:
    """The units `actor` may broadcast to in `district_id`: None for the whole district (its
    committee admins), the communes they administer for a commune admin; anyone else is
    refused."""
    if actor.is_admin_of(district_id):
        return None
    units = actor.admin_unit_ids(district_id)
    if units:
        return units
    raise BroadcastError("bc.not_admin")


def manages(actor: Actor, broadcast: Broadcast) -> bool:
    """The district's committee admins, the admins of its commune, and its author while they
    still administer a commune of the district: authorship never outlives the role, so an
    admin removed from `committee_admins` can no longer refresh, resend or stop what they
    sent (the actor's roles are read from the current rows on every update)."""
    if actor.is_admin_of(broadcast.district_id):
        return True
    if broadcast.unit_id is not None:
        return actor.is_unit_admin_of(broadcast.unit_id)
    return actor.telegram_id == broadcast.created_by and bool(
        actor.admin_unit_ids(broadcast.district_id)
    )


async def load_managed(
    session: AsyncSession, actor: Actor, broadcast_id: int, *, for_update: bool = False
) -> Broadcast:
    """The broadcast if `actor` may act on it; ids come from buttons and are never trusted,
    and someone else's broadcast reads as not found."""
    broadcast = await BroadcastRepository(session).get(broadcast_id, for_update=for_update)
    if broadcast is None or not manages(actor, broadcast):
        raise BroadcastError("bc.not_found")
    return broadcast


def scope_for(actor: Actor, broadcast: Broadcast) -> frozenset[int] | None:
    """The audience scope a broadcast resolves in: its commune when it has one, else the
    acting person's (a district admin: the whole district)."""
    if broadcast.unit_id is not None:
        return frozenset({broadcast.unit_id})
    return scope_of(actor, broadcast.district_id)
