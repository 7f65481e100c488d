"""Obligations: what each person owes, derived from the database each time, never stored.

One provider per policy reads its feature's tables (through `NudgeSources`, one set query per
kind) and returns `Obligation`s: who owes what since when, whom to tell when it is ignored,
and the button that does the thing. The same provider answers, by key, whether an obligation
is still owed, met, or lapsed without being met: the sweep asks that of the obligations it
tracks that are no longer listed, the outbox asks it just before a nudge leaves, and a
pressed button asks it before opening the feature's screen.

Keys are stable strings naming the obligation ("report:123" is meeting 123's report), so a
restart, a second process or a re-run finds the same obligation and never nudges it twice.
The providers live in `providers.py` (meetings, rosters) and `providers_fb.py` (feedback,
broadcasts); `registry.py` lists them and asks them by policy or by key. This module only
says what an obligation and a provider are, so the providers import it and it imports none.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.nudges import NudgePolicy


class Status(enum.StrEnum):
    OWED = "owed"
    MET = "met"  # done, or acted on (forwarded, handed on)
    LAPSED = "lapsed"  # no longer owed, not done (cancelled, dropped, its window closed)


@dataclass(frozen=True)
class Owner:
    """Who owes it: a Telegram id (None: a member with no account), or a group's chat id."""

    chat_id: int | None
    name: str


@dataclass(frozen=True)
class Action:
    """The button that does the thing: its catalog label and its packed callback data."""

    label: str
    callback: str


@dataclass(frozen=True)
class EscalateTo:
    """One level up: a working group's leader in private, else the unit's committee (its
    chat), else the district's committee admins in private."""

    leader: Owner | None = None
    unit_id: int | None = None


@dataclass(frozen=True)
class Obligation:
    kind: NudgePolicy
    key: str
    district_id: int
    unit_id: int | None
    branch_id: int | None
    owners: tuple[Owner, ...]
    moment: datetime  # what the policy's hours count from (also "since" in escalations)
    params: dict[str, str]  # the texts' placeholders: branch, date, number...
    action: Action
    escalate_to: EscalateTo = field(default_factory=EscalateTo)
    urgent: bool = False  # sent on holidays too


@dataclass(frozen=True)
class Window:
    """Candidates whose moment is in [now - back, now + ahead]."""

    now: datetime
    ahead: timedelta
    back: timedelta
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return self.now - self.back

    @property
    def end(self) -> datetime:
        return self.now + self.ahead


class Provider(Protocol):
    policy: NudgePolicy
    prefix: str

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]: ...

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        """Each key's status at `now`; `tz` is the zone local days are read in (a visit on
        a day its visitor marked busy)."""
        ...


def key_id(key: str) -> int:
    """The row id a key names ("report:123" -> 123)."""
    return int(key.split(":")[1])
