"""Writing an organisation import: one upsert by code, driven by the table specs.

(Just over 400 lines: the one loop and its few table rules read best in one place.)

Existing rows are loaded once per table as plain dicts, the differences are computed in Python
by code, and only the differences are written with executemany in chunks: that is what keeps
a 200,000-member import fast. Nothing is ever deleted: a row missing from the import is
deactivated, and only within the districts the import contains. Every added, updated, moved,
deactivated or reactivated entity gets its own audit row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.audit import record_many
from bot.services.org_import.read import OrgData
from bot.services.org_import.tables import (
    CHANGE_KINDS,
    ENTITY_TABLES,
    LINK_TABLES,
    EntityTable,
    TableChanges,
)
from storage.base import utcnow

CHUNK = 5000
ACTOR_LABEL = "import-org"
_BY_NAME = {spec.name: spec for spec in ENTITY_TABLES}


class Progress(Protocol):
    """Where a long import reports how far it is: catalog keys (`op.*`) and their fields, so the
    command line says it in the operator's language."""

    def phase(self, key: str, **params: Any) -> None: ...

    def step(self, key: str, done: int, total: int, **params: Any) -> None: ...


class QuietProgress:
    def phase(self, key: str, **params: Any) -> None:
        pass

    def step(self, key: str, done: int, total: int, **params: Any) -> None:
        pass


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


def _diff(
    spec: EntityTable[Any], code: str, wanted: Mapping[str, Any], existing: Mapping[str, Any]
) -> _Change | None:
    active = bool(existing["active"])
    changed = [k for k, v in wanted.items() if existing.get(k) != v]
    if not changed and active:
        return None
    before = {k: existing.get(k) for k in changed}
    after = {k: wanted[k] for k in changed}
    if not active:
        kind = "reactivated"
        before["active"], after["active"] = False, True
    elif spec.moves and spec.ref.field in changed:
        kind = "moved"
    else:
        kind = "updated"
    before["code"] = code
    return _Change(int(existing["id"]), code, kind, before, after)


def _by_id(spec: EntityTable[Any], values: dict[str, Any]) -> Any:
    """UPDATE of one row per parameter set, picked by `b_id`."""
    tbl = spec.table
    return update(tbl).where(tbl.c.id == bindparam("b_id")).values(values)


class OrgWriter:
    """One import run in the caller's transaction: load, plan, then (unless a dry run) write."""

    def __init__(self, session: AsyncSession, data: OrgData, progress: Progress) -> None:
        self.s = session
        self.data = data
        self.progress = progress
        self.now: datetime = utcnow()
        self.audit: list[dict[str, Any]] = []
        self.report_tables: dict[str, TableChanges] = {}
        self.loaded: dict[str, dict[str, dict[str, Any]]] = {}  # table -> code -> loaded row
        self.codes: dict[str, dict[int, str]] = {}  # table -> id -> code, as loaded
        self.ids: dict[str, dict[str, int]] = {}  # table -> code -> id, once written
        self.scope_ids: set[int] = set()

    # Loading ---------------------------------------------------------------------------------

    async def load(self) -> None:
        self.progress.phase("op.import.loading")
        for spec in ENTITY_TABLES:
            columns = spec.table.c
            result = await self.s.execute(select(*(columns[c] for c in spec.loaded_columns)))
            rows = [dict(r._mapping) for r in result]
            self.codes[spec.name] = {r["id"]: r["code"] for r in rows}
            ref, ref_code = spec.ref, self.codes[spec.ref.table]
            for r in rows:
                r[ref.field] = ref_code.get(r[ref.column])
            self.loaded[spec.name] = {r["code"]: r for r in rows}
        # Districts in this import that already exist: only their rows may be deactivated.
        units = self.loaded["units"]
        self.scope_ids = {units[c]["id"] for c in self.data.district_codes if c in units}
        n = {name: len(rows) for name, rows in self.loaded.items()}
        self.progress.phase(
            "op.import.loaded",
            units=n["units"],
            branches=n["branches"],
            members=n["members"],
            groups=n["working_groups"],
        )

    def _loaded_ids(self, table: str) -> dict[str, int]:
        return {code: row["id"] for code, row in self.loaded[table].items()}

    # Planning --------------------------------------------------------------------------------

    def plan_all(self) -> dict[str, _TablePlan]:
        """A plan per entity table the file gives (working groups are optional)."""
        return {
            spec.name: self._plan(spec, wanted)
            for spec in ENTITY_TABLES
            if (wanted := spec.rows(self.data)) is not None
        }

    def _plan(self, spec: EntityTable[Any], wanted: Mapping[str, Any]) -> _TablePlan:
        existing = self.loaded[spec.name]
        units, unit_code = self.loaded["units"], self.codes["units"]
        plan = _TablePlan()
        for code, row in wanted.items():
            old = existing.get(code)
            if old is None:
                plan.new.append(row)
                continue
            district = units.get(row.district_code)
            values = spec.fields(row, old)
            if district is None or old["district_id"] != district["id"]:
                values["district_code"] = row.district_code
                old = {**old, "district_code": unit_code.get(old["district_id"])}
            change = _diff(spec, code, values, old)
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
        self.report_tables[spec.name] = changes
        return plan

    # Writing ---------------------------------------------------------------------------------

    async def write_all(self, plans: Mapping[str, _TablePlan]) -> None:
        """Every planned table in write order, then the working-group links."""
        for spec in ENTITY_TABLES:
            if spec.name in plans:
                await self._write(spec, plans[spec.name])
        if "working_groups" in plans:
            await self.plan_links(write=True)

    async def _write(self, spec: EntityTable[Any], plan: _TablePlan) -> None:
        if spec.self_referencing:
            await self._insert(spec, plan.new, resolve=False)
            await self._load_ids(spec, plan)
            ids = self.ids[spec.name]
            touched = [(ids[r.code], r.code) for r in plan.new]
            await self._update(spec, touched + [(c.id, c.code) for c in plan.changes])
            await self._deactivate(spec, plan)
        else:
            later = await self._update(spec, [(c.id, c.code) for c in plan.changes])
            await self._deactivate(spec, plan)
            await self._insert(spec, plan.new)
            await self._load_ids(spec, plan)
            await self._write_later(spec, later)
        rows = spec.rows(self.data) or {}
        unit_ids = self.ids["units"]
        for row in plan.new:
            after = {"code": row.code, **spec.fields(row, None)}
            entity_id = self.ids[spec.name][row.code]
            district_id = unit_ids[row.district_code]
            self._audit(spec.entity_type, "added", entity_id, None, after, district_id)
        for c in plan.changes:
            district_id = unit_ids[rows[c.code].district_code]
            self._audit(spec.entity_type, c.kind, c.id, c.before, c.after, district_id)

    def _columns(
        self, spec: EntityTable[Any], row: Any, old: Mapping[str, Any] | None, resolve: bool
    ) -> dict[str, Any]:
        """Database values of a file row; without `resolve`, references wait (are None)."""
        values = spec.fields(row, old)
        code = values.pop(spec.ref.field)
        if resolve:
            values[spec.ref.column] = self.ids[spec.ref.table][code] if code else None
            values["district_id"] = self.ids["units"][row.district_code]
        else:
            values[spec.ref.column] = values["district_id"] = None
        return values

    async def _insert(self, spec: EntityTable[Any], new: list[Any], resolve: bool = True) -> None:
        if not new:
            return
        now = self.now
        params = [
            {
                "code": r.code,
                **self._columns(spec, r, None, resolve),
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for r in new
        ]
        await self._many("op.import.adding", spec.name, insert(spec.table), params)

    async def _update(
        self, spec: EntityTable[Any], targets: list[tuple[int, str]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Write the file's values over existing rows (reactivating them); returns what
        `spec.later` held back, as (id, final values)."""
        if not targets:
            return []
        rows = spec.rows(self.data) or {}
        loaded = self.loaded[spec.name]
        later: list[tuple[int, dict[str, Any]]] = []
        params = []
        columns: list[str] = []  # the same for every row of a table
        for entity_id, code in targets:
            row, old = rows[code], loaded.get(code)
            values = self._columns(spec, row, old, resolve=True)
            if spec.later is not None and old is not None:
                final = spec.later(row, old, values)
                if final is not None:
                    later.append((entity_id, final))
            columns = list(values)
            params.append(
                {"b_id": entity_id, "b_now": self.now, **{f"b_{k}": v for k, v in values.items()}}
            )
        binds: dict[str, Any] = {k: bindparam(f"b_{k}") for k in columns}
        stmt = _by_id(spec, {**binds, "active": True, "updated_at": bindparam("b_now")})
        await self._many("op.import.updating", spec.name, stmt, params)
        return later

    async def _write_later(
        self, spec: EntityTable[Any], later: list[tuple[int, dict[str, Any]]]
    ) -> None:
        if not later:
            return
        stmt = _by_id(spec, {k: bindparam(f"b_{k}") for k in later[0][1]})
        params = [{"b_id": i, **{f"b_{k}": v for k, v in final.items()}} for i, final in later]
        await self._many("op.import.later", spec.name, stmt, params)

    async def _deactivate(self, spec: EntityTable[Any], plan: _TablePlan) -> None:
        if not plan.deactivate:
            return
        stmt = _by_id(spec, {"active": False, "updated_at": bindparam("b_now")})
        params = [{"b_id": i, "b_now": self.now} for i, _, _ in plan.deactivate]
        await self._many("op.import.deactivating", spec.name, stmt, params)
        for entity_id, code, district_id in plan.deactivate:
            before = {"code": code, "active": True}
            after = {"active": False}
            self._audit(spec.entity_type, "deactivated", entity_id, before, after, district_id)

    async def _load_ids(self, spec: EntityTable[Any], plan: _TablePlan) -> None:
        """code -> id of every row, re-read only when rows were added."""
        if plan.new:
            result = await self.s.execute(select(spec.table.c.code, spec.table.c.id))
            self.ids[spec.name] = {code: id_ for code, id_ in result}
        else:
            self.ids[spec.name] = self._loaded_ids(spec.name)

    async def _many(
        self, key: str, table: str, stmt: Any, params: Sequence[dict[str, Any]]
    ) -> None:
        """executemany in chunks, reporting progress for the large ones."""
        total = len(params)
        for start in range(0, total, CHUNK):
            await self.s.execute(stmt, params[start : start + CHUNK])
            if total > CHUNK:
                self.progress.step(key, min(start + CHUNK, total), total, table=table)

    # Working-group links ---------------------------------------------------------------------

    async def plan_links(self, write: bool) -> None:
        """Make the group→unit and group→member links of the imported groups match the file."""
        groups = self.data.working_groups or {}
        known = self.ids["working_groups"] if write else self._loaded_ids("working_groups")
        group_code = {i: c for c, i in known.items()}
        scope = {known[c] for c in groups if c in known}
        for link in LINK_TABLES:
            tbl, other, other_code = link.table, link.column, self.codes[link.entity]
            other_ids = self.ids[link.entity] if write else self._loaded_ids(link.entity)
            wanted = link.pairs(self.data)
            existing: set[tuple[str, str]] = set()
            existing_ids: dict[tuple[str, str], tuple[int, int]] = {}
            if scope:
                result = await self.s.execute(select(tbl.c.working_group_id, tbl.c[other]))
                for gid, oid in result:
                    if gid in scope:
                        key = (group_code[gid], other_code.get(oid, str(oid)))
                        existing.add(key)
                        existing_ids[key] = (gid, oid)
            added = sorted(wanted - existing)
            removed = sorted(existing - wanted)
            changes = TableChanges(unchanged=len(existing & wanted))
            changes.added = [f"{g}:{o}" for g, o in added]
            changes.removed = [f"{g}:{o}" for g, o in removed]
            self.report_tables[link.name] = changes
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
                await self._many("op.import.removing", link.name, stmt, params)
            if added:
                await self._many(
                    "op.import.adding",
                    link.name,
                    insert(tbl),
                    [{"working_group_id": known[g], other: other_ids[o]} for g, o in added],
                )

    # Audit -----------------------------------------------------------------------------------

    def _audit(
        self,
        entity_type: str,
        action: str,
        entity_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        district_id: int | None,
    ) -> None:
        self.audit.append(
            {
                "action": f"import.{action}",
                "entity_type": entity_type,
                "entity_id": entity_id,
                "before": before,
                "after": after,
                "actor_label": ACTOR_LABEL,
                "district_id": district_id,
            }
        )

    async def write_audit(self, source: str, tables: Mapping[str, TableChanges]) -> None:
        """The per-entity rows gathered while writing, and one summary row per district."""
        counts: dict[str, dict[str, dict[str, int]]] = {
            code: {t: dict.fromkeys(CHANGE_KINDS, 0) for t in tables}
            for code in self.data.district_codes
        }
        for table, changes in tables.items():
            district_of = self._district_lookup(table)
            for kind in CHANGE_KINDS:
                for key in getattr(changes, kind):
                    district = district_of(key.split(":", 1)[0])
                    if district in counts:
                        counts[district][table][kind] += 1
        for code in self.data.district_codes:
            district_id = self.ids["units"][code]
            after = {"source": Path(source).name, "changes": counts[code]}
            self._audit("district", "summary", district_id, None, after, district_id)
        self.progress.phase("op.import.audit", n=len(self.audit))
        await record_many(self.s, self.audit)

    def _district_lookup(self, table: str) -> Callable[[str], str | None]:
        """code -> district code, from the file or (for deactivated rows) from the database."""
        spec = _BY_NAME.get(table, _BY_NAME["working_groups"])  # link keys start with a group
        in_file: Mapping[str, Any] = spec.rows(self.data) or {}
        loaded = self.loaded[spec.name]
        unit_code = self.codes["units"]

        def lookup(code: str) -> str | None:
            row = in_file.get(code)
            if row is not None:
                return str(row.district_code)
            old = loaded.get(code)
            return None if old is None else unit_code.get(old["district_id"])

        return lookup
