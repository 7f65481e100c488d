"""Branch feedback (kiến nghị, đề xuất): items, their files, their history, the per-district
lists of categories and departments, the readable-number counters and the posted cards.

An item always sits at one *level*: a branch (its secretary decides), a unit's committee, the
district committee, or one of the district's departments. Moving it (forward, escalate) changes
the level and restarts its deadline; every act is one `FeedbackEvent`, so the history is the
item's whole story and the figures are computed from it.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class LevelType(enum.StrEnum):
    BRANCH = "branch"  # the branch's secretary (a member's item, before it goes up)
    UNIT = "unit"  # a commune/town committee
    DISTRICT = "district"  # the district committee
    DEPARTMENT = "department"  # a department of the district committee (ban, văn phòng)


class RaisedAs(enum.StrEnum):
    MEMBER = "member"  # in the member's own name
    BRANCH = "branch"  # on behalf of the branch (the secretary)
    VISITOR = "visitor"  # a working-group visitor, on the branch's behalf


class FeedbackStatus(enum.StrEnum):
    OPEN = "open"  # reached its level, nobody took it yet
    TAKEN = "taken"  # someone at the level is handling it
    ASKED = "asked"  # waiting for the submitter's details
    ANSWERED = "answered"  # answered; the submitter may accept or reopen
    CLOSED = "closed"  # accepted, closed with a reason, or auto-closed after the answer
    REJECTED = "rejected"


OPEN_STATUSES = frozenset({FeedbackStatus.OPEN, FeedbackStatus.TAKEN, FeedbackStatus.ASKED})
FINAL_STATUSES = frozenset({FeedbackStatus.CLOSED, FeedbackStatus.REJECTED})


class OptionKind(enum.StrEnum):
    CATEGORY = "category"
    DEPARTMENT = "department"


class FeedbackSource(enum.StrEnum):
    DIRECT = "direct"  # /feedback
    MEETING_REPORT = "meeting_report"
    VISIT_REPORT = "visit_report"


class FeedbackOption(Base):
    """A category or a department of one district (configurable; defaults seeded on first use)."""

    __tablename__ = "feedback_options"
    __table_args__ = (UniqueConstraint("district_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[OptionKind] = mapped_column(enum_column(OptionKind, 16))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    # Departments: where their cards go (null: the district's admins in private).
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class FeedbackCounter(Base):
    """The last readable number given in one district and year (KN-2026-0042)."""

    __tablename__ = "feedback_counters"

    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class FeedbackItem(Base):
    __tablename__ = "feedback_items"
    __table_args__ = (
        UniqueConstraint("district_id", "year", "number"),
        Index("ix_feedback_items_level", "level_type", "level_id", "status"),
        Index("ix_feedback_items_deadline", "status", "deadline"),
        Index("ix_feedback_items_source", "source_type", "source_id", "source_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    number: Mapped[int] = mapped_column(Integer)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)  # the branch's
    raised_as: Mapped[RaisedAs] = mapped_column(enum_column(RaisedAs, 16))
    raised_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    raised_by_tg: Mapped[int | None] = mapped_column(BigInteger, index=True)
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    # Sensitive matters: the answer goes to the submitter only, never to the branch's group.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_type: Mapped[FeedbackSource] = mapped_column(
        enum_column(FeedbackSource, 24), default=FeedbackSource.DIRECT
    )
    source_id: Mapped[int | None] = mapped_column(Integer)
    source_index: Mapped[int | None] = mapped_column(SmallInteger)
    level_type: Mapped[LevelType] = mapped_column(enum_column(LevelType, 16))
    level_id: Mapped[int] = mapped_column(Integer)  # branch / unit / district id, or option id
    reached_level_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[FeedbackStatus] = mapped_column(
        enum_column(FeedbackStatus, 16), default=FeedbackStatus.OPEN
    )
    taken_by: Mapped[int | None] = mapped_column(BigInteger)
    question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[int | None] = mapped_column(BigInteger)
    # The level that answered, and whether it answered within its deadline (figures).
    answered_level: Mapped[LevelType | None] = mapped_column(enum_column(LevelType, 16))
    answered_on_time: Mapped[bool | None] = mapped_column(Boolean)
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(SmallInteger, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)
    # Grows on every change: a card's button names it, so a press on an old card is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FeedbackFile(Base):
    __tablename__ = "feedback_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str] = mapped_column(String(256))
    file_name: Mapped[str] = mapped_column(String(256), default="")
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackEvent(Base):
    """One act on an item: who, when, what, from which level to which, with its text."""

    __tablename__ = "feedback_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_tg: Mapped[int | None] = mapped_column(BigInteger)  # null: the system
    action: Mapped[str] = mapped_column(String(24))
    level_type: Mapped[LevelType | None] = mapped_column(enum_column(LevelType, 16))
    level_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class FeedbackCard(Base):
    """A card of an item posted in a level's chat (edited in place when the item changes)."""

    __tablename__ = "feedback_cards"
    __table_args__ = (UniqueConstraint("item_id", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
