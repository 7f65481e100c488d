"""Guidance broadcasts: a committee's message copied to many chats, with delivery and
acknowledgement kept per chat.

A broadcast is composed as a draft (the admin's own message, kept in their private chat and
copied from there, never re-uploaded), then queued once: one outbox row per reachable chat and
one `broadcast_recipients` row per chat the audience named, the unreachable ones included, so
the report can always say who did not get it and why. `version` grows on every change to a
draft, so a preview confirmed after the audience or the options changed is refused.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"  # being composed; nothing queued
    SCHEDULED = "scheduled"  # queued with a later `send_at`
    SENDING = "sending"  # queued, going out
    STOPPED = "stopped"  # Dừng pressed: what had not left was cancelled
    DONE = "done"  # every queued chat has an outcome
    CANCELLED = "cancelled"  # a draft given up (Huỷ); never queued anything


# Statuses whose recipient rows exist (the broadcast was queued).
QUEUED_STATUSES = frozenset(
    {
        BroadcastStatus.SCHEDULED,
        BroadcastStatus.SENDING,
        BroadcastStatus.STOPPED,
        BroadcastStatus.DONE,
    }
)


class RecipientState(enum.StrEnum):
    PENDING = "pending"  # queued; its outbox row has no outcome yet
    SENT = "sent"
    FAILED = "failed"  # `error` holds the outbox's reason (kicked, blocked, ...)
    MAYBE_SENT = "maybe_sent"  # in flight at a crash or a timeout: at-most-once, not resent
    CANCELLED = "cancelled"  # stopped before it left
    UNREACHABLE = "unreachable"  # never queued: `error` says why (not_linked, ...)


class Broadcast(Base):
    """One broadcast: what to copy, to whom, with which options, and how far it got."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # A commune admin's broadcast reaches only this unit; null: the whole district.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    created_by: Mapped[int] = mapped_column(BigInteger, index=True)
    # The admin's private chat and the message(s) copied from it (several: an album).
    source_chat_id: Mapped[int] = mapped_column(BigInteger)
    source_message_ids: Mapped[list[int]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    # The first words of the text or caption, for the list of broadcasts.
    excerpt: Mapped[str] = mapped_column(String(200), default="")
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ack_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ack_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[BroadcastStatus] = mapped_column(
        enum_column(BroadcastStatus, 16), default=BroadcastStatus.DRAFT
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The sender's live progress message: queued through the outbox, then edited in place.
    progress_outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # Gửi pressed
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    """One chat of a broadcast: its delivery (mirrored from the outbox) and acknowledgement."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "chat_id"),
        Index("ix_broadcast_recipients_state", "broadcast_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    # Null for a recipient that cannot be reached (no chat to write to).
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # branch / unit / working_group (their group chats) or secretary (a member, in private).
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(Integer)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String(256), default="")
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    state: Mapped[RecipientState] = mapped_column(
        enum_column(RecipientState, 16), default=RecipientState.PENDING
    )
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its outcome's time
    error: Mapped[str | None] = mapped_column(String(256))
    ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ack_by: Mapped[int | None] = mapped_column(BigInteger)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
