"""The outbox: every message the bot sends on its own, and the leases of periodic jobs.

A row is written in the same transaction as the change that causes it, so a rolled-back change
sends nothing and a committed one is never forgotten. The sender moves each row through
`pending -> claimed -> sending -> sent | failed | maybe_sent`, or `cancelled` before it left
(see `bot/outbox/__init__.py`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class OutboxState(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (next_attempt_at)
    CLAIMED = "claimed"  # held in one sender's memory; the request has not left yet
    SENDING = "sending"  # the request may be on the wire: a crash here is "in flight"
    SENT = "sent"
    FAILED = "failed"  # permanent error or retry deadline passed; `error` says why
    MAYBE_SENT = "maybe_sent"  # timed out / crashed in flight and the kind forbids a retry
    # Withdrawn by its feature before it left (a stopped broadcast); never sent.
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {OutboxState.SENT, OutboxState.FAILED, OutboxState.MAYBE_SENT, OutboxState.CANCELLED}
)


class Priority(enum.IntEnum):
    """Lower is more urgent."""

    INTERACTIVE = 0
    REMINDER = 1
    BROADCAST = 2


class OutboxEntry(Base):
    """One message to send (text, copy, document or photo), with its delivery record."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_claim", "claim_token", "state"),
        Index("ix_outbox_origin", "origin_type", "origin_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    # Sent as a reply to this message of the same chat (sent anyway if it is gone).
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.REMINDER)
    # Content: exactly one of text / copy_from / copy_messages / document (file id or bytes) /
    # photo. copy_messages (an album) keeps its source chat in copy_from_chat_id.
    text: Mapped[str | None] = mapped_column(Text)
    parse_mode: Mapped[str | None] = mapped_column(String(16))
    entities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    copy_from_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    copy_from_message_id: Mapped[int | None] = mapped_column(BigInteger)
    copy_message_ids: Mapped[list[int] | None] = mapped_column(JSON)
    document_file_id: Mapped[str | None] = mapped_column(String(256))
    # A file the bot makes (a roster's .xlsx, a visitor's .ics), uploaded with its name.
    document_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    document_name: Mapped[str | None] = mapped_column(String(128))
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    caption: Mapped[str | None] = mapped_column(Text)
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The target (branch, unit, working group, committee) a group row is for, once the sender
    # readdressed it to that target's chat: from then on the row's chat id is no longer the one
    # it was queued with, so the chat's binding when it was queued cannot tell whom it is for
    # (`bot.outbox.addresses`). Empty for a row still addressed as queued, and for people.
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    origin_type: Mapped[str | None] = mapped_column(String(32))
    origin_id: Mapped[str | None] = mapped_column(String(64))
    # Delivery.
    state: Mapped[OutboxState] = mapped_column(
        enum_column(OutboxState, 16), default=OutboxState.PENDING
    )
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Requests that timed out (or were in flight at a crash): each one may have been delivered.
    uncertain_attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Where it was finally sent, when a group upgrade moved it.
    sent_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class JobLease(Base):
    """Who runs a periodic job right now: one row per job, taken with a compare-and-set."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(512))
    runs: Mapped[int] = mapped_column(Integer, default=0)
