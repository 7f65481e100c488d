"""Branch meetings: the plan, RSVPs, reports (every version kept), notices and settings.

A regular meeting's identity is (branch, period_year, period_month): moving it within its month
keeps the row, so it stays "the December meeting". `version` grows on every change members were
or could have been told about (time, place, agenda, cancel), and `meeting_notices` records which
version each announcement/reminder carried, so a change after a reminder yields a correction to
exactly those recipients and never a stale reminder.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class MeetingKind(enum.StrEnum):
    REGULAR = "regular"  # the monthly meeting, generated from the branch's rule
    THEMATIC = "thematic"  # sinh hoạt chuyên đề, one per quarter expected
    EXTRAORDINARY = "extraordinary"


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"  # generated from the rule, not yet confirmed by the secretary
    SCHEDULED = "scheduled"  # confirmed: announced, reminded, answerable
    CANCELLED = "cancelled"


class MeetingOrigin(enum.StrEnum):
    RULE = "rule"
    SECRETARY = "secretary"


class RsvpAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"


class AbsenceReason(enum.StrEnum):
    SICK = "sick"
    WORK = "work"
    TRAVEL = "travel"
    FAMILY = "family"
    OTHER = "other"


class MinutesKind(enum.StrEnum):
    PHOTO = "photo"
    PDF = "pdf"
    DOCX = "docx"


class NoticeKind(enum.StrEnum):
    ANNOUNCE = "announce"
    GROUP_24H = "group_24h"
    GROUP_2H = "group_2h"
    MEMBER_24H = "member_24h"
    VISITOR_24H = "visitor_24h"
    CORRECTION = "correction"
    CANCELLATION = "cancellation"
    PRIVATE_CHAT_HINT = "private_chat_hint"  # "open a private chat with the bot", once


class Meeting(Base):
    """One meeting of a branch: planned from the rule or called by the secretary."""

    __tablename__ = "meetings"
    __table_args__ = (
        # One regular meeting per branch and month: the identity that survives a move.
        Index(
            "uq_meetings_regular_period",
            "branch_id",
            "period_year",
            "period_month",
            unique=True,
            postgresql_where=text("kind = 'regular'"),
            sqlite_where=text("kind = 'regular'"),
        ),
        Index("ix_meetings_status_starts_at", "status", "starts_at"),
        Index("ix_meetings_branch_starts_at", "branch_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[MeetingKind] = mapped_column(enum_column(MeetingKind, 16))
    status: Mapped[MeetingStatus] = mapped_column(
        enum_column(MeetingStatus, 16), default=MeetingStatus.PLANNED
    )
    origin: Mapped[MeetingOrigin] = mapped_column(
        enum_column(MeetingOrigin, 16), default=MeetingOrigin.SECRETARY
    )
    # The local (Asia/Ho_Chi_Minh) month the meeting belongs to; fixed at creation.
    period_year: Mapped[int] = mapped_column(SmallInteger)
    period_month: Mapped[int] = mapped_column(SmallInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(256), default="")
    title: Mapped[str] = mapped_column(String(256), default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    # Regular meetings: the rule's date for the month (after any holiday shift); the on-time
    # window is measured from it. `shifted_from` is the rule date a holiday moved.
    rule_date: Mapped[date | None] = mapped_column(Date)
    shifted_from: Mapped[date | None] = mapped_column(Date)
    shift_reason: Mapped[str | None] = mapped_column(String(128))
    shift_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    cancel_reason: Mapped[str | None] = mapped_column(String(512))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The live announcement in the branch group, edited in place with the RSVP counts.
    announce_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    announce_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MeetingRsvp(Base):
    """One member's answer for one meeting; changing it overwrites (the latest answer counts)."""

    __tablename__ = "meeting_rsvps"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)
    answer: Mapped[RsvpAnswer] = mapped_column(enum_column(RsvpAnswer, 8))
    reason_code: Mapped[AbsenceReason | None] = mapped_column(enum_column(AbsenceReason, 16))
    reason_text: Mapped[str | None] = mapped_column(String(256))
    via: Mapped[str] = mapped_column(String(16), default="group")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeetingReport(Base):
    """One version of a meeting's report; corrections add a version, nothing is overwritten."""

    __tablename__ = "meeting_reports"
    __table_args__ = (UniqueConstraint("meeting_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    held: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    present_count: Mapped[int] = mapped_column(Integer, default=0)
    # [{"member_id": 1, "reason_code": "sick", "reason_text": "", "excused": true}, ...]
    absent: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    minutes_kept: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    minutes_file_id: Mapped[str | None] = mapped_column(String(256))
    minutes_file_kind: Mapped[MinutesKind | None] = mapped_column(enum_column(MinutesKind, 8))
    resolution: Mapped[str] = mapped_column(Text, default="")
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposals: Mapped[list[str]] = mapped_column(JSON, default=list)
    submitted_by: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeetingNotice(Base):
    """That one announcement/reminder/correction of one meeting version went to one chat."""

    __tablename__ = "meeting_notices"
    __table_args__ = (UniqueConstraint("meeting_id", "kind", "chat_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, 32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    version: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MeetingSettings(Base):
    """Per-branch reminder switches; a branch without a row uses the defaults (all on)."""

    __tablename__ = "meeting_settings"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True)
    remind_group_24h: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    remind_group_2h: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    remind_members_24h: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
