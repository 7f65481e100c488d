"""Counters that keep people from guessing one-time codes (the access features)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class LinkAttempt(Base):
    """Wrong `/link` codes from one chat or one person, in the current window.

    Stored (not kept in memory) so a lock-out survives a restart and holds across processes.
    `scope` is "chat" or "person"; `subject_id` the chat's or the person's Telegram id.
    """

    __tablename__ = "link_attempts"
    __table_args__ = (UniqueConstraint("scope", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
