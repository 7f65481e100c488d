"""The organisation: the committee at its top, the units under it and their branches,
members, working groups, admins, chat bindings, one-time codes and the audit log.

The top committee may be a province or city committee (with its communes and wards), a commune
or ward committee (with its branches and grassroots organisations), or a district committee as
before July 2025: the tree and the name of each level come from the import, not from code.
Every row carries `district_id`, the id of its organisation's top unit (the name is historical:
the first organisations were districts), so one database can hold several organisations and
every query can be scoped to the acting person's organisation.
"""

from __future__ import annotations

import enum
from datetime import datetime, time
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
    Time,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, enum_column, utcnow


class UnitKind(enum.StrEnum):
    PROVINCE_COMMITTEE = "province_committee"  # Tỉnh ủy, Thành ủy
    DISTRICT_COMMITTEE = "district_committee"  # before 1 July 2025
    TOWN = "town"  # before 1 July 2025
    COMMUNE = "commune"
    WARD = "ward"
    SPECIAL_ZONE = "special_zone"
    # A grassroots organisation (tổ chức cơ sở đảng) inside a commune, with its own branches.
    GRASSROOTS = "grassroots"
    AGENCY_COMMITTEE = "agency_committee"


# The name of a unit's level when the import leaves `level_name` empty: the words the older
# district imports implied by their kinds (data for the organisation, not user interface text).
DEFAULT_LEVEL_NAMES: dict[str, str] = {
    UnitKind.PROVINCE_COMMITTEE: "Tỉnh ủy",
    UnitKind.DISTRICT_COMMITTEE: "Huyện ủy",
    UnitKind.TOWN: "Đảng ủy thị trấn",
    UnitKind.COMMUNE: "Đảng ủy xã",
    UnitKind.WARD: "Đảng ủy phường",
    UnitKind.SPECIAL_ZONE: "Đảng ủy đặc khu",
    UnitKind.GRASSROOTS: "Đảng bộ cơ sở",
    UnitKind.AGENCY_COMMITTEE: "Đảng ủy cơ quan",
}


class BranchKind(enum.StrEnum):
    RESIDENTIAL = "residential"
    VILLAGE = "village"
    AGENCY = "agency"
    SCHOOL = "school"
    HEALTH = "health"
    ENTERPRISE = "enterprise"
    COOPERATIVE = "cooperative"
    ARMED = "armed"
    CREDIT_FUND = "credit_fund"


# Working groups visit only these kinds of branch.
VISITED_BRANCH_KINDS = frozenset({BranchKind.RESIDENTIAL, BranchKind.VILLAGE})
VISITED_KINDS_DEFAULT = frozenset(k.value for k in VISITED_BRANCH_KINDS)


class MemberRole(enum.StrEnum):
    MEMBER = "member"
    DEPUTY_SECRETARY = "deputy_secretary"
    SECRETARY = "secretary"


# Who leads a branch: the one definition the policy, the update path and the repositories read.
LEADER_ROLES = (MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY)


class MemberStatus(enum.StrEnum):
    OFFICIAL = "official"
    PROBATIONARY = "probationary"


class TargetType(enum.StrEnum):
    """What a group chat or a link code points at."""

    BRANCH = "branch"
    UNIT = "unit"
    WORKING_GROUP = "working_group"
    COMMITTEE = "committee"


class Unit(Base):
    """A committee: the organisation's top one (no parent) or one below it."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, 32))
    # The name of this unit's level as its organisation writes it ("Đảng ủy xã", "Thành ủy").
    level_name: Mapped[str] = mapped_column(String(64), default="", server_default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # The top committee this unit belongs to (itself for the root); null only mid-insert.
    district_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Branch(Base):
    """A party branch (chi bộ) with its regular monthly meeting rule."""

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[BranchKind] = mapped_column(enum_column(BranchKind, 32))
    meeting_day: Mapped[int] = mapped_column(SmallInteger)
    meeting_time: Mapped[time] = mapped_column(Time)
    location: Mapped[str] = mapped_column(String(256), default="")
    # The branch also sends its invitations through Sổ tay đảng viên điện tử (the party's
    # e-handbook app): the bot's announcement says so instead of standing in for it.
    app_invites: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Member(Base):
    """A party member in one branch; `telegram_id` links the person to their account."""

    __tablename__ = "members"
    __table_args__ = (
        # One active secretary per branch, enforced by the database too.
        Index(
            "uq_members_one_secretary",
            "branch_id",
            unique=True,
            postgresql_where=text("role = 'secretary' AND active"),
            sqlite_where=text("role = 'secretary' AND active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(256))
    # Normalised to +84xxxxxxxxx so the contact-sharing match is exact.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(enum_column(MemberRole, 32), default=MemberRole.MEMBER)
    status: Mapped[MemberStatus] = mapped_column(
        enum_column(MemberStatus, 32), default=MemberStatus.OFFICIAL
    )
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    telegram_username: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WorkingGroup(Base):
    """A district working group (tổ công tác) that visits branches of the units it covers."""

    __tablename__ = "working_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    leader_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # The kinds of branch the group visits, ";"-separated, or "all"; empty: village and
    # residential branches (what a district's groups visited). A commune committee whose members
    # attend every branch's meetings says "all".
    visit_kinds: Mapped[str] = mapped_column(String(256), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def visited_kinds(self) -> frozenset[str]:
        return visited_kinds(self.visit_kinds)


def visited_kinds(visit_kinds: str) -> frozenset[str]:
    """The branch kinds a group's `visit_kinds` names."""
    text = visit_kinds.strip().lower()
    if not text:
        return VISITED_KINDS_DEFAULT
    if text == "all":
        return frozenset(k.value for k in BranchKind)
    return frozenset(part.strip() for part in text.split(";") if part.strip())


class WorkingGroupMember(Base):
    __tablename__ = "working_group_members"

    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)


class WorkingGroupUnit(Base):
    __tablename__ = "working_group_units"

    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)


class CommitteeAdmin(Base):
    """A Telegram account allowed to act anywhere in one district, or (with `unit_id`) a
    commune's admin, who acts for that unit only (its broadcasts)."""

    __tablename__ = "committee_admins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # Null: the whole district (every admin before communes had their own).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatBinding(Base):
    """A Telegram group bound to a branch, unit, working group or the committee."""

    __tablename__ = "chat_bindings"
    __table_args__ = (
        Index(
            "uq_chat_bindings_active_target",
            "target_type",
            "target_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        Index(
            "uq_chat_bindings_active_chat",
            "chat_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_title: Mapped[str] = mapped_column(String(256), default="")
    target_type: Mapped[TargetType] = mapped_column(enum_column(TargetType, 32))
    target_id: Mapped[int] = mapped_column(Integer)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    bound_by: Mapped[int | None] = mapped_column(BigInteger)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unbound_reason: Mapped[str | None] = mapped_column(String(64))


class LinkCode(Base):
    """A one-time code, valid 24 h, that binds a group chat to a target with /link CODE.

    Only the SHA-256 of the code is stored, so a database leak does not leak usable codes.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    target_type: Mapped[TargetType] = mapped_column(enum_column(TargetType, 32))
    target_id: Mapped[int] = mapped_column(Integer)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_in_chat: Mapped[int | None] = mapped_column(BigInteger)


class Invite(Base):
    """A personal one-time deep-link token (valid 7 days) that ties an account to a member."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(BigInteger)


class AuditLog(Base):
    """Who changed what and when, with the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Telegram id of the person acting; null for the system (import CLI, scheduler).
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_label: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
