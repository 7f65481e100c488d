"""The live RSVP count on the group announcement, edited in place by the coalescing editor
(`bot.services.live_edits`). Only the message in the branch's current group is edited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.live_edits import CoalescedEdits, Edit, MessageEditor
from bot.services.meetings import presentation as p
from bot.services.meetings.context import MeetingContext
from storage.models import Meeting
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository


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
    if kind == NoticeKind.ANNOUNCE:
        return LiveTarget(chat_id, message_id, "mtg.announce.head")
    return LiveTarget(chat_id, message_id, "mtg.changed.head", sent.split("\n\n", 1)[0] or None)


@dataclass
class LiveCounts(CoalescedEdits):
    """The live counts' edits: the meetings whose RSVPs were answered since the last pass,
    each at most once every `every` (`CoalescedEdits`)."""

    every: float = 3.0

    async def flush(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        ctx: MeetingContext,
        edit: MessageEditor,
    ) -> int:
        """One pass: edit the messages whose counts changed; the number of edits made."""
        now = ctx.now()
        since = self.since(now)
        mono = self.monotonic()
        todo: list[Edit] = []
        async with session_factory() as s, s.begin():
            repo = MeetingRepository(s)
            self.pending |= await repo.answered_since(since)
            for meeting_id in sorted(self.pending):
                if self.recent(meeting_id, mono):
                    continue
                meeting = await repo.get(meeting_id)
                if (
                    meeting is None
                    or meeting.status != MeetingStatus.SCHEDULED
                    or meeting.starts_at <= now
                ):
                    self.pending.discard(meeting_id)
                    continue
                rendered = await self._render(s, ctx, meeting)
                if rendered is None:
                    continue  # not delivered yet: try again next pass
                target, text = rendered
                self.pending.discard(meeting_id)
                if self.shown(target.chat_id, target.message_id, text):
                    continue
                markup = p.rsvp_markup(ctx.i18n, ctx.default_locale, meeting.id)
                todo.append(Edit(meeting_id, target.chat_id, target.message_id, text, markup))
        return await self.apply(todo, edit)

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
