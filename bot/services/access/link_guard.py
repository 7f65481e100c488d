"""Wrong `/link` codes are slowed, then refused for a while: codes cannot be guessed.

A code has ~39 bits, but each guess used to cost the bot a getChatMember call and nothing else,
and a hit would move a branch's binding. Now every wrong (well-formed) code counts against the
chat it was typed in and the person who typed it, in the database (so a lock-out survives a
restart and holds across processes):

* `SLOW_AFTER` wrong codes in `WINDOW`: the next try must wait `SLOW_GAP` after the last one;
* `MAX_FAILURES` wrong codes in `WINDOW`: refused for `LOCK` (the right code too), and the
  committee admins of the chat's district (an unbound chat: of the sender's districts; none:
  the bootstrap admins) are told once.

The lock is checked before the code is even looked up, and a wrong code never reaches the
getChatMember call. Malformed text ('xyz') is not a guess and does not count.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services.access import notices as access_notices
from bot.services.access.notices import local_time
from bot.services.access.policy import Refused
from storage.repositories.access import AccessRepository

WINDOW = timedelta(minutes=10)
SLOW_AFTER = 3
SLOW_GAP = timedelta(seconds=20)
MAX_FAILURES = 5
LOCK = timedelta(minutes=30)


class Scope(enum.StrEnum):
    CHAT = "chat"
    PERSON = "person"


@dataclass(frozen=True)
class Subjects:
    """Who a `/link` attempt counts against: the chat, and the person unless anonymous."""

    chat_id: int
    chat_title: str
    person_id: int | None

    def counted(self) -> list[tuple[str, int]]:
        keys: list[tuple[str, int]] = [(Scope.CHAT, self.chat_id)]
        if self.person_id is not None:
            keys.append((Scope.PERSON, self.person_id))
        return keys


async def check(session: AsyncSession, who: Subjects, now: datetime, tz: tzinfo) -> None:
    """Refuse while the chat or the person is locked out or must still wait."""
    for row in await AccessRepository(session).link_attempts(who.counted()):
        if row.locked_until is not None and row.locked_until > now:
            raise Refused("link.locked", until=local_time(row.locked_until, tz))
        in_window = now - row.window_started_at < WINDOW
        wait_until = row.last_failure_at + SLOW_GAP
        if in_window and row.failures >= SLOW_AFTER and now < wait_until:
            raise Refused("link.slow_down", until=wait_until.astimezone(tz).strftime("%H:%M:%S"))


async def record_failure(
    session: AsyncSession,
    who: Subjects,
    now: datetime,
    *,
    district_ids: Collection[int],
    i18n: CatalogI18n,
    tz: tzinfo,
    fallback_admin_ids: Collection[int] = (),
) -> datetime | None:
    """Count one wrong code; when this locks the chat or the person, tell the committee admins
    of `district_ids` (or the bootstrap admins) once, and return until when."""
    repo = AccessRepository(session)
    locked: list[tuple[str, int, datetime]] = []
    for scope, subject_id in who.counted():
        row = await repo.link_attempt_for_update(scope, subject_id, now)
        expired_lock = row.locked_until is not None and row.locked_until <= now
        if expired_lock or now - row.window_started_at >= WINDOW:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= MAX_FAILURES and row.locked_until is None:
            row.locked_until = now + LOCK
            locked.append((scope, subject_id, row.locked_until))
    await session.flush()
    if locked:
        await _tell_admins(session, who, locked, district_ids, i18n, tz, fallback_admin_ids)
    return max((until for *_, until in locked), default=None)


async def _tell_admins(
    session: AsyncSession,
    who: Subjects,
    locked: Sequence[tuple[str, int, datetime]],
    district_ids: Collection[int],
    i18n: CatalogI18n,
    tz: tzinfo,
    fallback_admin_ids: Collection[int],
) -> None:
    recipients = await access_notices.district_admin_ids(session, district_ids, fallback_admin_ids)
    for scope, subject_id, until in locked:
        await access_notices.tell(
            session,
            i18n,
            recipients,
            f"link.admin_locked_{scope}",
            origin=("link_attempt", subject_id),
            dedupe=f"linklock:{scope}:{subject_id}:{until.isoformat()}",
            chat=escape(who.chat_title or str(who.chat_id)),
            chat_id=who.chat_id,
            person=subject_id,
            until=local_time(until, tz),
        )
