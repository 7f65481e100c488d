"""Organisation import: an idempotent upsert by code of units, branches, members and working
groups, in one transaction.

Entry points and the operator's report live here; reading and validating the files is in
:mod:`bot.services.org_import.read`, the tables as data in :mod:`bot.services.org_import.tables`
and the one table-driven upsert (load, diff, write, audit) in :mod:`bot.services.org_import.write`.

Nothing is ever deleted: a row missing from the import is deactivated, and only within the
districts the import contains, so one district's file never touches another district.
Working-group links (which units a group covers, who is in it) are plain association rows and
are replaced to match the file.

Audit: every added, updated, moved, deactivated or reactivated entity gets its own audit row
(action `import.<change>`, before/after in codes, actor label `import-org`), and each district
gets one `import.summary` row with the counts. Link-table changes are recorded in the summary.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.i18n import create_i18n
from bot.services.context import ServiceContext
from bot.services.meetings.plan import replan_from_rule
from bot.services.org_import.read import OrgData, read_source, validate
from bot.services.org_import.tables import ENTITY_TABLES, LINK_TABLES, TableChanges
from bot.services.org_import.write import OrgWriter, Progress, QuietProgress
from bot.services.rosters.planning import ensure_programs
from storage.models import Branch, CommitteeAdmin, Unit, VisitProgram, WorkingGroup

__all__ = [
    "ImportOutcome",
    "ImportReport",
    "Progress",
    "QuietProgress",
    "TableChanges",
    "apply_org",
    "import_org",
    "load_and_validate",
]


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


def load_and_validate(path: Path, progress: Progress | None = None) -> tuple[OrgData, list[str]]:
    """Read and check the source; no database needed."""
    progress = progress or QuietProgress()
    started = _time.perf_counter()
    raw = read_source(path, progress.step)
    for table, rows in raw.rows.items():
        progress.phase("op.import.read", file=raw.labels[table], rows=len(rows))
    data, errors = validate(raw, progress.step)
    progress.phase(
        "op.import.validated",
        rows=sum(len(r) for r in raw.rows.values()),
        seconds=_time.perf_counter() - started,
        problems=len(errors),
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


async def apply_org(
    session: AsyncSession,
    data: OrgData,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    ctx: ServiceContext | None = None,
) -> ImportReport:
    """Upsert validated data in the caller's transaction; with `dry_run` only compute. A
    branch whose rule changed has its planned meetings replanned (through the meeting-changed
    event, so rosters visiting them follow); `ctx` words the notices that causes."""
    started = _time.perf_counter()
    progress = progress or QuietProgress()
    writer = OrgWriter(session, data, progress)
    await writer.load()
    plans = writer.plan_all()
    report = ImportReport(
        source=data.source, dry_run=dry_run, districts=data.district_codes, rows=data.row_count
    )
    if dry_run:
        if data.working_groups is not None:
            await writer.plan_links(write=False)
    else:
        await writer.write_all(plans)
        # Every imported working group gets the default visiting program.
        await ensure_programs(session)
        await _write_admins_and_programs(session, data)
        await _replan_changed_rules(
            session, writer.report_tables.get("branches"), ctx or _default_ctx()
        )
    names = [t.name for t in ENTITY_TABLES] + [t.name for t in LINK_TABLES]
    report.tables = {n: writer.report_tables[n] for n in names if n in writer.report_tables}
    if not dry_run and report.changed:
        await writer.write_audit(report.source, report.tables)
    report.seconds = _time.perf_counter() - started
    return report


async def _write_admins_and_programs(session: AsyncSession, data: OrgData) -> None:
    """The committee admins a units file names (added or reactivated; admins made in the bot
    stay), and the cadence and crew size a working-group file sets on the group's program."""
    wanted = {u.code: u.admin_ids for u in data.units.values() if u.admin_ids}
    if wanted:
        units = {
            u.code: u for u in await session.scalars(select(Unit).where(Unit.code.in_(wanted)))
        }
        for code, admin_ids in wanted.items():
            unit = units[code]
            assert unit.district_id is not None
            scope = None if unit.id == unit.district_id else unit.id
            for telegram_id in admin_ids:
                admin = await session.scalar(
                    select(CommitteeAdmin).where(
                        CommitteeAdmin.district_id == unit.district_id,
                        CommitteeAdmin.telegram_id == telegram_id,
                        CommitteeAdmin.unit_id.is_(None)
                        if scope is None
                        else CommitteeAdmin.unit_id == scope,
                    )
                )
                if admin is None:
                    session.add(
                        CommitteeAdmin(
                            district_id=unit.district_id, unit_id=scope, telegram_id=telegram_id
                        )
                    )
                else:
                    admin.active = True
    options = {
        g.code: g
        for g in (data.working_groups or {}).values()
        if g.cadence is not None or g.visitors_per_meeting is not None
    }
    if options:
        stmt = (
            select(WorkingGroup.code, VisitProgram)
            .join(VisitProgram, VisitProgram.working_group_id == WorkingGroup.id)
            .where(WorkingGroup.code.in_(options))
        )
        for code, program in await session.execute(stmt):
            row = options[code]
            if row.cadence is not None:
                program.cadence = row.cadence
            if row.visitors_per_meeting is not None:
                program.visitors_per_meeting = row.visitors_per_meeting
    await session.flush()


def _default_ctx() -> ServiceContext:
    return ServiceContext(SystemClock(), create_i18n())


async def _replan_changed_rules(
    session: AsyncSession, changes: TableChanges | None, ctx: ServiceContext
) -> None:
    """Updated or reactivated branches: their planned meetings follow the imported rule."""
    codes = [] if changes is None else [*changes.updated, *changes.moved, *changes.reactivated]
    if not codes:
        return
    branches = await session.scalars(
        select(Branch).where(Branch.code.in_(codes), Branch.active.is_(True))
    )
    for branch in branches.all():
        await replan_from_rule(session, ctx, branch, None)
