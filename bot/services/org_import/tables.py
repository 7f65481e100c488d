"""The tables an organisation import writes, described as data for the one upsert loop, and
what the import reports about each (`TableChanges`).

Units, branches, members and working groups differ only in their columns, the one column that
names another row by code, and a few table rules, so each is a small `EntityTable` spec and
:mod:`bot.services.org_import.write` loads, diffs, writes and audits them all the same way.
Working-group links are plain association rows, described by `LinkTable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Table

from bot.services.org_import.read import (
    BranchRow,
    MemberRow,
    OrgData,
    UnitRow,
    WorkingGroupRow,
)
from storage.base import Base
from storage.models import Branch, Member, Unit, WorkingGroup, WorkingGroupMember, WorkingGroupUnit
from storage.models.org import MemberRole


class FileRow(Protocol):
    """What every validated row has: its own code and its district's."""

    @property
    def code(self) -> str: ...

    @property
    def district_code(self) -> str: ...


R = TypeVar("R", bound=FileRow)
CHANGE_KINDS = ("added", "updated", "moved", "deactivated", "reactivated", "removed")


@dataclass
class TableChanges:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # link rows only
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {**{k: len(getattr(self, k)) for k in CHANGE_KINDS}, "unchanged": self.unchanged}

    @property
    def changed(self) -> int:
        c = self.counts()
        return sum(c.values()) - c["unchanged"]


@dataclass(frozen=True)
class Reference:
    """The one compared field that names another row by code, and the id column it fills."""

    field: str  # in the file and in the diff: "parent_code"
    column: str  # in the database: "parent_id"
    table: str  # the table the code belongs to: "units"


@dataclass(frozen=True)
class EntityTable(Generic[R]):
    """Everything the upsert needs to know about one entity table."""

    name: str  # report and plan key: "units"
    model: type[Base]
    entity_type: str  # audit rows: "unit"
    label: str  # progress lines: "adding <label>"
    compared: tuple[str, ...]  # row fields diffed against the database, in code terms
    ref: Reference
    rows: Callable[[OrgData], Mapping[str, R] | None]  # None: the file leaves the table alone
    moves: bool = True  # a changed ref means "moved" rather than "updated"
    # New rows name rows of the same table (a unit's parent): insert them first without
    # references, then write every reference with the updates.
    self_referencing: bool = False
    # Values the file leaves empty but the database keeps: fills them from the loaded row.
    keep: Callable[[dict[str, Any], Mapping[str, Any]], None] | None = None
    # Columns an update may only write after every other write of the table; it sets their
    # interim values in the given column values and returns the final ones (or None).
    later: Callable[[R, Mapping[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None
    later_label: str = ""

    @property
    def table(self) -> Table:
        return self.model.__table__

    @property
    def loaded_columns(self) -> tuple[str, ...]:
        own = tuple(self.ref.column if f == self.ref.field else f for f in self.compared)
        return ("id", "code", *own, "district_id", "active")

    @cached_property
    def _compared_of(self) -> Callable[[R], tuple[Any, ...]]:
        get = attrgetter(*self.compared)  # a tuple only for two names or more
        return get if len(self.compared) > 1 else lambda row: (get(row),)

    def fields(self, row: R, old: Mapping[str, Any] | None) -> dict[str, Any]:
        """The compared fields of a file row; `old` is its loaded row when it exists."""
        values = dict(zip(self.compared, self._compared_of(row), strict=True))
        if self.keep is not None and old is not None:
            self.keep(values, old)
        return values


def _keep_linked_account(values: dict[str, Any], old: Mapping[str, Any]) -> None:
    """The file does not know accounts linked later through the bot (invite, contact):
    an empty telegram_id keeps them instead of unlinking the person."""
    if values["telegram_id"] is None:
        values["telegram_id"] = old["telegram_id"]
        if values["telegram_username"] is None:
            values["telegram_username"] = old["telegram_username"]


def _promote_last(
    row: MemberRow, old: Mapping[str, Any], values: dict[str, Any]
) -> dict[str, Any] | None:
    """The database allows one active secretary per branch and checks it row by row, so a
    hand-over (old secretary demoted, new one promoted) must write every demotion first:
    new secretaries are written as plain members, then promoted at the very end."""
    secretary = MemberRole.SECRETARY
    if row.role == secretary and (
        old["role"] != secretary or old["branch_code"] != row.branch_code or not old["active"]
    ):
        values["role"] = MemberRole.MEMBER
        return {"role": secretary}
    return None


# In write order: a table's references point only at itself or at tables before it.
ENTITY_TABLES: tuple[EntityTable[Any], ...] = (
    EntityTable[UnitRow](
        name="units",
        model=Unit,
        entity_type="unit",
        label="units",
        compared=("name", "kind", "level_name", "parent_code"),
        ref=Reference("parent_code", "parent_id", "units"),
        rows=lambda d: d.units,
        self_referencing=True,
    ),
    EntityTable[BranchRow](
        name="branches",
        model=Branch,
        entity_type="branch",
        label="branches",
        compared=(
            "name",
            "unit_code",
            "kind",
            "meeting_day",
            "meeting_time",
            "location",
            "app_invites",
        ),
        ref=Reference("unit_code", "unit_id", "units"),
        rows=lambda d: d.branches,
    ),
    EntityTable[MemberRow](
        name="members",
        model=Member,
        entity_type="member",
        label="members",
        compared=(
            "full_name",
            "phone",
            "branch_code",
            "role",
            "status",
            "telegram_id",
            "telegram_username",
        ),
        ref=Reference("branch_code", "branch_id", "branches"),
        rows=lambda d: d.members,
        keep=_keep_linked_account,
        later=_promote_last,
        later_label="promoting secretaries",
    ),
    EntityTable[WorkingGroupRow](
        name="working_groups",
        model=WorkingGroup,
        entity_type="working_group",
        label="working groups",
        compared=("name", "leader_code", "visit_kinds"),
        ref=Reference("leader_code", "leader_member_id", "members"),
        rows=lambda d: d.working_groups,
        moves=False,
    ),
)


@dataclass(frozen=True)
class LinkTable:
    """An association of working groups with other rows, made to match the file exactly."""

    name: str  # report key: "working_group_units"
    model: type[Base]
    column: str  # the linked row's id column: "unit_id"
    entity: str  # the linked row's entity table: "units"
    pairs: Callable[[OrgData], set[tuple[str, str]]]  # (group code, linked code) in the file

    @property
    def table(self) -> Table:
        return self.model.__table__


LINK_TABLES: tuple[LinkTable, ...] = (
    LinkTable(
        name="working_group_units",
        model=WorkingGroupUnit,
        column="unit_id",
        entity="units",
        pairs=lambda d: {
            (g.code, u) for g in (d.working_groups or {}).values() for u in g.unit_codes
        },
    ),
    LinkTable(
        name="working_group_members",
        model=WorkingGroupMember,
        column="member_id",
        entity="members",
        pairs=lambda d: d.working_group_members or set(),
    ),
)
