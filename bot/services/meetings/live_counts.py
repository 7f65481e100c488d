"""The group's messages about a meeting always show it as it is now, edited in place by the
coalescing editor (`bot.services.live_edits`). Only messages in the branch's current group are
edited.

Every delivered announcement, correction and group reminder of the meeting in that group is a
target:

- while answers are open, the latest announcement or correction of the current version is the
  live message (details, counts, the Có mặt / Vắng mặt buttons); the earlier ones, and the
  reminders of an earlier version, show the current details without buttons and say where to
  answer (so after a reschedule one message only carries the buttons); a reminder of the
  current version stays as sent, its buttons answering the meeting as it is;
- once the meeting has started (answers closed; a report comes after the start), every one
  shows the final counts, without buttons;
- a cancelled meeting's messages say it is cancelled, without buttons.

The members' private reminders follow too (`member_reminder_edits`): once the member has
answered, wherever, the reminder says their answer instead of asking; it loses its buttons when
answers close, and says so when the meeting moves or is cancelled.

A pass looks at the meetings answered, changed (the meeting-changed hook marks them) or
started since the last pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import pick_locale
from bot.services.context import ServiceContext
from bot.services.live_edits import CoalescedEdits, Edit, MessageEditor
from bot.services.meetings import presentation as p
from bot.services.meetings.events import MeetingChanged
from storage.db import sqlite_deferred
from storage.models import Branch, Meeting
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
    # A group reminder (24 h, 2 h): never the live message; as sent while it is current.
    reminder: bool = False
    version: int = 0


REMINDERS = frozenset({NoticeKind.GROUP_24H, NoticeKind.GROUP_2H})


async def group_targets(session: AsyncSession, meeting: Meeting) -> list[LiveTarget] | None:
    """The meeting's delivered announcement, corrections and group reminders in its branch's
    current group, oldest first (None when the branch has no group)."""
    repo = MeetingRepository(session)
    group = await RecipientRepository(session).branch_chat(meeting.branch_id)
    if group is None:
        return None
    rows = await repo.group_messages(meeting.id, group)
    current = [
        i for i, row in enumerate(rows) if row[1] == meeting.version and row[0] not in REMINDERS
    ]
    live = current[-1] if current else None
    targets = []
    for i, (kind, version, chat_id, message_id, sent) in enumerate(rows):
        if kind == NoticeKind.ANNOUNCE:
            target = LiveTarget(chat_id, message_id, "mtg.announce.head")
        elif kind in REMINDERS:
            target = LiveTarget(chat_id, message_id, "mtg.announce.head", reminder=True)
        else:
            top = sent.split("\n\n", 1)[0] or None
            target = LiveTarget(chat_id, message_id, "mtg.changed.head", top)
        target.live, target.sent, target.version = i == live, sent, version
        targets.append(target)
    return targets


async def member_reminder_edits(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, branch: Branch, now: datetime
) -> list[Edit]:
    """The members' delivered private reminders that no longer read right: answered (in the
    group or there), the meeting moved, cancelled or started; each in its reader's language."""
    repo = MeetingRepository(session)
    rows = await repo.member_reminders(meeting.id)
    if not rows:
        return []
    answers = {r.member_id: r.answer for r in await repo.rsvps(meeting.id)}
    languages = await RecipientRepository(session).languages(row[2] for row in rows)
    i18n, default = ctx.i18n, ctx.default_locale
    open_ = is_open(meeting, now)
    edits = []
    for version, member_id, chat_id, message_id, sent in rows:
        loc = pick_locale(*languages[chat_id], default) if chat_id in languages else default
        current = version == meeting.version
        text = p.member_reminder_now(
            i18n,
            loc,
            meeting,
            branch,
            sent,
            answers.get(member_id),
            current=current,
            open_=open_,
            tz=ctx.tz,
        )
        if text is None:
            continue
        live = open_ and current and meeting.status == MeetingStatus.SCHEDULED
        markup = p.rsvp_markup(i18n, loc, meeting.id) if live else None
        edits.append(Edit(meeting.id, chat_id, message_id, text, markup))
    return edits


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
    _live_moved: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False)

    async def flush(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        ctx: ServiceContext,
        edit: MessageEditor,
    ) -> int:
        """One pass: edit the messages whose text changed; the number of edits made."""
        async with self.one_pass:
            now = ctx.now()
            since = self.since(now)
            mono = self.monotonic()
            todo: list[Edit] = []
            self._live_moved.clear()
            # Reads only, without SQLite's write lock: a pass after a month's meetings start can
            # render thousands, and a writer waiting behind it (the outbox's) gave up after 30 s.
            with sqlite_deferred():
                async with session_factory() as s, s.begin():
                    await self._collect(s, ctx, now, since, mono, todo)
            if self._live_moved:
                async with session_factory() as s, s.begin():
                    repo = MeetingRepository(s)
                    for meeting_id, (chat_id, message_id) in self._live_moved.items():
                        await repo.set_announcement(meeting_id, chat_id, message_id)
            return await self.apply(todo, edit)

    async def _collect(
        self,
        s: AsyncSession,
        ctx: ServiceContext,
        now: datetime,
        since: datetime,
        mono: float,
        todo: list[Edit],
    ) -> None:
        """The edits due in this pass (into `todo`), and the meetings whose live message moved."""
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

    async def _render(
        self, s: AsyncSession, ctx: ServiceContext, meeting: Meeting, now: datetime
    ) -> tuple[list[Edit], bool] | None:
        """The edits that bring the group's messages to the meeting as it is now, and whether
        the meeting stays pending (open, its live message not delivered yet); None when there
        is nothing to edit (no group, a planned meeting)."""
        repo = MeetingRepository(s)
        branch = await repo.branch(meeting.branch_id)
        if branch is None or meeting.status == MeetingStatus.PLANNED:
            return None
        private = await member_reminder_edits(s, ctx, meeting, branch, now)
        targets = await group_targets(s, meeting)
        if targets is None:
            return private, False
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
            if target.reminder and open_ and target.version == meeting.version:
                continue  # as sent: the meeting as it is, its buttons answering it
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
        return edits + private, waiting

    def _remember_live(self, meeting: Meeting, target: LiveTarget) -> None:
        """The message carrying the buttons moved (a new one after a change): written after
        the pass's reads, in a short transaction of its own."""
        if (meeting.announce_chat_id, meeting.announce_message_id) != (
            target.chat_id,
            target.message_id,
        ):
            self._live_moved[meeting.id] = (target.chat_id, target.message_id)
