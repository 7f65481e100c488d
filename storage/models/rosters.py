"""Visiting programs and their quarterly rosters: who from the district visits which branch
meeting, the visits' changes and reports, the dates visitors cannot go, and the meeting moves
a leader asked a branch for.

A roster is one row per (program, year, quarter): regenerating a draft rewrites its visits,
publishing freezes the draft into the plan people are told about, and every change after that
is a visit's status moving on (never a silent delete), with the audit log saying who and why.
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
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class Cadence(enum.StrEnum):
    """Which meetings a program visits."""

    QUARTER_FIRST_MONTH = "quarter_first_month"  # the regular meeting of a quarter's 1st month
    MONTHLY = "monthly"  # every month's regular meeting (commune office staff model)


class RosterStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class VisitStatus(enum.StrEnum):
    ASSIGNED = "assigned"  # published, not yet confirmed by the visitor
    CONFIRMED = "confirmed"
    OFFERED = "offered"  # the visitor offered it to `offer_to_member_id`, who has not answered
    RETURNED = "returned"  # handed back; the leader confirms the proposed replacement
    DROPPED = "dropped"  # replaced (swap, hand-back, repair) or its meeting was cancelled


# Visits that still stand: someone is expected at the meeting.
LIVE_VISIT_STATUSES = frozenset(
    {VisitStatus.ASSIGNED, VisitStatus.CONFIRMED, VisitStatus.OFFERED, VisitStatus.RETURNED}
)


class VisitQuality(enum.StrEnum):
    GOOD = "good"
    FAIR = "fair"
    WEAK = "weak"


class MoveStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # the roster was regenerated or published meanwhile


class VisitProgram(Base):
    """Who visits (a working group's members), which branches, which meetings, how many.

    Every imported working group gets the default program: the village and residential
    branches of the units it covers, the regular meeting of each quarter's first month, one
    visitor per meeting, every branch at least once a year.
    """

    __tablename__ = "visit_programs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), unique=True
    )
    cadence: Mapped[Cadence] = mapped_column(
        enum_column(Cadence, 32), default=Cadence.QUARTER_FIRST_MONTH
    )
    visitors_per_meeting: Mapped[int] = mapped_column(SmallInteger, default=1)
    yearly_target: Mapped[int] = mapped_column(SmallInteger, default=1)
    min_gap_minutes: Mapped[int] = mapped_column(Integer, default=180)
    max_visits_per_quarter: Mapped[int | None] = mapped_column(SmallInteger)
    # Branch ids visited instead of the default (null: the default list).
    branch_ids: Mapped[list[int] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BusyDay(Base):
    """A date a visitor said they cannot go (`/busy`)."""

    __tablename__ = "visitor_busy_days"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Roster(Base):
    """One program's roster for one quarter: a draft the leader reviews, then the plan."""

    __tablename__ = "rosters"
    __table_args__ = (UniqueConstraint("program_id", "year", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("visit_programs.id", ondelete="CASCADE"))
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    quarter: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[RosterStatus] = mapped_column(
        enum_column(RosterStatus, 16), default=RosterStatus.DRAFT
    )
    # Grows on every regeneration or change, so a button pressed on an older screen is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    solver_status: Mapped[str] = mapped_column(String(16), default="")
    solver_gap: Mapped[float] = mapped_column(Float, default=0.0)
    levels: Mapped[list[int]] = mapped_column(JSON, default=list)
    # [{"branch_id", "start", "reason", "meetings", "people", "blocking": [branch ids]}]
    uncovered: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"moves": [{"branch_id", "meeting_id", "from", "to"}], "helpers": [{"branch_id",
    #  "member_ids"}]}: what would fix the shortfall, computed by the solver.
    suggestions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RosterVisit(Base):
    """One visitor at one branch meeting."""

    __tablename__ = "roster_visits"
    __table_args__ = (
        Index("ix_roster_visits_visitor_start", "visitor_member_id", "starts_at"),
        Index("ix_roster_visits_branch_start", "branch_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roster_id: Mapped[int] = mapped_column(ForeignKey("rosters.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    period_year: Mapped[int] = mapped_column(SmallInteger)
    period_month: Mapped[int] = mapped_column(SmallInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visitor_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[VisitStatus] = mapped_column(
        enum_column(VisitStatus, 16), default=VisitStatus.ASSIGNED
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_to_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The visit this one replaced (swap, hand-back, repair): the chain the audit follows.
    replaces_visit_id: Mapped[int | None] = mapped_column(Integer)
    dropped_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VisitReport(Base):
    """What the visitor saw: attended, the meeting's quality, the members' proposals heard."""

    __tablename__ = "visit_reports"

    visit_id: Mapped[int] = mapped_column(
        ForeignKey("roster_visits.id", ondelete="CASCADE"), primary_key=True
    )
    attended: Mapped[bool] = mapped_column(Boolean)
    quality: Mapped[VisitQuality | None] = mapped_column(enum_column(VisitQuality, 8))
    note: Mapped[str] = mapped_column(Text, default="")
    submitted_by: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeardProposal(Base):
    """A member's proposal a visitor heard: an item the feedback feature picks up."""

    __tablename__ = "heard_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(
        ForeignKey("roster_visits.id", ondelete="CASCADE"), index=True
    )
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    # Set when the feedback feature has taken it over.
    feedback_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MoveRequest(Base):
    """A leader asking a branch's secretary to move a meeting so the roster covers it."""

    __tablename__ = "roster_move_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    roster_id: Mapped[int] = mapped_column(ForeignKey("rosters.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    period_year: Mapped[int] = mapped_column(SmallInteger)
    period_month: Mapped[int] = mapped_column(SmallInteger)
    from_start: Mapped[datetime] = mapped_column(UTCDateTime)
    to_start: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[MoveStatus] = mapped_column(
        enum_column(MoveStatus, 16), default=MoveStatus.PENDING
    )
    asked_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
