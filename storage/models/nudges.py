"""Nudges: per-district policy settings, people switched off, and the record of every nudge.

What is owed is never stored here: the meetings, rosters, feedback and broadcasts tables say
it, and the sweep derives it each time (`bot/services/nudges/obligations.py`). What is stored is
what only the nudges feature knows: that an obligation was nudged, snoozed or escalated (one
`NudgeTrack` per obligation the engine acted on, with when it was met or lapsed) and each
message of that (one `NudgeEvent` per person or chat and step), which the figures read.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class NudgePolicy(enum.StrEnum):
    """The kinds of obligation, each a policy a district may tune or switch off."""

    MEETING_UNSCHEDULED = "meeting_unscheduled"
    MEETING_REPORT = "meeting_report"
    VISIT_UNCONFIRMED = "visit_unconfirmed"
    VISIT_REPORT = "visit_report"
    FEEDBACK_DUE = "feedback_due"
    BROADCAST_ACK = "broadcast_ack"


# A `nudge_settings` row with this policy holds the district's waking hours instead:
# `hours` the first hour nudges may go out, `escalate_hours` the hour they stop (local time).
WAKING = "waking"


class NudgeStep(enum.StrEnum):
    NUDGE1 = "nudge1"
    NUDGE2 = "nudge2"
    ESCALATION = "escalation"
    SNOOZE1 = "snooze1"  # "Nhắc lại sau" pressed once (no message: `outbox_id` is null)
    SNOOZE2 = "snooze2"


NUDGE_STEPS = (NudgeStep.NUDGE1, NudgeStep.NUDGE2)
SNOOZE_STEPS = (NudgeStep.SNOOZE1, NudgeStep.SNOOZE2)


class EscalationReason(enum.StrEnum):
    IGNORED = "ignored"  # the escalation time came and it was still owed
    UNREACHABLE = "unreachable"  # nobody who owes it has a private chat with the bot
    NO_TARGET = "no_target"  # nobody above to tell (no unit chat, no reachable admin)


class TrackEnd(enum.StrEnum):
    MET = "met"  # done (or acted on: forwarded, handed on)
    LAPSED = "lapsed"  # no longer owed without being done (cancelled, window closed, expired)


class NudgeSetting(Base):
    """A district's override of one policy's defaults (a missing row: the defaults)."""

    __tablename__ = "nudge_settings"

    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    # A NudgePolicy value, or WAKING for the district's waking-hours row: a string, not the enum.
    policy: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Hours from the obligation's moment (the meeting, the publication, the deadline...) to
    # the first nudge; negative means before it.
    hours: Mapped[int] = mapped_column(SmallInteger)
    # Hours from that moment to the escalation; null: never escalated on time alone.
    escalate_hours: Mapped[int | None] = mapped_column(SmallInteger)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NudgeOptout(Base):
    """A person an admin switched off from nudges in one district (escalations still run)."""

    __tablename__ = "nudge_optouts"

    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    by: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NudgeTrack(Base):
    """One obligation the engine acted on: keyed by the obligation's stable key, it stays open
    until the sweep sees the obligation met or lapsed."""

    __tablename__ = "nudge_tracks"
    __table_args__ = (
        Index(
            "ix_nudge_tracks_open",
            "kind",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_nudge_tracks_district_started", "district_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[NudgePolicy] = mapped_column(enum_column(NudgePolicy, 32))
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    branch_id: Mapped[int | None] = mapped_column(Integer)
    # The obligation's moment (meeting start, publication, deadline), for "since when".
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the first nudge or escalation
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest "Nhắc lại sau": no nudge before it, and the escalation waits for it too.
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[TrackEnd | None] = mapped_column(enum_column(TrackEnd, 16))


class NudgeEvent(Base):
    """One nudge, escalation or snooze of one obligation for one person or chat."""

    __tablename__ = "nudge_events"
    __table_args__ = (UniqueConstraint("track_id", "chat_id", "step"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("nudge_tracks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[NudgePolicy] = mapped_column(enum_column(NudgePolicy, 32))
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)  # a person, or a group
    step: Mapped[NudgeStep] = mapped_column(enum_column(NudgeStep, 16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # The first event of the message it went out in: the "Nhắc lại sau" button names it.
    batch_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Escalations only: why it went up.
    reason: Mapped[EscalationReason | None] = mapped_column(enum_column(EscalationReason, 16))
    # Set when the message was withdrawn as it was about to go out (met meanwhile).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
