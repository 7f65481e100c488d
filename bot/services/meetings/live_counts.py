"""The group's messages about a meeting always show it as it is now, edited in place by the
coalescing editor (`bot.services.live_edits`). Only messages in the branch's current group are
edited.

Every delivered announcement and correction of the meeting in that group is a target:

- while answers are open, the latest one of the current version is the live message (details,
  counts, the Có mặt / Vắng mặt buttons); the earlier ones show the current details without
  buttons and say where to answer;
- once the meeting has started (answers closed; a report comes after the start), every one
  shows the final counts, without buttons;
- a cancelled meeting's messages say it is cancelled, without buttons.

A pass looks at the meetings answered, changed (the meeting-changed hook marks them) or
started since the last pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.context import ServiceContext
from bot.services.live_edits import CoalescedEdits, Edit, MessageEditor
from bot.services.meetings import presentation as p
from bot.services.meetings.events import MeetingChanged
from storage.models import Meeting
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.repositories.meetings import MeetingRepository
from storage.repositories.recipients import RecipientRepository


@dataclass
class LiveTarget:
    chat_id: int
    message_id: int
    header: str
    # A correction's top as sent (its head and what changed, old -> new): kept on every edit,
    # or the group's "schedule changed" would no longer say what changed after the first tap.
    top: str | None = None
    # The message carrying the buttons: the latest of the meeting's current version.
    live: bool = True
    sent: str = ""


async def group_targets(session: AsyncSession, meeting: Meeting) -> list[LiveTarget] | None:
    """The meeting's delivered announcement and corrections in its branch's current group,
    oldest first (None when the branch has no group)."""
    repo = MeetingRepository(session)
    group = await RecipientRepository(session).branch_chat(meeting.branch_id)
    if group is None:
        return None
    rows = await repo.group_messages(meeting.id, group)
    current = [i for i, row in enumerate(rows) if row[1] == meeting.version]
    live = current[-1] if current else None
    targets = []
    for i, (kind, _version, chat_id, message_id, sent) in enumerate(rows):
        if kind == NoticeKind.ANNOUNCE:
            target = LiveTarget(chat_id, message_id, "mtg.announce.head")
        else:
            top = sent.split("\n\n", 1)[0] or None
            target = LiveTarget(chat_id, message_id, "mtg.changed.head", top)
        target.live, target.sent = i == live, sent
        targets.append(target)
    return targets


async def mark_changed(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
) -> None:
    """The meeting-changed hook: the editor's next pass re-renders the group's messages about
    this meeting (moved, cancelled, reinstated), stamped on the bot's clock it reads by."""
    meeting.updated_at = ctx.now()


def is_open(meeting: Meeting, now: datetime) -> bool:
    """Answers are taken: scheduled and not started (a report only comes after the start)."""
    return meeting.status == MeetingStatus.SCHEDULED and meeting.starts_at > now


@dataclass
class LiveCounts(CoalescedEdits):
    """The group messages' edits: the meetings answered, changed or started since the last
    pass, each at most once every `every` (`CoalescedEdits`)."""

    every: float = 3.0

    async def flush(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        ctx: ServiceContext,
        edit: MessageEditor,
    ) -> int:
        """One pass: edit the messages whose text changed; the number of edits made."""
        now = ctx.now()
        since = self.since(now)
        mono = self.monotonic()
        todo: list[Edit] = []
        async with session_factory() as s, s.begin():
            repo = MeetingRepository(s)
            self.pending |= await repo.answered_since(since)
            self.pending |= await repo.changed_since(since)
            self.pending |= await repo.closed_between(since, now)
            for meeting_id in sorted(self.pending):
                if self.recent(meeting_id, mono):
                    continue
                meeting = await repo.get(meeting_id)
                rendered = None if meeting is None else await self._render(s, ctx, meeting, now)
                if rendered is None:
                    self.pending.discard(meeting_id)
                    continue
                edits, waiting = rendered
                if not waiting:
                    self.pending.discard(meeting_id)
                for e in edits:
                    if not self.shown(e.chat_id, e.message_id, e.text):
                        todo.append(e)
        return await self.apply(todo, edit)

    async def _render(
        self, s: AsyncSession, ctx: ServiceContext, meeting: Meeting, now: datetime
    ) -> tuple[list[Edit], bool] | None:
        """The edits that bring the group's messages to the meeting as it is now, and whether
        the meeting stays pending (open, its live message not delivered yet); None when there
        is nothing to edit (no group, a planned meeting)."""
        repo = MeetingRepository(s)
        branch = await repo.branch(meeting.branch_id)
        targets = await group_targets(s, meeting)
        if branch is None or targets is None or meeting.status == MeetingStatus.PLANNED:
            return None
        i18n, loc, tz = ctx.i18n, ctx.default_locale, ctx.tz
        cancelled = meeting.status == MeetingStatus.CANCELLED
        open_ = is_open(meeting, now)
        counts: tuple[int, int, int] | None = None
        if not cancelled and targets:
            yes, no, members = await repo.rsvp_counts(meeting.id, meeting.branch_id)
            counts = (yes, no, max(members - yes - no, 0))
        edits: list[Edit] = []
        for target in targets:
            markup = None
            if cancelled:
                text = p.cancelled_text(i18n, loc, meeting, branch, tz=tz)
            elif open_ and not target.live:
                text = p.superseded_text(i18n, loc, meeting, branch, tz=tz)
            else:
                assert counts is not None
                live = target.live
                text = p.announcement_text(
                    i18n,
                    loc,
                    meeting,
                    branch,
                    *counts,
                    header=target.header if live else "mtg.announce.head",
                    top=target.top if live else None,
                    closed=not open_,
                    tz=tz,
                )
                if open_:
                    markup = p.rsvp_markup(i18n, loc, meeting.id)
                    self._remember_live(meeting, target)
            if text == target.sent and markup is not None:
                continue  # as delivered (the same text, its buttons): nothing to edit
            edits.append(Edit(meeting.id, target.chat_id, target.message_id, text, markup))
        waiting = open_ and not any(t.live for t in targets)
        return edits, waiting

    @staticmethod
    def _remember_live(meeting: Meeting, target: LiveTarget) -> None:
        if (meeting.announce_chat_id, meeting.announce_message_id) != (
            target.chat_id,
            target.message_id,
        ):
            meeting.announce_chat_id = target.chat_id
            meeting.announce_message_id = target.message_id
