"""The live RSVP count on the group announcement, edited in place.

The one exception to "through the outbox": the outbox has no edit content type, and an edit is
idempotent (only the latest state matters), so `LiveCounts` edits the message from a scheduler
job, at most once per meeting every few seconds, re-rendered from the database each time. A lost
edit is simply redone on the next tap. Only the message in the branch's current group is edited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.meetings import presentation as p
from bot.services.meetings.context import MeetingContext
from storage.models import Meeting
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository

log = logging.getLogger("bot.meetings.live_counts")

# async (chat_id, message_id, text, markup as JSON) -> None
EditFunc = Callable[[int, int, str, dict[str, Any]], Awaitable[None]]


@dataclass
class LiveTarget:
    chat_id: int
    message_id: int
    header: str
    # A correction's top as sent (its head and what changed, old -> new): kept on every edit,
    # or the group's "schedule changed" would no longer say what changed after the first tap.
    top: str | None = None


async def live_message(session: AsyncSession, meeting: Meeting) -> LiveTarget | None:
    """The message in the branch's current group that carries the meeting's live count: the
    latest delivered announcement or correction of its current version."""
    repo = MeetingRepository(session)
    group = await repo.branch_chat(meeting.branch_id)
    if group is None:
        return None
    row = await repo.live_message(meeting.id, meeting.version, group)
    if row is None:
        return None
    kind, chat_id, message_id, sent = row
    if kind == NoticeKind.ANNOUNCE.value:
        return LiveTarget(chat_id, message_id, "mtg.announce.head")
    return LiveTarget(chat_id, message_id, "mtg.changed.head", sent.split("\n\n", 1)[0] or None)


@dataclass
class LiveCounts:
    """Coalesced edits of the live count: at most one edit per meeting every `every`.

    The database says which counts changed (RSVPs answered since the last pass, with `slack`
    for transactions that committed after their tap's timestamp); this object only remembers,
    per process, when each message was last edited and with what text, so an unchanged count
    is never re-sent. After a restart the first pass looks back `lookback` to catch taps the
    previous process had not shown yet.
    """

    every: float = 3.0
    slack: timedelta = timedelta(seconds=5)
    lookback: timedelta = timedelta(minutes=10)
    watermark: datetime | None = None
    pending: set[int] = field(default_factory=set)
    last_edit: dict[int, float] = field(default_factory=dict)
    last_text: dict[tuple[int, int], str] = field(default_factory=dict)
    edits: int = 0
    monotonic: Callable[[], float] = time.monotonic

    async def flush(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        ctx: MeetingContext,
        edit: EditFunc,
    ) -> int:
        """One pass: edit the messages whose counts changed; the number of edits made."""
        now = ctx.now()
        since = (self.watermark or now - self.lookback) - self.slack
        self.watermark = now
        mono = self.monotonic()
        todo: list[tuple[LiveTarget, str, dict[str, Any], int]] = []
        async with session_factory() as s, s.begin():
            repo = MeetingRepository(s)
            self.pending |= await repo.answered_since(since)
            for meeting_id in sorted(self.pending):
                if mono - self.last_edit.get(meeting_id, -1e9) < self.every:
                    continue  # edited recently: stays pending for the next pass
                meeting = await repo.get(meeting_id)
                if (
                    meeting is None
                    or meeting.status != MeetingStatus.SCHEDULED.value
                    or meeting.starts_at <= now
                ):
                    self.pending.discard(meeting_id)
                    continue
                rendered = await self._render(s, ctx, meeting)
                if rendered is None:
                    continue  # not delivered yet: try again next pass
                target, text = rendered
                self.pending.discard(meeting_id)
                if self.last_text.get((target.chat_id, target.message_id)) == text:
                    continue
                markup = p.rsvp_markup(ctx.i18n, ctx.default_locale, meeting.id)
                todo.append((target, text, markup, meeting_id))
        made = 0
        for target, text, markup, meeting_id in todo:
            try:
                await edit(target.chat_id, target.message_id, text, markup)
            except Exception as exc:  # noqa: BLE001 - an edit is best effort; log and retry
                if "not modified" not in str(exc):
                    log.warning("live count edit of meeting %s failed: %s", meeting_id, exc)
                    self.pending.add(meeting_id)
                    continue
            self.last_text[(target.chat_id, target.message_id)] = text
            self.last_edit[meeting_id] = self.monotonic()
            self.edits += 1
            made += 1
        return made

    @staticmethod
    async def _render(
        s: AsyncSession, ctx: MeetingContext, meeting: Meeting
    ) -> tuple[LiveTarget, str] | None:
        repo = MeetingRepository(s)
        target = await live_message(s, meeting)
        branch = await repo.branch(meeting.branch_id)
        if target is None or branch is None:
            return None
        if (meeting.announce_chat_id, meeting.announce_message_id) != (
            target.chat_id,
            target.message_id,
        ):
            meeting.announce_chat_id = target.chat_id
            meeting.announce_message_id = target.message_id
        yes, no, members = await repo.rsvp_counts(meeting.id, meeting.branch_id)
        text = p.announcement_text(
            ctx.i18n,
            ctx.default_locale,
            meeting,
            branch,
            yes,
            no,
            max(members - yes - no, 0),
            header=target.header,
            top=target.top,
            tz=ctx.tz,
        )
        return target, text
