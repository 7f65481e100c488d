"""Organisation import: an idempotent upsert by code of units, branches, members and working
groups, in one transaction.

How it stays fast on 200,000 members: existing rows are loaded once per table as plain tuples,
the differences are computed in Python by code, and only the differences are written with
executemany in chunks. Nothing is ever deleted: a row missing from the import is deactivated,
and only within the districts the import contains, so one district's file never touches
another district. Working-group links (which units a group covers, who is in it) are plain
association rows and are replaced to match the file.

Audit: every added, updated, moved, deactivated or reactivated entity gets its own audit row
(action `import.<change>`, before/after in codes, actor label `import-org`), and each district
gets one `import.summary` row with the counts. Link-table changes are recorded in the summary.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import record_many
from bot.services.org_import_read import (
    BranchRow,
    MemberRow,
    OrgData,
    UnitRow,
    WorkingGroupRow,
    read_source,
    validate,
)
from storage.base import utcnow
from storage.models import (
    Branch,
    Member,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.org import MemberRole

CHUNK = 5000
ACTOR_LABEL = "import-org"
ENTITY_TABLES = ("units", "branches", "members", "working_groups")
LINK_TABLES = ("working_group_units", "working_group_members")
ENTITY_TYPE = {
    "units": "unit",
    "branches": "branch",
    "members": "member",
    "working_groups": "working_group",
}
# The field whose change means the row moved (a member to another branch, ...).
MOVE_FIELD = {"units": "parent_code", "branches": "unit_code", "members": "branch_code"}


class Progress(Protocol):
    def phase(self, text: str) -> None: ...

    def step(self, label: str, done: int, total: int) -> None: ...


class QuietProgress:
    def phase(self, text: str) -> None:
        pass

    def step(self, label: str, done: int, total: int) -> None:
        pass


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
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "moved": len(self.moved),
            "deactivated": len(self.deactivated),
            "reactivated": len(self.reactivated),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
        }

    @property
    def changed(self) -> int:
        c = self.counts()
        return sum(c.values()) - c["unchanged"]


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    districts: list[str]
    rows: int
    tables: dict[str, TableChanges] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tables.values())


@dataclass
class ImportOutcome:
    """Either the validation errors (nothing written) or the report of what changed."""

    errors: list[str]
    report: ImportReport | None


@dataclass
class _Change:
    """One existing row that differs from the file, in code terms."""

    id: int
    code: str
    kind: str  # updated | moved | reactivated
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class _TablePlan:
    new: list[Any] = field(default_factory=list)
    changes: list[_Change] = field(default_factory=list)
    deactivate: list[tuple[int, str, int | None]] = field(default_factory=list)  # id, code, dist
    unchanged: int = 0


def load_and_validate(path: Path, progress: Progress | None = None) -> tuple[OrgData, list[str]]:
    """Read and check the source; no database needed."""
    progress = progress or QuietProgress()
    started = _time.perf_counter()
    raw = read_source(path, progress.step)
    for table, rows in raw.rows.items():
        progress.phase(f"read {raw.labels[table]}: {len(rows):,} rows")
    data, errors = validate(raw, progress.step)
    progress.phase(
        f"validated {sum(len(r) for r in raw.rows.values()):,} rows in "
        f"{_time.perf_counter() - started:.1f}s: {len(errors)} problem(s)"
    )
    return data, errors


async def import_org(
    session: AsyncSession,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Validate `path` and, if every row is good, apply it in the caller's transaction."""
    data, errors = load_and_validate(path, progress)
    if errors:
        return ImportOutcome(errors, None)
    report = await apply_org(session, data, dry_run=dry_run, progress=progress)
    return ImportOutcome([], report)


def _diff(
    table: str,
    code: str,
    wanted: Mapping[str, Any],
    existing: Mapping[str, Any],
    active: bool,
) -> _Change | None:
    changed = [k for k, v in wanted.items() if existing.get(k) != v]
    if not changed and active:
        return None
    before = {k: existing.get(k) for k in changed}
    after = {k: wanted[k] for k in changed}
    if not active:
        kind = "reactivated"
        before["active"], after["active"] = False, True
    elif MOVE_FIELD.get(table) in changed:
        kind = "moved"
    else:
        kind = "updated"
    before["code"] = code
    return _Change(int(existing["id"]), code, kind, before, after)


def _unit_fields(row: UnitRow) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, "parent_code": row.parent_code}


def _branch_fields(row: BranchRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "unit_code": row.unit_code,
        "kind": row.kind,
        "meeting_day": row.meeting_day,
        "meeting_time": row.meeting_time,
        "location": row.location,
    }


def _member_fields(row: MemberRow, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "full_name": row.full_name,
        "phone": row.phone,
        "branch_code": row.branch_code,
        "role": row.role,
        "status": row.status,
        "telegram_id": row.telegram_id,
        "telegram_username": row.telegram_username,
    }
    if existing is not None and row.telegram_id is None:
        # The file does not know accounts linked later through the bot (invite, contact):
        # an empty telegram_id keeps them instead of unlinking the person.
        fields["telegram_id"] = existing["telegram_id"]
        if row.telegram_username is None:
            fields["telegram_username"] = existing["telegram_username"]
    return fields


def _group_fields(row: WorkingGroupRow) -> dict[str, Any]:
    return {"name": row.name, "leader_code": row.leader_code}


class _Importer:
    def __init__(self, session: AsyncSession, data: OrgData, progress: Progress) -> None:
        self.s = session
        self.data = data
        self.progress = progress
        self.now: datetime = utcnow()
        self.audit: list[dict[str, Any]] = []
        self.report_tables: dict[str, TableChanges] = {}
        # code -> id after writing; id -> code for reading existing rows in code terms
        self.unit_ids: dict[str, int] = {}
        self.branch_ids: dict[str, int] = {}
        self.member_ids: dict[str, int] = {}
        self.group_ids: dict[str, int] = {}

    # Loading ---------------------------------------------------------------------------------

    async def _rows(self, stmt: Any) -> list[dict[str, Any]]:
        result = await self.s.execute(stmt)
        return [dict(r._mapping) for r in result]

    async def load(self) -> None:
        self.progress.phase("loading the existing organisation")
        units = await self._rows(
            select(
                Unit.id,
                Unit.code,
                Unit.name,
                Unit.kind,
                Unit.parent_id,
                Unit.district_id,
                Unit.active,
            )
        )
        unit_code = {u["id"]: u["code"] for u in units}
        for u in units:
            u["parent_code"] = unit_code.get(u["parent_id"])
        self.units = {u["code"]: u for u in units}
        self.unit_code = unit_code

        branches = await self._rows(
            select(
                Branch.id,
                Branch.code,
                Branch.name,
                Branch.unit_id,
                Branch.district_id,
                Branch.kind,
                Branch.meeting_day,
                Branch.meeting_time,
                Branch.location,
                Branch.active,
            )
        )
        branch_code = {b["id"]: b["code"] for b in branches}
        for b in branches:
            b["unit_code"] = unit_code.get(b["unit_id"])
        self.branches = {b["code"]: b for b in branches}

        members = await self._rows(
            select(
                Member.id,
                Member.code,
                Member.full_name,
                Member.phone,
                Member.branch_id,
                Member.district_id,
                Member.role,
                Member.status,
                Member.telegram_id,
                Member.telegram_username,
                Member.active,
            )
        )
        member_code = {m["id"]: m["code"] for m in members}
        for m in members:
            m["branch_code"] = branch_code.get(m["branch_id"])
        self.members = {m["code"]: m for m in members}
        self.member_code = member_code

        groups = await self._rows(
            select(
                WorkingGroup.id,
                WorkingGroup.code,
                WorkingGroup.name,
                WorkingGroup.district_id,
                WorkingGroup.leader_member_id,
                WorkingGroup.active,
            )
        )
        for g in groups:
            g["leader_code"] = member_code.get(g["leader_member_id"])
        self.groups = {g["code"]: g for g in groups}

        # Districts in this import that already exist: only their rows may be deactivated.
        self.scope_ids = {self.units[c]["id"] for c in self.data.district_codes if c in self.units}
        self.progress.phase(
            f"loaded {len(units):,} units, {len(branches):,} branches, "
            f"{len(members):,} members, {len(groups):,} working groups"
        )

    # Planning --------------------------------------------------------------------------------

    def _plan(
        self,
        table: str,
        wanted: Mapping[str, Any],
        existing: Mapping[str, dict[str, Any]],
        fields: Callable[[Any, Mapping[str, Any] | None], dict[str, Any]],
    ) -> _TablePlan:
        plan = _TablePlan()
        for code, row in wanted.items():
            old = existing.get(code)
            if old is None:
                plan.new.append(row)
                continue
            district = self.units.get(row.district_code)
            values = fields(row, old)
            if district is None or old["district_id"] != district["id"]:
                values["district_code"] = row.district_code
                old = {**old, "district_code": self.unit_code.get(old["district_id"])}
            change = _diff(table, code, values, old, bool(old["active"]))
            if change is None:
                plan.unchanged += 1
            else:
                plan.changes.append(change)
        for code, old in existing.items():
            if code not in wanted and old["active"] and old["district_id"] in self.scope_ids:
                plan.deactivate.append((int(old["id"]), code, old["district_id"]))
        changes = TableChanges(unchanged=plan.unchanged)
        changes.added = [r.code for r in plan.new]
        for c in plan.changes:
            getattr(changes, c.kind).append(c.code)
        changes.deactivated = [code for _, code, _ in plan.deactivate]
        self.report_tables[table] = changes
        return plan

    def plan_all(self) -> dict[str, _TablePlan]:
        d = self.data
        plans = {
            "units": self._plan("units", d.units, self.units, lambda r, _o: _unit_fields(r)),
            "branches": self._plan(
                "branches", d.branches, self.branches, lambda r, _o: _branch_fields(r)
            ),
            "members": self._plan("members", d.members, self.members, _member_fields),
        }
        if d.working_groups is not None:
            plans["working_groups"] = self._plan(
                "working_groups", d.working_groups, self.groups, lambda r, _o: _group_fields(r)
            )
        return plans

    # Writing ---------------------------------------------------------------------------------

    async def _many(self, label: str, stmt: Any, params: Sequence[dict[str, Any]]) -> None:
        """executemany in chunks, reporting progress for the large ones."""
        total = len(params)
        for start in range(0, total, CHUNK):
            await self.s.execute(stmt, params[start : start + CHUNK])
            if total > CHUNK:
                self.progress.step(label, min(start + CHUNK, total), total)

    async def _ids(self, column_code: Any, column_id: Any) -> dict[str, int]:
        result = await self.s.execute(select(column_code, column_id))
        return {code: id_ for code, id_ in result}

    def _audit(
        self,
        table: str,
        action: str,
        entity_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        district_id: int | None,
    ) -> None:
        self.audit.append(
            {
                "action": f"import.{action}",
                "entity_type": ENTITY_TYPE[table],
                "entity_id": entity_id,
                "before": before,
                "after": after,
                "actor_label": ACTOR_LABEL,
                "district_id": district_id,
            }
        )

    async def _deactivate(self, table: str, model: Any, plan: _TablePlan) -> None:
        if not plan.deactivate:
            return
        tbl: Table = model.__table__
        stmt = (
            update(tbl)
            .where(tbl.c.id == bindparam("b_id"))
            .values(active=False, updated_at=bindparam("b_now"))
        )
        params = [{"b_id": i, "b_now": self.now} for i, _, _ in plan.deactivate]
        await self._many(f"deactivating {table}", stmt, params)
        for entity_id, code, district_id in plan.deactivate:
            self._audit(
                table,
                "deactivated",
                entity_id,
                {"code": code, "active": True},
                {"active": False},
                district_id,
            )

    def _audit_changes(
        self, table: str, plan: _TablePlan, district_of: Callable[[str], int]
    ) -> None:
        for c in plan.changes:
            self._audit(table, c.kind, c.id, c.before, c.after, district_of(c.code))

    def _audit_new(
        self,
        table: str,
        plan: _TablePlan,
        ids: Mapping[str, int],
        fields: Callable[[Any], dict[str, Any]],
    ) -> None:
        for row in plan.new:
            after = {"code": row.code, **fields(row)}
            self._audit(
                table, "added", ids[row.code], None, after, self.unit_ids[row.district_code]
            )

    async def write_units(self, plan: _TablePlan) -> None:
        tbl: Table = Unit.__table__
        if plan.new:
            await self._many(
                "adding units",
                insert(tbl),
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "kind": r.kind,
                        "parent_id": None,
                        "district_id": None,
                        "active": True,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                    for r in plan.new
                ],
            )
        self.unit_ids = await self._ids(Unit.code, Unit.id)
        rows = self.data.units
        touched = [r.code for r in plan.new] + [c.code for c in plan.changes]
        if touched:
            stmt = (
                update(tbl)
                .where(tbl.c.id == bindparam("b_id"))
                .values(
                    name=bindparam("b_name"),
                    kind=bindparam("b_kind"),
                    parent_id=bindparam("b_parent"),
                    district_id=bindparam("b_district"),
                    active=True,
                    updated_at=bindparam("b_now"),
                )
            )
            params = []
            for code in touched:
                r = rows[code]
                params.append(
                    {
                        "b_id": self.unit_ids[code],
                        "b_name": r.name,
                        "b_kind": r.kind,
                        "b_parent": self.unit_ids[r.parent_code] if r.parent_code else None,
                        "b_district": self.unit_ids[r.district_code],
                        "b_now": self.now,
                    }
                )
            await self._many("updating units", stmt, params)
        await self._deactivate("units", Unit, plan)
        self._audit_new("units", plan, self.unit_ids, _unit_fields)
        self._audit_changes("units", plan, lambda c: self.unit_ids[rows[c].district_code])

    async def write_branches(self, plan: _TablePlan) -> None:
        tbl: Table = Branch.__table__
        rows = self.data.branches

        def values(r: BranchRow) -> dict[str, Any]:
            return {
                "name": r.name,
                "unit_id": self.unit_ids[r.unit_code],
                "district_id": self.unit_ids[r.district_code],
                "kind": r.kind,
                "meeting_day": r.meeting_day,
                "meeting_time": r.meeting_time,
                "location": r.location,
            }

        if plan.changes:
            stmt = (
                update(tbl)
                .where(tbl.c.id == bindparam("b_id"))
                .values(
                    {
                        **{k: bindparam(f"b_{k}") for k in values(rows[plan.changes[0].code])},
                        "active": True,
                        "updated_at": bindparam("b_now"),
                    }
                )
            )
            params = [
                {
                    "b_id": c.id,
                    "b_now": self.now,
                    **{f"b_{k}": v for k, v in values(rows[c.code]).items()},
                }
                for c in plan.changes
            ]
            await self._many("updating branches", stmt, params)
        await self._deactivate("branches", Branch, plan)
        if plan.new:
            await self._many(
                "adding branches",
                insert(tbl),
                [
                    {
                        "code": r.code,
                        **values(r),
                        "active": True,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                    for r in plan.new
                ],
            )
            self.branch_ids = await self._ids(Branch.code, Branch.id)
        else:
            self.branch_ids = {c: b["id"] for c, b in self.branches.items()}
        self._audit_new("branches", plan, self.branch_ids, _branch_fields)
        self._audit_changes("branches", plan, lambda c: self.unit_ids[rows[c].district_code])

    async def write_members(self, plan: _TablePlan) -> None:
        tbl: Table = Member.__table__
        rows = self.data.members
        secretary = MemberRole.SECRETARY.value

        def values(r: MemberRow, role: str) -> dict[str, Any]:
            existing = self.members.get(r.code)
            f = _member_fields(r, existing)
            return {
                "full_name": r.full_name,
                "phone": r.phone,
                "branch_id": self.branch_ids[r.branch_code],
                "district_id": self.unit_ids[r.district_code],
                "role": role,
                "status": r.status,
                "telegram_id": f["telegram_id"],
                "telegram_username": f["telegram_username"],
            }

        # The database allows one active secretary per branch and checks it row by row, so a
        # hand-over (old secretary demoted, new one promoted) must write every demotion first:
        # new secretaries are written as plain members, then promoted at the very end.
        promote: list[int] = []
        if plan.changes:
            stmt = (
                update(tbl)
                .where(tbl.c.id == bindparam("b_id"))
                .values(
                    {
                        **{k: bindparam(f"b_{k}") for k in values(rows[plan.changes[0].code], "")},
                        "active": True,
                        "updated_at": bindparam("b_now"),
                    }
                )
            )
            params = []
            for c in plan.changes:
                r = rows[c.code]
                role = r.role
                if role == secretary:
                    old = self.members[c.code]
                    if (
                        old["role"] != secretary
                        or old["branch_code"] != r.branch_code
                        or not old["active"]
                    ):
                        role = MemberRole.MEMBER.value
                        promote.append(c.id)
                params.append(
                    {
                        "b_id": c.id,
                        "b_now": self.now,
                        **{f"b_{k}": v for k, v in values(r, role).items()},
                    }
                )
            await self._many("updating members", stmt, params)
        await self._deactivate("members", Member, plan)
        if plan.new:
            await self._many(
                "adding members",
                insert(tbl),
                [
                    {
                        "code": r.code,
                        **values(r, r.role),
                        "active": True,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                    for r in plan.new
                ],
            )
            self.member_ids = await self._ids(Member.code, Member.id)
        else:
            self.member_ids = {c: m["id"] for c, m in self.members.items()}
        if promote:
            stmt = update(tbl).where(tbl.c.id == bindparam("b_id")).values(role=secretary)
            await self._many("promoting secretaries", stmt, [{"b_id": i} for i in promote])
        self._audit_new("members", plan, self.member_ids, lambda r: _member_fields(r, None))
        self._audit_changes("members", plan, lambda c: self.unit_ids[rows[c].district_code])

    async def write_groups(self, plan: _TablePlan) -> None:
        tbl: Table = WorkingGroup.__table__
        groups = self.data.working_groups or {}

        def values(r: WorkingGroupRow) -> dict[str, Any]:
            return {
                "name": r.name,
                "district_id": self.unit_ids[r.district_code],
                "leader_member_id": self.member_ids[r.leader_code] if r.leader_code else None,
            }

        if plan.changes:
            stmt = (
                update(tbl)
                .where(tbl.c.id == bindparam("b_id"))
                .values(
                    name=bindparam("b_name"),
                    district_id=bindparam("b_district_id"),
                    leader_member_id=bindparam("b_leader_member_id"),
                    active=True,
                    updated_at=bindparam("b_now"),
                )
            )
            params = [
                {
                    "b_id": c.id,
                    "b_now": self.now,
                    **{f"b_{k}": v for k, v in values(groups[c.code]).items()},
                }
                for c in plan.changes
            ]
            await self._many("updating working groups", stmt, params)
        await self._deactivate("working_groups", WorkingGroup, plan)
        if plan.new:
            await self._many(
                "adding working groups",
                insert(tbl),
                [
                    {
                        "code": r.code,
                        **values(r),
                        "active": True,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                    for r in plan.new
                ],
            )
            self.group_ids = await self._ids(WorkingGroup.code, WorkingGroup.id)
        else:
            self.group_ids = {c: g["id"] for c, g in self.groups.items()}
        self._audit_new("working_groups", plan, self.group_ids, _group_fields)
        self._audit_changes(
            "working_groups", plan, lambda c: self.unit_ids[groups[c].district_code]
        )

    async def plan_links(self, write: bool) -> None:
        """Make the group→unit and group→member links of the imported groups match the file."""
        groups = self.data.working_groups or {}
        pairs = self.data.working_group_members or set()
        known = {c: g["id"] for c, g in self.groups.items()}
        if write:
            known = self.group_ids
        member_ids = self.member_ids if write else {c: m["id"] for c, m in self.members.items()}
        unit_ids = self.unit_ids if write else {c: u["id"] for c, u in self.units.items()}
        specs = (
            (
                "working_group_units",
                WorkingGroupUnit.__table__,
                "unit_id",
                {(g.code, u) for g in groups.values() for u in g.unit_codes},
                unit_ids,
                self.unit_code,
            ),
            (
                "working_group_members",
                WorkingGroupMember.__table__,
                "member_id",
                pairs,
                member_ids,
                self.member_code,
            ),
        )
        for name, tbl, other, wanted_codes, other_ids, other_code in specs:
            group_code = {i: c for c, i in known.items()}
            scope = {known[c] for c in groups if c in known}
            existing: set[tuple[str, str]] = set()
            existing_ids: dict[tuple[str, str], tuple[int, int]] = {}
            if scope:
                result = await self.s.execute(select(tbl.c.working_group_id, tbl.c[other]))
                for gid, oid in result:
                    if gid in scope:
                        key = (group_code[gid], other_code.get(oid, str(oid)))
                        existing.add(key)
                        existing_ids[key] = (gid, oid)
            added = sorted(wanted_codes - existing)
            removed = sorted(existing - wanted_codes)
            changes = TableChanges(unchanged=len(existing & wanted_codes))
            changes.added = [f"{g}:{o}" for g, o in added]
            changes.removed = [f"{g}:{o}" for g, o in removed]
            self.report_tables[name] = changes
            if not write:
                continue
            if removed:
                stmt = delete(tbl).where(
                    and_(
                        tbl.c.working_group_id == bindparam("b_g"),
                        tbl.c[other] == bindparam("b_o"),
                    )
                )
                params = [{"b_g": existing_ids[k][0], "b_o": existing_ids[k][1]} for k in removed]
                await self._many(f"removing {name}", stmt, params)
            if added:
                await self._many(
                    f"adding {name}",
                    insert(tbl),
                    [{"working_group_id": known[g], other: other_ids[o]} for g, o in added],
                )

    async def write_audit(self, report: ImportReport) -> None:
        kinds = ("added", "updated", "moved", "deactivated", "reactivated", "removed")
        counts: dict[str, dict[str, dict[str, int]]] = {
            code: {t: dict.fromkeys(kinds, 0) for t in report.tables}
            for code in self.data.district_codes
        }
        for table, changes in report.tables.items():
            district_of = self._district_lookup(table)
            for kind in kinds:
                for key in getattr(changes, kind):
                    district = district_of(key.split(":", 1)[0])
                    if district in counts:
                        counts[district][table][kind] += 1
        for code in self.data.district_codes:
            self.audit.append(
                {
                    "action": "import.summary",
                    "entity_type": "district",
                    "entity_id": self.unit_ids[code],
                    "before": None,
                    "after": {"source": Path(report.source).name, "changes": counts[code]},
                    "actor_label": ACTOR_LABEL,
                    "district_id": self.unit_ids[code],
                }
            )
        self.progress.phase(f"writing {len(self.audit):,} audit rows")
        await record_many(self.s, self.audit)

    def _district_lookup(self, table: str) -> Callable[[str], str | None]:
        """code -> district code, from the file or (for deactivated rows) from the database."""
        d = self.data
        in_file: Mapping[str, Any] = {
            "units": d.units,
            "branches": d.branches,
            "members": d.members,
        }.get(table, d.working_groups or {})
        loaded: Mapping[str, dict[str, Any]] = {
            "units": self.units,
            "branches": self.branches,
            "members": self.members,
        }.get(table, self.groups)

        def lookup(code: str) -> str | None:
            row = in_file.get(code)
            if row is not None:
                return str(row.district_code)
            old = loaded.get(code)
            return None if old is None else self.unit_code.get(old["district_id"])

        return lookup


async def apply_org(
    session: AsyncSession,
    data: OrgData,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Upsert validated data in the caller's transaction; with `dry_run` only compute."""
    started = _time.perf_counter()
    progress = progress or QuietProgress()
    importer = _Importer(session, data, progress)
    await importer.load()
    plans = importer.plan_all()
    report = ImportReport(
        source=data.source, dry_run=dry_run, districts=data.district_codes, rows=data.row_count
    )
    if dry_run:
        if data.working_groups is not None:
            await importer.plan_links(write=False)
    else:
        await importer.write_units(plans["units"])
        await importer.write_branches(plans["branches"])
        await importer.write_members(plans["members"])
        if "working_groups" in plans:
            await importer.write_groups(plans["working_groups"])
            await importer.plan_links(write=True)
    report.tables = {
        name: importer.report_tables[name]
        for name in (*ENTITY_TABLES, *LINK_TABLES)
        if name in importer.report_tables
    }
    if not dry_run and report.changed:
        await importer.write_audit(report)
    report.seconds = _time.perf_counter() - started
    return report


def format_report(report: ImportReport, limit: int = 20) -> list[str]:
    """Operator-facing lines: a table of counts, then the codes of the notable changes."""
    head = "DRY RUN, nothing written: " if report.dry_run else ""
    lines = [
        f"{head}{report.source}: districts {', '.join(report.districts)}; "
        f"{report.rows:,} rows; {report.changed:,} change(s) in {report.seconds:.1f}s"
    ]
    kinds = ("added", "updated", "moved", "deactivated", "reactivated", "removed", "unchanged")
    lines.append(f"{'table':<24}" + "".join(f"{k:>12}" for k in kinds))
    for name, changes in report.tables.items():
        counts = changes.counts()
        lines.append(f"{name:<24}" + "".join(f"{counts[k]:>12,}" for k in kinds))
    for name, changes in report.tables.items():
        for kind in ("updated", "moved", "deactivated", "reactivated", "removed", "added"):
            codes: Iterable[str] = getattr(changes, kind)
            codes = list(codes)
            if not codes or (kind == "added" and not report.dry_run):
                continue
            shown = ", ".join(codes[:limit])
            more = f" ... and {len(codes) - limit:,} more" if len(codes) > limit else ""
            lines.append(f"  {name} {kind}: {shown}{more}")
    return lines
