"""What the bot says about meetings on its own: announcements, reminders, corrections, notices.

Everything here becomes outbox rows (`bot.outbox.enqueue`) in the caller's transaction, each
recorded in `meeting_notices` under the same dedupe key (`reminders.dedupe_key`), so a rollback
sends nothing and a restart repeats nothing. Group messages are written in the bot's default
language, private ones in each person's language (their /language choice, else Telegram's).

The live RSVP count on the group announcement is the one exception to "through the outbox": the
outbox has no edit content type, and an edit is idempotent (only the latest state matters), so
`LiveCounts` edits the message from a scheduler job, at most once per meeting every few seconds,
re-rendered from the database each time. A lost edit is simply redone on the next tap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import html
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import CatalogI18n, pick_locale
from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services.meetings import Change, Recipient, due_reminders, record_notice, rsvp_counts
from bot.services.vn_calendar import VN_TZ, format_date, format_datetime
from storage.models import Branch, Meeting, MeetingNotice, MeetingRsvp, Member, TelegramUser
from storage.models.meetings import MeetingStatus, NoticeKind
from storage.models.outbox import OutboxEntry, OutboxState
from storage.repositories.meetings import MeetingRepository

log = logging.getLogger("bot.meetings.notify")

TEXT_LIMIT = 4096
OUTBOX_KIND = OutboxKind.REMINDER
ORIGIN = "meeting"
# Callback data of the RSVP buttons; `handlers.rsvp.RsvpCb` packs to exactly this (tested).
RSVP_PREFIX = "rsvp"
_LIVE_KINDS = (NoticeKind.ANNOUNCE.value, NoticeKind.CORRECTION.value)


def rsvp_data(meeting_id: int, answer: str) -> str:
    return f"{RSVP_PREFIX}:{meeting_id}:{answer}"


def rsvp_markup(i18n: CatalogI18n, locale: str, meeting_id: int) -> dict[str, Any]:
    """The Có mặt / Vắng mặt buttons as the JSON an outbox row carries."""
    return {
        "inline_keyboard": [
            [
                {
                    "text": i18n.t(f"mtg.button.{k}", locale),
                    "callback_data": rsvp_data(meeting_id, a),
                }
                for k, a in (("yes", "y"), ("no", "n"))
            ]
        ]
    }


# ---- rendering ------------------------------------------------------------------------------


def _cut(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…"


def meeting_body(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    *,
    tz: ZoneInfo = VN_TZ,
    room: int = TEXT_LIMIT,
) -> str:
    """Kind, branch, when, where, topic and agenda; the agenda is cut to fit `room`."""
    lines = [
        i18n.t(
            "mtg.body.head",
            locale,
            kind=i18n.t(f"meetings.kind.{meeting.kind}", locale),
            branch=html.quote(branch.name),
        ),
        i18n.t("mtg.body.when", locale, when=format_datetime(meeting.starts_at, locale, tz)),
    ]
    if meeting.place:
        lines.append(i18n.t("mtg.body.place", locale, place=html.quote(meeting.place)))
    if meeting.title:
        lines.append(i18n.t("mtg.body.title", locale, title=html.quote(meeting.title)))
    head = "\n".join(lines)
    if meeting.agenda:
        # The agenda is the only long field: it gets what the limit leaves.
        label = i18n.t("mtg.body.agenda", locale, agenda="")
        left = room - len(head) - len(label) - 1
        raw = meeting.agenda
        agenda = html.quote(raw)
        while len(agenda) > left and raw:  # cut, re-escape, until it fits
            raw = raw[: max(len(raw) - (len(agenda) - left) - 1, 0)]
            agenda = html.quote(raw) + "…"
        head += "\n" + i18n.t("mtg.body.agenda", locale, agenda=agenda)
    return head


def counts_line(i18n: CatalogI18n, locale: str, yes: int, no: int, pending: int) -> str:
    return i18n.t("mtg.counts", locale, yes=yes, no=no, pending=pending)


def _compose(top: str, body_of: Any, bottom: str) -> str:
    """`top` + body + `bottom`, the body given whatever room Telegram's limit leaves."""
    room = TEXT_LIMIT - len(top) - len(bottom) - 4
    parts = [p for p in (top, body_of(room), bottom) if p]
    return "\n\n".join(parts)


def announcement_text(
    i18n: CatalogI18n,
    locale: str,
    meeting: Meeting,
    branch: Branch,
    yes: int,
    no: int,
    pending: int,
    *,
    header: str = "mtg.announce.head",
    tz: ZoneInfo = VN_TZ,
) -> str:
    """The live group message: details, the counts and the call to answer."""
    top = i18n.t(header, locale)
    bottom = counts_line(i18n, locale, yes, no, pending) + "\n" + i18n.t("mtg.announce.ask", locale)
    return _compose(
        top, lambda room: meeting_body(i18n, locale, meeting, branch, tz=tz, room=room), bottom
    )


def reminder_text(
    i18n: CatalogI18n,
    locale: str,
    kind: NoticeKind,
    meeting: Meeting,
    branch: Branch,
    *,
    tz: ZoneInfo = VN_TZ,
) -> str:
    top = i18n.t(f"mtg.remind.{kind.value}", locale)
    bottom = i18n.t("mtg.remind.answer", locale) if kind == NoticeKind.MEMBER_24H else ""
    return _compose(
        top, lambda room: meeting_body(i18n, locale, meeting, branch, tz=tz, room=room), bottom
    )


def correction_text(
    i18n: CatalogI18n,
    locale: str,
    change: Change,
    branch: Branch,
    *,
    tz: ZoneInfo = VN_TZ,
) -> str:
    """What changed (old -> new) on top of the full current details, or the cancellation."""
    meeting = change.meeting
    if meeting.status == MeetingStatus.CANCELLED.value:
        top = i18n.t(
            "mtg.cancelled.head",
            locale,
            reason=html.quote(meeting.cancel_reason or ""),
        )
        return _compose(
            top, lambda room: meeting_body(i18n, locale, meeting, branch, tz=tz, room=room), ""
        )
    before = change.before
    changes: list[str] = []
    old_start = before.get("starts_at")
    if isinstance(old_start, datetime) and old_start != meeting.starts_at:
        changes.append(
            i18n.t(
                "mtg.changed.when",
                locale,
                old=format_datetime(old_start, locale, tz),
                new=format_datetime(meeting.starts_at, locale, tz),
            )
        )
    if before.get("place") != meeting.place:
        changes.append(
            i18n.t(
                "mtg.changed.place",
                locale,
                old=html.quote(_cut(str(before.get("place") or "—"), 256)),
                new=html.quote(meeting.place or "—"),
            )
        )
    if before.get("agenda") != meeting.agenda or before.get("title") != meeting.title:
        changes.append(i18n.t("mtg.changed.agenda", locale))
    if before.get("status") == MeetingStatus.CANCELLED.value:
        changes.append(i18n.t("mtg.changed.reinstated", locale))
    top = "\n".join([i18n.t("mtg.changed.head", locale), *changes])
    return _compose(
        top, lambda room: meeting_body(i18n, locale, meeting, branch, tz=tz, room=room), ""
    )


# ---- recipients' languages ------------------------------------------------------------------


async def locales_of(
    session: AsyncSession, chat_ids: Iterable[int], default: str
) -> dict[int, str]:
    """Each private chat's language (their choice, else Telegram's, else the default); groups
    read the default language."""
    ids = [c for c in set(chat_ids) if c > 0]
    out: dict[int, str] = {}
    if ids:
        rows = await session.execute(
            select(TelegramUser.id, TelegramUser.language, TelegramUser.telegram_language).where(
                TelegramUser.id.in_(ids)
            )
        )
        out = {uid: pick_locale(lang, tg_lang, default) for uid, lang, tg_lang in rows.all()}
    return {c: out.get(c, default) for c in set(chat_ids)}


# ---- sending --------------------------------------------------------------------------------


@dataclass
class Notifier:
    """Renders and queues meeting messages; one per update or job (it holds no state)."""

    session: AsyncSession
    i18n: CatalogI18n
    clock: Clock
    default_locale: str = "vi"
    tz: ZoneInfo = VN_TZ
    sent: list[tuple[str, int]] = field(default_factory=list)

    async def _queue(
        self,
        meeting: Meeting,
        kind: NoticeKind,
        chat_id: int,
        text: str,
        *,
        member_id: int | None = None,
        markup: dict[str, Any] | None = None,
    ) -> bool:
        """Record the notice and queue its message under the same dedupe key; False when this
        chat already got this kind for this version (a retry or a concurrent job)."""
        now = self.clock.now()
        notice = await record_notice(self.session, meeting, kind, chat_id, now, member_id=member_id)
        if notice is None:
            return False
        outbox_id = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=chat_id,
                kind=OUTBOX_KIND,
                text=_cut(text, TEXT_LIMIT),
                reply_markup=markup,
                dedupe_key=notice.dedupe_key,
                origin_type=ORIGIN,
                origin_id=meeting.id,
            ),
            clock=self.clock,
        )
        notice.outbox_id = outbox_id
        self.sent.append((kind.value, chat_id))
        return True

    async def _counts(self, meeting: Meeting) -> tuple[int, int, int]:
        c = await rsvp_counts(self.session, meeting.id)
        return c.yes, c.no, c.unanswered

    async def announce(self, meeting: Meeting) -> int | None:
        """Announce a scheduled meeting in its branch group (once per version); the group's
        chat id, or None when the branch has no linked group."""
        repo = MeetingRepository(self.session)
        branch = await repo.branch(meeting.branch_id)
        chat_id = await repo.branch_chat(meeting.branch_id)
        if branch is None or chat_id is None:
            return None
        loc = self.default_locale
        text = announcement_text(
            self.i18n, loc, meeting, branch, *await self._counts(meeting), tz=self.tz
        )
        markup = rsvp_markup(self.i18n, loc, meeting.id)
        await self._queue(meeting, NoticeKind.ANNOUNCE, chat_id, text, markup=markup)
        return chat_id

    async def publish(
        self, meeting: Meeting, to_tell: list[Recipient], before: dict[str, object]
    ) -> None:
        """After a schedule/reschedule/cancel: corrections to everyone told before, and the
        announcement when the group has not been told about this meeting yet."""
        repo = MeetingRepository(self.session)
        branch = await repo.branch(meeting.branch_id)
        if branch is None:
            return
        cancelled = meeting.status == MeetingStatus.CANCELLED.value
        kind = NoticeKind.CANCELLATION if cancelled else NoticeKind.CORRECTION
        change = Change(meeting, before, to_tell)
        locales = await locales_of(self.session, [r.chat_id for r in to_tell], self.default_locale)
        for r in to_tell:
            loc = locales[r.chat_id]
            text = correction_text(self.i18n, loc, change, branch, tz=self.tz)
            markup = None
            if not cancelled:
                markup = rsvp_markup(self.i18n, loc, meeting.id)
                if r.chat_id < 0:
                    # The group's correction becomes the live message with the counts.
                    counts = counts_line(self.i18n, loc, *await self._counts(meeting))
                    text = _cut(text, TEXT_LIMIT - len(counts) - 2) + "\n\n" + counts
            await self._queue(meeting, kind, r.chat_id, text, member_id=r.member_id, markup=markup)
        group = await repo.branch_chat(meeting.branch_id)
        scheduled = meeting.status == MeetingStatus.SCHEDULED.value
        if scheduled and group is not None and all(r.chat_id != group for r in to_tell):
            await self.announce(meeting)

    async def send_due_reminders(self) -> int:
        """Queue every reminder the database says is due now; how many were queued."""
        now = self.clock.now()
        due = await due_reminders(self.session, now)
        if not due:
            return 0
        repo = MeetingRepository(self.session)
        locales = await locales_of(self.session, [d.chat_id for d in due], self.default_locale)
        queued = 0
        for d in due:
            meeting = await repo.get(d.meeting_id)
            branch = await repo.branch(meeting.branch_id) if meeting else None
            if meeting is None or branch is None or meeting.version != d.version:
                continue
            loc = locales[d.chat_id]
            text = reminder_text(self.i18n, loc, d.kind, meeting, branch, tz=self.tz)
            markup = rsvp_markup(self.i18n, loc, meeting.id)
            if d.kind == NoticeKind.VISITOR_24H:
                markup = None
            if await self._queue(
                meeting, d.kind, d.chat_id, text, member_id=d.member_id, markup=markup
            ):
                queued += 1
        return queued

    async def visiting_reminders(self) -> int:
        """Hook: the visiting working-group member's 24 h reminder (place and agenda), once
        visiting rosters exist. `due_reminders` yields `VISITOR_24H` rows then and
        `send_due_reminders` renders them; until then there is nobody to remind."""
        return 0

    async def private_chat_hint(
        self, meeting: Meeting, group_chat_id: int, telegram_id: int, name: str, url: str
    ) -> bool:
        """Tell the group, once per person and group, that this member should open a private
        chat with the bot (absence reasons and reminders go there)."""
        text = self.i18n.t(
            "mtg.hint.private_chat",
            self.default_locale,
            name=html.quote(name),
            url=html.quote(url),
        )
        outbox_id = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=group_chat_id,
                kind=OUTBOX_KIND,
                text=text,
                dedupe_key=f"mtg:pchat:{group_chat_id}:{telegram_id}",
                origin_type=ORIGIN,
                origin_id=meeting.id,
            ),
            clock=self.clock,
        )
        if outbox_id is None:
            return False
        await record_notice(
            self.session,
            meeting,
            NoticeKind.PRIVATE_CHAT_HINT,
            telegram_id,
            self.clock.now(),
            outbox_id=outbox_id,
        )
        return True

    async def shift_notices(self) -> int:
        """Tell each branch's secretary (else deputy) that a holiday moved the planned date;
        the meeting stays pending until somebody with an account could be told."""
        from bot.services.meetings import mark_shift_told, shift_notices

        repo = MeetingRepository(self.session)
        told = 0
        for meeting in await shift_notices(self.session):
            branch = await repo.branch(meeting.branch_id)
            if branch is None or meeting.shifted_from is None:
                continue
            leaders = await _leaders(self.session, branch.id)
            if not leaders:
                continue
            locales = await locales_of(self.session, leaders, self.default_locale)
            for tg in leaders:
                loc = locales[tg]
                text = "\n".join(
                    [
                        self.i18n.t(
                            "mtg.shift.head",
                            loc,
                            branch=html.quote(branch.name),
                            month=f"{meeting.period_month:02d}/{meeting.period_year}",
                        ),
                        self.i18n.t(
                            "meetings.holiday_shift",
                            loc,
                            rule_date=format_date(meeting.shifted_from, loc),
                            holiday=html.quote(meeting.shift_reason or ""),
                            date=format_datetime(meeting.starts_at, loc, self.tz),
                        ),
                        self.i18n.t("mtg.shift.hint", loc),
                    ]
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
                    clock=self.clock,
                )
                self.sent.append(("shift", tg))
            await mark_shift_told(self.session, meeting.id, self.clock)
            told += 1
        return told


async def _leaders(session: AsyncSession, branch_id: int) -> list[int]:
    """Telegram ids of the branch's secretary, else its deputies."""
    members = await MeetingRepository(session).active_members(branch_id)
    for role in ("secretary", "deputy_secretary"):
        ids = [m.telegram_id for m in members if m.role == role and m.telegram_id]
        if ids:
            return [i for i in ids if i is not None]
    return []


# ---- the live count on the announcement -----------------------------------------------------


@dataclass
class LiveTarget:
    chat_id: int
    message_id: int
    header: str


async def live_message(session: AsyncSession, meeting: Meeting) -> LiveTarget | None:
    """The group message that carries the meeting's live count: the latest sent announcement
    or correction of its current version (a correction replaces the first announcement)."""
    stmt = (
        select(
            MeetingNotice.kind,
            OutboxEntry.sent_chat_id,
            OutboxEntry.chat_id,
            OutboxEntry.telegram_message_id,
        )
        .join(OutboxEntry, OutboxEntry.id == MeetingNotice.outbox_id)
        .where(
            MeetingNotice.meeting_id == meeting.id,
            MeetingNotice.version == meeting.version,
            MeetingNotice.kind.in_(_LIVE_KINDS),
            MeetingNotice.chat_id < 0,
            OutboxEntry.state == OutboxState.SENT.value,
            OutboxEntry.telegram_message_id.is_not(None),
        )
        .order_by(MeetingNotice.id.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    kind, sent_chat, chat, message_id = row
    header = "mtg.announce.head" if kind == NoticeKind.ANNOUNCE.value else "mtg.changed.head"
    return LiveTarget(int(sent_chat or chat), int(message_id), header)


async def answered_since(session: AsyncSession, since: datetime) -> set[int]:
    """Meetings with an RSVP recorded at or after `since` (the ones whose count changed)."""
    stmt = select(MeetingRsvp.meeting_id).where(MeetingRsvp.answered_at >= since).distinct()
    return set((await session.scalars(stmt)).all())


EditFunc = Any  # async (chat_id, message_id, text, markup_dict) -> None


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
        i18n: CatalogI18n,
        clock: Clock,
        edit: EditFunc,
        *,
        locale: str = "vi",
        tz: ZoneInfo = VN_TZ,
    ) -> int:
        """One pass: edit the messages whose counts changed; the number of edits made."""
        now = clock.now()
        since = (self.watermark or now - self.lookback) - self.slack
        self.watermark = now
        mono = self.monotonic()
        todo: list[tuple[LiveTarget, str, dict[str, Any], int]] = []
        async with session_factory() as s, s.begin():
            self.pending |= await answered_since(s, since)
            repo = MeetingRepository(s)
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
                target = await live_message(s, meeting)
                branch = await repo.branch(meeting.branch_id)
                if target is None or branch is None:
                    continue  # not delivered yet: try again next pass
                if (meeting.announce_chat_id, meeting.announce_message_id) != (
                    target.chat_id,
                    target.message_id,
                ):
                    meeting.announce_chat_id = target.chat_id
                    meeting.announce_message_id = target.message_id
                c = await rsvp_counts(s, meeting.id)
                text = announcement_text(
                    i18n,
                    locale,
                    meeting,
                    branch,
                    c.yes,
                    c.no,
                    c.unanswered,
                    header=target.header,
                    tz=tz,
                )
                self.pending.discard(meeting_id)
                key = (target.chat_id, target.message_id)
                if self.last_text.get(key) == text:
                    continue
                todo.append((target, text, rsvp_markup(i18n, locale, meeting.id), meeting_id))
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


async def member_name(session: AsyncSession, branch_id: int, telegram_id: int) -> str | None:
    member = await MeetingRepository(session).active_member_by_telegram(branch_id, telegram_id)
    return member.full_name if isinstance(member, Member) else None
