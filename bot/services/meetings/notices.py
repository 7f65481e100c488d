"""Queueing what members must be told about meetings, in the caller's transaction.

Every message becomes an outbox row (`bot.outbox.enqueue`) recorded in `meeting_notices` under
the same dedupe key (`reminders.dedupe_key`), so a rollback sends nothing and a restart repeats
nothing. Group messages are written in the bot's default language, private ones in each person's
language (their /language choice, else Telegram's).

Group messages go to the branch's *current* active binding only: a group the branch moved away
from, or one that removed the bot, is never written to again, whatever it was told before.
Members' private chats that were told before get their corrections wherever the group is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import pick_locale
from bot.outbox import OutboxKind, OutboxMessage, enqueue, send_moment
from bot.services.context import ServiceContext
from bot.services.meetings import presentation as p
from bot.services.meetings.events import MeetingChanged, subscribe
from bot.services.meetings.live_counts import mark_changed
from bot.services.meetings.plan import mark_shift_told, shift_notices
from bot.services.meetings.reminders import due_reminders, record_notice
from storage.models import Meeting
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.models.org import MemberRole
from storage.repositories.meetings import MeetingRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.recipients import RecipientRepository

OUTBOX_KIND = OutboxKind.REMINDER
# A meeting starting within this is told at any hour (waking hours give way).
URGENT_BEFORE = timedelta(hours=1)
ORIGIN = "meeting"


def reminder_latest(meeting: Meeting) -> datetime:
    """A reminder held for the morning still leaves an hour before the meeting starts."""
    return meeting.starts_at - URGENT_BEFORE


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    member_id: int | None = None


@dataclass(frozen=True)
class Told:
    """What a change queued: how many chats will hear of it, and whether the branch has a group
    (the secretary is told to link one when not)."""

    chats: int = 0
    group_linked: bool = True


async def told_before(session: AsyncSession, meeting: Meeting) -> list[Recipient]:
    """Chats that received something about an older version of the meeting, once each."""
    seen: dict[int, Recipient] = {}
    for notice in await MeetingRepository(session).notices([meeting.id]):
        if notice.kind == NoticeKind.PRIVATE_CHAT_HINT or notice.version >= meeting.version:
            continue
        seen.setdefault(notice.chat_id, Recipient(notice.chat_id, notice.member_id))
    return list(seen.values())


@dataclass
class Notices:
    """Renders and queues meeting messages; one per use case or job run."""

    session: AsyncSession
    ctx: ServiceContext
    queued: set[int] = field(default_factory=set)  # chats queued a message by this object

    @property
    def repo(self) -> MeetingRepository:
        return MeetingRepository(self.session)

    @property
    def recipients(self) -> RecipientRepository:
        return RecipientRepository(self.session)

    async def locales_of(self, chat_ids: Iterable[int]) -> dict[int, str]:
        """Each private chat's language; groups read the default language."""
        chats = set(chat_ids)
        default = self.ctx.default_locale
        langs = await self.recipients.languages(c for c in chats if c > 0)
        return {c: pick_locale(*langs[c], default) if c in langs else default for c in chats}

    async def _queue(
        self,
        meeting: Meeting,
        kind: NoticeKind,
        chat_id: int,
        text: str,
        *,
        member_id: int | None = None,
        markup: dict[str, Any] | None = None,
        latest: datetime | None = None,
    ) -> bool:
        """Record the notice and queue its message under the same dedupe key; False when this
        chat already got this kind for this version (a retry or a concurrent job)."""
        now = self.ctx.now()
        notice = await record_notice(self.session, meeting, kind, chat_id, now, member_id=member_id)
        if notice is None:
            return False
        notice.outbox_id = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=chat_id,
                kind=OUTBOX_KIND,
                text=p.cut(text, p.TEXT_LIMIT),
                reply_markup=markup,
                dedupe_key=notice.dedupe_key,
                origin_type=ORIGIN,
                origin_id=meeting.id,
                latest=latest,
            ),
            clock=self.ctx.clock,
        )
        self.queued.add(chat_id)
        return True

    async def _counts(self, meeting: Meeting) -> tuple[int, int, int]:
        yes, no, members = await self.repo.rsvp_counts(meeting.id, meeting.branch_id)
        return yes, no, max(members - yes - no, 0)

    async def announce(self, meeting: Meeting) -> int | None:
        """Announce a scheduled meeting in its branch's current group (once per version); the
        group's chat id, or None when the branch has no linked group."""
        branch = await self.repo.branch(meeting.branch_id)
        chat_id = await self.recipients.branch_chat(meeting.branch_id)
        if branch is None or chat_id is None:
            return None
        loc, i18n = self.ctx.default_locale, self.ctx.i18n
        text = p.announcement_text(
            i18n, loc, meeting, branch, *await self._counts(meeting), tz=self.ctx.tz
        )
        markup = p.rsvp_markup(i18n, loc, meeting.id)
        await self._queue(meeting, NoticeKind.ANNOUNCE, chat_id, text, markup=markup)
        return chat_id

    async def publish(self, meeting: Meeting, before: dict[str, object]) -> Told:
        """After a schedule/reschedule/cancel: corrections to the people told before and to the
        current group, or the announcement where the current group has not heard of it yet."""
        branch = await self.repo.branch(meeting.branch_id)
        group = await self.recipients.branch_chat(meeting.branch_id)
        if branch is None:
            return Told(0, group is not None)
        earlier = await told_before(self.session, meeting)
        cancelled = meeting.status == MeetingStatus.CANCELLED
        kind = NoticeKind.CANCELLATION if cancelled else NoticeKind.CORRECTION
        group_told = {r.chat_id for r in earlier if r.chat_id < 0}
        to_tell = [r for r in earlier if r.chat_id > 0]
        if group is not None and (group in group_told or (cancelled and group_told)):
            to_tell.append(Recipient(group))
        locales = await self.locales_of(r.chat_id for r in to_tell)
        i18n, tz = self.ctx.i18n, self.ctx.tz
        for r in to_tell:
            loc = locales[r.chat_id]
            text = p.correction_text(i18n, loc, meeting, before, branch, tz=tz)
            markup = None
            if not cancelled:
                markup = p.rsvp_markup(i18n, loc, meeting.id)
                if r.chat_id < 0:
                    # The group's correction becomes the live message with the counts.
                    counts = p.counts_line(i18n, loc, *await self._counts(meeting))
                    text = p.cut(text, p.TEXT_LIMIT - len(counts) - 2) + "\n\n" + counts
            await self._queue(meeting, kind, r.chat_id, text, member_id=r.member_id, markup=markup)
        scheduled = meeting.status == MeetingStatus.SCHEDULED
        if scheduled and group is not None and group not in group_told:
            await self.announce(meeting)
        return Told(len(self.queued), group is not None)

    async def send_due_reminders(self) -> int:
        """Queue every reminder the database says is due now; how many were queued."""
        due = await due_reminders(self.session, self.ctx.now())
        if not due:
            return 0
        locales = await self.locales_of(d.chat_id for d in due)
        queued = 0
        for d in due:
            meeting = await self.repo.get(d.meeting_id)
            branch = await self.repo.branch(meeting.branch_id) if meeting else None
            if meeting is None or branch is None or meeting.version != d.version:
                continue
            loc = locales[d.chat_id]
            i18n = self.ctx.i18n
            latest = reminder_latest(meeting)
            at = send_moment(OUTBOX_KIND, self.ctx.now(), latest=latest)
            text = p.reminder_text(i18n, loc, d.kind, meeting, branch, at=at, tz=self.ctx.tz)
            markup = None
            if d.kind != NoticeKind.VISITOR_24H:
                markup = p.rsvp_markup(i18n, loc, meeting.id)
            if await self._queue(
                meeting,
                d.kind,
                d.chat_id,
                text,
                member_id=d.member_id,
                markup=markup,
                latest=latest,
            ):
                queued += 1
        return queued

    async def private_chat_hint(
        self, meeting: Meeting, telegram_id: int, name: str, url: str
    ) -> bool:
        """Tell the branch's current group, once per person and group, that this member should
        open a private chat with the bot (absence reasons and reminders go there)."""
        group = await self.recipients.branch_chat(meeting.branch_id)
        if group is None:
            return False
        text = p.private_chat_hint_text(self.ctx.i18n, self.ctx.default_locale, name, url)
        outbox_id = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=group,
                kind=OUTBOX_KIND,
                text=text,
                dedupe_key=f"mtg:pchat:{group}:{telegram_id}",
                origin_type=ORIGIN,
                origin_id=meeting.id,
            ),
            clock=self.ctx.clock,
        )
        if outbox_id is None:
            return False
        await record_notice(
            self.session,
            meeting,
            NoticeKind.PRIVATE_CHAT_HINT,
            telegram_id,
            self.ctx.now(),
            outbox_id=outbox_id,
        )
        self.queued.add(group)
        return True

    async def shift_notices(self) -> int:
        """Tell each branch's secretary (else deputy) that a holiday moved the planned date;
        the meeting stays pending until somebody with an account could be told."""
        told = 0
        for meeting in await shift_notices(self.session):
            branch = await self.repo.branch(meeting.branch_id)
            if branch is None or meeting.shifted_from is None:
                continue
            leaders = await self._leaders(branch.id)
            if not leaders:
                continue
            locales = await self.locales_of(leaders)
            for tg in leaders:
                text = p.shift_text(
                    self.ctx.i18n,
                    locales[tg],
                    meeting,
                    branch,
                    meeting.shifted_from,
                    tz=self.ctx.tz,
                )
                await enqueue(
                    self.session,
                    OutboxMessage(
                        chat_id=tg,
                        kind=OUTBOX_KIND,
                        text=text,
                        dedupe_key=f"mtg:{meeting.id}:shift:{tg}",
                        origin_type=ORIGIN,
                        origin_id=meeting.id,
                    ),
                    clock=self.ctx.clock,
                )
                self.queued.add(tg)
            await mark_shift_told(self.session, meeting.id, self.ctx.clock)
            told += 1
        return told

    async def _leaders(self, branch_id: int) -> list[int]:
        """Telegram ids of the branch's secretary, else its deputies, among those the bot can
        write to: a secretary who never opened a chat with the bot would only cost a failed
        send (a fresh district import queued ~150 of them), so the shift waits for them."""
        members = await self.repo.active_members(branch_id)
        linked = [m.telegram_id for m in members if m.telegram_id]
        reachable = await self.recipients.reachable_telegram_ids(i for i in linked if i is not None)
        for role in (MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY):
            ids = [m.telegram_id for m in members if m.role == role and m.telegram_id in reachable]
            if ids:
                return [i for i in ids if i is not None]
        return []


# ---- the meeting-changed hook ----------------------------------------------------------


async def withdraw_stale_reminders(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
) -> int:
    """A reminder or announcement of an older version still waiting in the outbox (held for
    the morning, or behind a backlog) would tell the old time: it never leaves."""
    if ev.old_version is None or ev.old_version == ev.new_version:
        return 0
    gone = await OutboxRepository(session).cancel_unsent(
        ORIGIN,
        str(meeting.id),
        ctx.now(),
        "withdrawn: the meeting changed",
        key_prefix=f"mtg:{meeting.id}:v{ev.old_version}:",
    )
    return len(gone)


async def announce_change(
    session: AsyncSession, ctx: ServiceContext, meeting: Meeting, ev: MeetingChanged
) -> Told:
    """The announcement where the group has not heard of the meeting, corrections to everyone
    told before (the live message with the counts included)."""
    return await Notices(session, ctx).publish(meeting, ev.before)


REMINDERS_HOOK = "meetings.reminders"
ANNOUNCEMENT_HOOK = "meetings.announcement"
LIVE_MESSAGES_HOOK = "meetings.live_messages"


def subscribe_meeting_changes() -> None:
    """Start-up: stale reminders withdrawn first, then the announcement and corrections, then
    the group's earlier messages marked for the live editor (shown as the meeting is now)."""
    subscribe(REMINDERS_HOOK, withdraw_stale_reminders)
    subscribe(ANNOUNCEMENT_HOOK, announce_change)
    subscribe(LIVE_MESSAGES_HOOK, mark_changed)


def told_of(results: dict[str, object]) -> Told:
    """What the announcement subscriber queued (nothing when it is not subscribed)."""
    told = results.get(ANNOUNCEMENT_HOOK)
    return told if isinstance(told, Told) else Told()
