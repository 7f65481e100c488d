"""Enqueueing, the per-kind delivery policies, and the failure hooks of owning features."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.outbox.waking import Waking, send_moment
from storage.models.outbox import OutboxEntry, OutboxState, Priority
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger("bot.outbox")


@dataclass(frozen=True)
class KindPolicy:
    """How a kind of message is delivered.

    `retry_uncertain`: after a read timeout (or a crash mid-request) the message may or may not
    have arrived. True resends it (at-least-once: a duplicate beats a loss); False records
    `maybe_sent` and stops (at-most-once: a duplicate to thousands of chats is worse).
    `retry_window`: transient errors are retried until `not_before + retry_window`.
    """

    retry_uncertain: bool
    retry_window: timedelta
    priority: Priority


class OutboxKind(enum.StrEnum):
    """Every kind of message the bot sends on its own; its delivery policy is declared below.

    A StrEnum so rows keep plain strings; a kind missing here is a programming error, never a
    silent default policy.
    """

    INTERACTIVE = "interactive"
    ANSWER = "answer"
    REMINDER = "reminder"
    NUDGE = "nudge"
    ROSTER = "roster"
    BROADCAST = "broadcast"


POLICIES: dict[OutboxKind, KindPolicy] = {
    OutboxKind.INTERACTIVE: KindPolicy(True, timedelta(minutes=15), Priority.INTERACTIVE),
    OutboxKind.ANSWER: KindPolicy(True, timedelta(days=1), Priority.INTERACTIVE),
    OutboxKind.REMINDER: KindPolicy(True, timedelta(hours=6), Priority.REMINDER),
    OutboxKind.NUDGE: KindPolicy(True, timedelta(hours=6), Priority.REMINDER),
    OutboxKind.ROSTER: KindPolicy(True, timedelta(hours=12), Priority.REMINDER),
    OutboxKind.BROADCAST: KindPolicy(False, timedelta(days=1), Priority.BROADCAST),
}
assert set(POLICIES) == set(OutboxKind), "every kind declares its policy"


def policy_for(kind: str) -> KindPolicy:
    """The policy of a kind; an unknown kind raises (rows written by a newer version included:
    they are read with the policy of their kind or not at all)."""
    return POLICIES[OutboxKind(kind)]


def no_retry_kinds() -> list[str]:
    return [kind for kind, p in POLICIES.items() if not p.retry_uncertain]


@dataclass
class OutboxMessage:
    """What to send. Exactly one content: `text`, `copy_from`, `copy_messages`, `document`,
    `upload` or `photo`.

    `reply_markup` is the JSON dict of an InlineKeyboardMarkup (`markup.model_dump(
    exclude_none=True)`), so the row stays plain data. `copy_messages=(chat_id, ids)` copies an
    album (copyMessages keeps the grouping; it takes no reply_markup, and `pin` pins the first
    message). `reply_to`: sent as a reply to that message of the same chat, or plainly if it
    is gone.
    """

    chat_id: int
    kind: OutboxKind = OutboxKind.REMINDER
    text: str | None = None
    parse_mode: str | None = "HTML"
    entities: list[dict[str, Any]] | None = None
    copy_from: tuple[int, int] | None = None
    copy_messages: tuple[int, tuple[int, ...]] | None = None
    document: str | None = None
    # A file made by the bot, uploaded: (file name, bytes).
    upload: tuple[str, bytes] | None = None
    photo: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    thread_id: int | None = None
    reply_to: int | None = None
    pin: bool = False
    dedupe_key: str | None = None
    not_before: datetime | None = None
    priority: Priority | None = None
    origin_type: str | None = None
    origin_id: str | int | None = None
    deadline: datetime | None = None
    # Automatic kinds wait for waking hours (`bot.outbox.waking`): never held past `latest`,
    # and `waking` for a district's own hours instead of the default.
    latest: datetime | None = None
    waking: Waking | None = None

    def validate(self) -> None:
        self.kind = OutboxKind(self.kind)  # an unknown kind is an error, not a default policy
        contents = [
            self.text is not None,
            self.copy_from is not None,
            self.copy_messages is not None,
            self.document is not None,
            self.upload is not None,
            self.photo is not None,
        ]
        if sum(contents) != 1:
            raise ValueError(
                "an outbox message needs exactly one of "
                "text/copy_from/copy_messages/document/upload/photo"
            )
        if self.copy_messages is not None:
            ids = list(self.copy_messages[1])
            if not 1 <= len(ids) <= 100 or any(b <= a for a, b in zip(ids, ids[1:], strict=False)):
                raise ValueError("copy_messages takes 1-100 strictly increasing message ids")
            if self.reply_markup is not None:
                raise ValueError("copyMessages takes no reply_markup")
        if self.entities is not None and self.parse_mode is not None and self.text is not None:
            raise ValueError("give either entities or parse_mode, not both")


# In-process senders to wake when a transaction that enqueued something commits.
_wakers: set[Callable[[], None]] = set()


def add_waker(callback: Callable[[], None]) -> None:
    _wakers.add(callback)


def remove_waker(callback: Callable[[], None]) -> None:
    _wakers.discard(callback)


def _wake_all(*_args: Any) -> None:
    for wake in list(_wakers):
        wake()


async def enqueue(
    session: AsyncSession, message: OutboxMessage, *, clock: Clock | None = None
) -> int | None:
    """Add a message inside the caller's transaction; None if its dedupe key already exists.

    Nothing is sent until that transaction commits, and a rollback sends nothing.
    """
    values = _row(message, (clock or SystemClock()).now())
    entry_id = await OutboxRepository(session).insert(values)
    _wake_after_commit(session)
    return entry_id


async def enqueue_many(
    session: AsyncSession, messages: list[OutboxMessage], *, clock: Clock | None = None
) -> dict[str, int]:
    """`enqueue` for many messages in one statement (a broadcast to thousands of chats: one
    INSERT per message costs a round trip each). Every message needs a dedupe key; returns
    dedupe key -> row id for the rows added (a key that already existed is left out)."""
    if any(m.dedupe_key is None for m in messages):
        raise ValueError("enqueue_many needs a dedupe key on every message")
    now = (clock or SystemClock()).now()
    rows = [_row(m, now) for m in messages]
    if not rows:
        return {}
    added = await OutboxRepository(session).insert_many(rows)
    _wake_after_commit(session)
    return added


def _wake_after_commit(session: AsyncSession) -> None:
    sync = session.sync_session
    if not event.contains(sync, "after_commit", _wake_all):
        event.listen(sync, "after_commit", _wake_all, once=True)


def _row(message: OutboxMessage, now: datetime) -> dict[str, Any]:
    message.validate()
    policy = policy_for(message.kind)
    not_before = send_moment(
        message.kind, message.not_before or now, latest=message.latest, waking=message.waking
    )
    copy_from = message.copy_from
    album = message.copy_messages
    if album is not None:
        copy_from = (album[0], album[1][0])
    values: dict[str, Any] = {
        "chat_id": message.chat_id,
        "thread_id": message.thread_id,
        "reply_to_message_id": message.reply_to,
        "kind": message.kind,
        "priority": int(message.priority if message.priority is not None else policy.priority),
        "text": message.text,
        "parse_mode": message.parse_mode if message.entities is None else None,
        "entities": message.entities,
        "copy_from_chat_id": copy_from[0] if copy_from else None,
        "copy_from_message_id": copy_from[1] if copy_from else None,
        "copy_message_ids": list(album[1]) if album is not None else None,
        "document_file_id": message.document,
        "document_name": message.upload[0] if message.upload else None,
        "document_data": message.upload[1] if message.upload else None,
        "photo_file_id": message.photo,
        "caption": message.caption,
        "reply_markup": message.reply_markup,
        "pin": message.pin,
        "dedupe_key": message.dedupe_key,
        "origin_type": message.origin_type,
        "origin_id": None if message.origin_id is None else str(message.origin_id),
        "state": OutboxState.PENDING,
        "not_before": not_before,
        "next_attempt_at": not_before,
        "deadline": message.deadline,
        "attempts": 0,
        "uncertain_attempts": 0,
        "created_at": now,
    }
    return values


# ---- failure hooks ---------------------------------------------------------------------
@dataclass(frozen=True)
class FailureEvent:
    """Why a message could not be delivered, for the feature that produced it.

    `reason`: blocked | kicked | chat_not_found | migrated | rejected | deadline | maybe_sent.
    """

    entry_id: int
    chat_id: int
    kind: str
    origin_type: str | None
    origin_id: str | None
    reason: str
    description: str
    new_chat_id: int | None = None


FailureHook = Callable[[AsyncSession, FailureEvent], Awaitable[None]]


@dataclass
class FailureHooks:
    """Callbacks keyed by kind or origin type ("*" for all), run in their own transaction."""

    hooks: dict[str, list[FailureHook]] = field(default_factory=dict)

    def register(self, key: str, hook: FailureHook) -> None:
        self.hooks.setdefault(key, []).append(hook)

    def for_event(self, ev: FailureEvent) -> list[FailureHook]:
        keys = ["*", ev.kind]
        if ev.origin_type and ev.origin_type != ev.kind:
            keys.append(ev.origin_type)
        return [h for k in keys for h in self.hooks.get(k, [])]


# 403 reasons for a private chat (see sender.forbidden_reason): nothing more can reach the person.
PERSON_UNREACHABLE = frozenset({"blocked", "not_started", "deactivated", "forbidden"})


async def builtin_chat_fate(session: AsyncSession, ev: FailureEvent) -> None:
    """People the bot cannot write to become unreachable (until they write to it); kicked or
    vanished groups unbind; upgrades move."""
    repo = OutboxRepository(session)
    now = SystemClock().now()
    if ev.reason in PERSON_UNREACHABLE and ev.chat_id > 0:
        await repo.mark_user_unreachable(ev.chat_id)
    elif ev.reason in ("kicked", "chat_not_found") and ev.chat_id < 0:
        if await repo.unbind_chat(ev.chat_id, ev.reason, now):
            log.info("unbound chat %s: %s", ev.chat_id, ev.reason)
    elif ev.reason == "migrated" and ev.new_chat_id is not None:
        await repo.move_chat(ev.chat_id, ev.new_chat_id)
        log.info("chat %s moved to %s", ev.chat_id, ev.new_chat_id)


default_hooks = FailureHooks()


def on_failure(key: str, hook: FailureHook) -> None:
    """Register a feature's callback for permanent failures of its messages."""
    default_hooks.register(key, hook)


# ---- last-moment checks ----------------------------------------------------------------
SendCheck = Callable[[AsyncSession, Sequence[OutboxEntry], datetime], Awaitable[dict[int, str]]]


@dataclass
class SendChecks:
    """Checks keyed by origin type, run on a feature's rows just after a sender claimed them
    (at most `claim_horizon`, ~2 s, before they leave), in the claim's transaction.

    A check returns {row id: reason} for rows that must not go out any more (a nudge whose
    obligation was met meanwhile); those end `cancelled` with the reason and are never sent.
    A check that raises withdraws nothing (logged): a stale reminder beats a lost one.
    """

    checks: dict[str, SendCheck] = field(default_factory=dict)

    def register(self, origin_type: str, check: SendCheck) -> None:
        self.checks[origin_type] = check

    async def withdrawn(
        self, session: AsyncSession, rows: Sequence[OutboxEntry], now: datetime
    ) -> dict[int, str]:
        by_origin: dict[str, list[OutboxEntry]] = {}
        for row in rows:
            if row.origin_type in self.checks:
                by_origin.setdefault(row.origin_type, []).append(row)
        out: dict[int, str] = {}
        for origin, mine in by_origin.items():
            try:
                async with session.begin_nested():
                    out.update(await self.checks[origin](session, mine, now))
            except Exception:
                log.exception("send check for %r failed; its rows go out unchecked", origin)
        return out


default_checks = SendChecks()


def before_send(origin_type: str, check: SendCheck) -> None:
    """Register a feature's last-moment check for its rows (see `SendChecks`)."""
    default_checks.register(origin_type, check)
