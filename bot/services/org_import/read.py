"""Reading and validating an organisation import (CSV folder or one .xlsx workbook).

(Over 400 lines: one validator per file, each needing the others' codes; split, they would
share most of their state through arguments.)

Everything here is pure Python with no database: every row is checked first and every bad row
is reported as `file:line: reason`, so an operator fixes the whole file in one round instead of
discovering errors one write at a time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol

import openpyxl

from bot.inputs import try_int
from bot.services.phones import InvalidPhone, normalize_phone
from storage.models.org import DEFAULT_LEVEL_NAMES, BranchKind, MemberRole, MemberStatus, UnitKind
from storage.models.rosters import Cadence

# Table name -> (required columns, optional columns). File stems / sheet names = table names.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # level: the unit's depth (0 for the top committee), checked against the parent chain;
    # level_name: its level's name as the organisation writes it ("Đảng ủy phường");
    # admin_telegram_ids: the Telegram ids (";"-separated) of the unit's committee admins.
    "units": (
        ("code", "name", "kind", "parent_code"),
        ("level", "level_name", "admin_telegram_ids"),
    ),
    "branches": (
        ("code", "name", "unit_code", "kind", "meeting_day", "meeting_time"),
        # app_invites: yes when the branch also sends invitations through the e-handbook app.
        ("location", "app_invites"),
    ),
    "members": (
        ("code", "full_name", "branch_code", "role"),
        ("phone", "status", "telegram_id", "telegram_username"),
    ),
    # visit_kinds: the branch kinds the group visits (";"-separated or "all"; empty: village and
    # residential); cadence: quarterly (a quarter's first month) or monthly; visitors_per_meeting.
    "working_groups": (
        ("code", "name", "committee_code"),
        ("leader_code", "unit_codes", "visit_kinds", "cadence", "visitors_per_meeting"),
    ),
    "working_group_members": (("working_group_code", "member_code"), ()),
}
REQUIRED_TABLES = ("units", "branches", "members")
BRANCH_KINDS = frozenset(k.value for k in BranchKind)
_YES_NO = {
    "": False,
    "no": False,
    "false": False,
    "0": False,
    "không": False,
    "yes": True,
    "true": True,
    "1": True,
    "có": True,
}
# The visiting cadences a working group row may name, and the program value each means.
CADENCES = {
    "quarterly": Cadence.QUARTER_FIRST_MONTH,
    "quarter_first_month": Cadence.QUARTER_FIRST_MONTH,
    "monthly": Cadence.MONTHLY,
}
TABLE_ORDER = tuple(COLUMNS)
MAX_CODE = 32
MAX_TEXT = 256
MAX_TELEGRAM_ID = 2**52  # Telegram promises ids fit in 52 bits
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")


# Progress callback: (label, done, total).
class StepFn(Protocol):
    """Progress of a long step: a catalog key (`op.import.*`), how far, and its fields."""

    def __call__(self, key: str, done: int, total: int, **params: Any) -> None: ...


class ImportSourceError(Exception):
    """The path is not an import source at all (missing folder, wrong file type)."""


@dataclass(frozen=True)
class RawRow:
    where: str  # "members.csv:12" or "members:12"
    line: int
    values: dict[str, str]


@dataclass
class RawTables:
    """Rows as text, per table, with their locations; `label` names the file for messages."""

    source: str
    rows: dict[str, list[RawRow]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[int, int, str]] = field(default_factory=list)

    def error(self, table: str, line: int, where: str, reason: str) -> None:
        self.errors.append((TABLE_ORDER.index(table), line, f"{where}: {reason}"))


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    kind: str
    parent_code: str | None
    district_code: str  # the code of the organisation's top unit
    level_name: str = ""
    admin_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BranchRow:
    code: str
    name: str
    unit_code: str
    district_code: str
    kind: str
    meeting_day: int
    meeting_time: time
    location: str
    app_invites: bool = False


@dataclass(frozen=True)
class MemberRow:
    code: str
    full_name: str
    phone: str | None
    branch_code: str
    district_code: str
    role: str
    status: str
    telegram_id: int | None
    telegram_username: str | None


@dataclass(frozen=True)
class WorkingGroupRow:
    code: str
    name: str
    district_code: str
    leader_code: str | None
    unit_codes: tuple[str, ...]
    visit_kinds: str = ""
    cadence: Cadence | None = None  # None: the program keeps what it has
    visitors_per_meeting: int | None = None


@dataclass
class OrgData:
    """A validated import: rows keyed by code; working groups only if their files were given."""

    source: str
    units: dict[str, UnitRow] = field(default_factory=dict)
    branches: dict[str, BranchRow] = field(default_factory=dict)
    members: dict[str, MemberRow] = field(default_factory=dict)
    working_groups: dict[str, WorkingGroupRow] | None = None
    working_group_members: set[tuple[str, str]] | None = None

    @property
    def district_codes(self) -> list[str]:
        """The organisations' top units (whatever their level)."""
        return sorted(u.code for u in self.units.values() if u.parent_code is None)

    @property
    def row_count(self) -> int:
        return (
            len(self.units)
            + len(self.branches)
            + len(self.members)
            + len(self.working_groups or {})
            + len(self.working_group_members or ())
        )


# Reading ---------------------------------------------------------------------------------------


def read_source(path: Path, step: StepFn | None = None) -> RawTables:
    """Read a folder of CSV files or one .xlsx workbook into text rows."""
    if path.is_dir():
        return _read_csv_dir(path, step)
    if path.is_file() and path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, step)
    if not path.exists():
        raise ImportSourceError(f"{path}: no such file or folder")
    raise ImportSourceError(
        f"{path}: give a folder with units.csv, branches.csv, members.csv ... or one .xlsx workbook"
    )


def _check_header(
    raw: RawTables, table: str, label: str, header: list[str]
) -> dict[str, int] | None:
    required, _optional = COLUMNS[table]
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raw.error(table, 1, f"{label}:1", f"missing column(s): {', '.join(missing)}")
        return None
    return {name: i for i, name in enumerate(names) if name}


def _read_csv_dir(folder: Path, step: StepFn | None) -> RawTables:
    raw = RawTables(source=str(folder))
    for table in TABLE_ORDER:
        path = folder / f"{table}.csv"
        if not path.is_file():
            continue
        label = path.name
        raw.labels[table] = label
        rows: list[RawRow] = []
        raw.rows[table] = rows
        total = path.stat().st_size
        # Opened in binary and wrapped, so progress can read the byte position of the buffer.
        with path.open("rb") as binary, io.TextIOWrapper(binary, "utf-8-sig", newline="") as fp:
            reader = csv.reader(fp)
            try:
                header = next(reader)
            except StopIteration:
                raw.error(table, 1, f"{label}:1", "empty file (no header row)")
                continue
            index = _check_header(raw, table, label, header)
            if index is None:
                continue
            width = len(header)
            last_line = reader.line_num
            for record in reader:
                line = last_line + 1  # physical line where this record starts
                last_line = reader.line_num
                if not record or all(not cell.strip() for cell in record):
                    continue
                where = f"{label}:{line}"
                if len(record) != width:
                    raw.error(table, line, where, f"expected {width} fields, got {len(record)}")
                    continue
                rows.append(
                    RawRow(where, line, {name: record[i].strip() for name, i in index.items()})
                )
                if step is not None and len(rows) % 20000 == 0:
                    step("op.import.reading", binary.tell(), total, file=label)
    return raw


def _cell_text(value: Any) -> str:
    """Spreadsheet cells arrive typed; turn them back into the CSV text form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.date() == date(1899, 12, 30) or value.date() == date(1899, 12, 31):
            return value.strftime("%H:%M")  # a time-only cell stored as a datetime
        return value.isoformat(sep=" ")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()


def _read_xlsx(path: Path, step: StepFn | None) -> RawTables:
    raw = RawTables(source=str(path))
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ImportSourceError(f"{path}: cannot open the workbook ({exc})") from None
    try:
        sheets = {name.strip().lower(): name for name in workbook.sheetnames}
        for table in TABLE_ORDER:
            if table not in sheets:
                continue
            sheet_name = sheets[table]
            raw.labels[table] = sheet_name
            rows: list[RawRow] = []
            raw.rows[table] = rows
            sheet = workbook[sheet_name]
            iterator: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
            try:
                header_cells = next(iterator)
            except StopIteration:
                raw.error(table, 1, f"{sheet_name}:1", "empty sheet (no header row)")
                continue
            index = _check_header(raw, table, sheet_name, [_cell_text(c) for c in header_cells])
            if index is None:
                continue
            for number, cells in enumerate(iterator, start=2):
                texts = [_cell_text(c) for c in cells]
                if all(not t for t in texts):
                    continue
                values = {name: (texts[i] if i < len(texts) else "") for name, i in index.items()}
                rows.append(RawRow(f"{sheet_name}:{number}", number, values))
                if step is not None and len(rows) % 20000 == 0:
                    step(
                        "op.import.reading", len(rows), sheet.max_row or len(rows), file=sheet_name
                    )
    finally:
        workbook.close()
    return raw


# Validation ------------------------------------------------------------------------------------


def _code(value: str, what: str) -> str | None:
    """A reason the code is bad, or None."""
    if not value:
        return f"{what} is empty"
    if len(value) > MAX_CODE or any(c.isspace() for c in value):
        return f"{what} {value!r} must be 1-{MAX_CODE} characters without spaces"
    return None


def _text(value: str, what: str, required: bool = True) -> str | None:
    if required and not value:
        return f"{what} is empty"
    if len(value) > MAX_TEXT:
        return f"{what} is longer than {MAX_TEXT} characters"
    return None


def _parse_time(value: str) -> time | None:
    match = _TIME.fullmatch(value)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute)


def _choices(enum_values: list[str]) -> str:
    return ", ".join(enum_values)


def validate(raw: RawTables, step: StepFn | None = None) -> tuple[OrgData, list[str]]:
    """Check every row; return the data and every problem as `file:line: reason`."""
    data = OrgData(source=raw.source)
    for table in REQUIRED_TABLES:
        if table not in raw.labels:
            raw.error(table, 0, raw.source, f"{table} is missing (file {table}.csv or sheet)")
    has_groups = "working_groups" in raw.labels
    if has_groups != ("working_group_members" in raw.labels):
        present = "working_groups" if has_groups else "working_group_members"
        absent = "working_group_members" if has_groups else "working_groups"
        raw.error(present, 0, raw.source, f"{present} is given without {absent}; give both")

    unit_rows = _validate_units(raw, data)
    known_branches = _validate_branches(raw, data, unit_rows)
    known_members = _validate_members(raw, data, known_branches, step)
    if has_groups:
        _validate_groups(raw, data, set(unit_rows), known_members, _reporter(raw))
    return data, [message for _, _, message in sorted(raw.errors)]


def _reporter(raw: RawTables) -> Callable[[str, RawRow, str], None]:
    """`err(table, row, reason)`: one problem of a row, kept with its file and line."""

    def err(table: str, row: RawRow, reason: str) -> None:
        raw.error(table, row.line, row.where, reason)

    return err


def _validate_units(raw: RawTables, data: OrgData) -> dict[str, tuple[RawRow, str, str, str]]:
    """Units: first collect, then resolve parents (a parent may come after its child). Every
    unit code seen (even on a bad row, so its children do not cascade), with its row. A unit
    without a parent is the top of its organisation, whatever its kind."""
    unit_kinds = [k.value for k in UnitKind]
    err = _reporter(raw)
    unit_rows: dict[str, tuple[RawRow, str, str, str]] = {}
    extras: dict[str, tuple[str, tuple[int, ...], int | None]] = {}
    for row in raw.rows.get("units", []):
        v = row.values
        code, name, kind, parent = v["code"], v["name"], v["kind"].lower(), v["parent_code"]
        problems = [p for p in (_code(code, "code"), _text(name, "name")) if p]
        if code in unit_rows:
            problems.append(f"duplicate unit code {code} (first on line {unit_rows[code][0].line})")
        if kind not in unit_kinds:
            problems.append(f"unknown unit kind {kind!r} (one of {_choices(unit_kinds)})")
        level_name = v.get("level_name", "")
        if len(level_name) > 64:
            problems.append("level_name is longer than 64 characters")
        level_text = v.get("level", "")
        level = try_int(level_text, lo=0, hi=9) if level_text else None
        if level_text and level is None:
            problems.append(f"bad level {level_text!r} (0 for the top committee, 1 below it, ...)")
        admin_ids: list[int] = []
        for part in v.get("admin_telegram_ids", "").replace(",", ";").split(";"):
            if not part.strip():
                continue
            admin_id = try_int(part.strip(), lo=1, hi=MAX_TELEGRAM_ID - 1)
            if admin_id is None:
                problems.append(f"bad admin_telegram_ids entry {part.strip()!r} (a Telegram id)")
            else:
                admin_ids.append(admin_id)
        if problems:
            for p in problems:
                err("units", row, p)
            if code and code not in unit_rows:
                unit_rows[code] = (row, name, "", parent)  # known code, so children don't cascade
            continue
        unit_rows[code] = (row, name, kind, parent)
        name_of_level = level_name or DEFAULT_LEVEL_NAMES.get(kind, "")
        extras[code] = (name_of_level, tuple(dict.fromkeys(admin_ids)), level)
    for code, (row, name, kind, parent) in unit_rows.items():
        if not kind:
            continue
        district = _district_of(code, unit_rows)
        if parent and parent not in unit_rows:
            err("units", row, f"unknown parent code {parent}")
        elif district is None:
            err("units", row, "not under a top committee (parent chain loops)")
        elif district:  # "" = an ancestor is bad and already reported
            name_of_level, admin_ids_t, level = extras[code]
            depth = _depth(code, unit_rows)
            if level is not None and level != depth:
                err("units", row, f"level {level} does not match its place in the tree ({depth})")
                continue
            data.units[code] = UnitRow(
                code, name, kind, parent or None, district, name_of_level, admin_ids_t
            )

    return unit_rows


def _validate_branches(
    raw: RawTables, data: OrgData, unit_rows: dict[str, tuple[RawRow, str, str, str]]
) -> set[str]:
    """Branches; every branch code seen (good rows or not)."""
    branch_kinds = [k.value for k in BranchKind]
    err = _reporter(raw)
    first_line: dict[str, int] = {}
    for row in raw.rows.get("branches", []):
        v = row.values
        code, name, unit_code, kind = v["code"], v["name"], v["unit_code"], v["kind"].lower()
        location = v.get("location", "")
        problems = [
            p
            for p in (_code(code, "code"), _text(name, "name"), _text(location, "location", False))
            if p
        ]
        if code in first_line:
            problems.append(f"duplicate branch code {code} (first on line {first_line[code]})")
        else:
            first_line[code] = row.line
        unit = data.units.get(unit_code)
        if unit is None and unit_code not in unit_rows:
            problems.append(f"unknown unit code {unit_code!r}")
        if kind not in branch_kinds:
            problems.append(f"unknown branch kind {kind!r} (one of {_choices(branch_kinds)})")
        day_text = v["meeting_day"]
        day = try_int(day_text, hi=31) or 0
        if not 1 <= day <= 31:
            problems.append(f"bad meeting day {day_text!r} (a day of the month, 1-31)")
        meeting_time = _parse_time(v["meeting_time"])
        if meeting_time is None:
            problems.append(f"bad meeting time {v['meeting_time']!r} (HH:MM, 00:00-23:59)")
        app_text = v.get("app_invites", "").strip().lower()
        app_invites = _YES_NO.get(app_text)
        if app_invites is None:
            problems.append(f"bad app_invites {app_text!r} (yes or no, or empty)")
        if problems or unit is None or meeting_time is None:
            for p in problems:
                err("branches", row, p)
            continue
        data.branches[code] = BranchRow(
            code,
            name,
            unit_code,
            unit.district_code,
            kind,
            day,
            meeting_time,
            location,
            bool(app_invites),
        )
    return set(first_line)


def _validate_members(
    raw: RawTables, data: OrgData, known_branches: set[str], step: StepFn | None
) -> set[str]:
    """Members; every member code seen (good rows or not)."""
    roles = [r.value for r in MemberRole]
    statuses = [s.value for s in MemberStatus]
    err = _reporter(raw)
    first_line: dict[str, int] = {}
    secretary_of: dict[str, tuple[str, int]] = {}
    telegram_owner: dict[int, tuple[str, int]] = {}
    rows = raw.rows.get("members", [])
    for done, row in enumerate(rows, start=1):
        if step is not None and done % 20000 == 0:
            step("op.import.validating", done, len(rows), table="members")
        v = row.values
        code, name, branch_code, role = v["code"], v["full_name"], v["branch_code"], v["role"]
        role = role.lower() or MemberRole.MEMBER
        status = (v.get("status") or MemberStatus.OFFICIAL).lower()
        problems = [p for p in (_code(code, "code"), _text(name, "full_name")) if p]
        if code in first_line:
            problems.append(f"duplicate member code {code} (first on line {first_line[code]})")
        else:
            first_line[code] = row.line
        branch = data.branches.get(branch_code)
        if branch is None and branch_code not in known_branches:
            problems.append(f"unknown branch code {branch_code!r}")
        if role not in roles:
            problems.append(f"unknown role {role!r} (one of {_choices(roles)})")
        elif role == MemberRole.SECRETARY and branch_code:
            if branch_code in secretary_of:
                other, line = secretary_of[branch_code]
                problems.append(
                    f"two secretaries in branch {branch_code} ({other} on line {line} is one)"
                )
            else:
                secretary_of[branch_code] = (code, row.line)
        if status not in statuses:
            problems.append(f"unknown status {status!r} (one of {_choices(statuses)})")
        phone: str | None = None
        if v.get("phone"):
            try:
                phone = normalize_phone(v["phone"])
            except InvalidPhone as exc:
                problems.append(f"bad phone: {exc}")
        telegram_id: int | None = None
        tg_text = v.get("telegram_id", "")
        if tg_text:
            parsed = try_int(tg_text, lo=1, hi=MAX_TELEGRAM_ID - 1)
            if parsed is not None:
                telegram_id = parsed
                if telegram_id in telegram_owner:
                    other, line = telegram_owner[telegram_id]
                    problems.append(
                        f"telegram_id {telegram_id} is also given to {other} on line {line}"
                    )
                else:
                    telegram_owner[telegram_id] = (code, row.line)
            else:
                problems.append(f"bad telegram_id {tg_text!r} (a positive whole number)")
        username = v.get("telegram_username", "").lstrip("@") or None
        if username is not None and not _USERNAME.fullmatch(username):
            problems.append(f"bad telegram_username {username!r}")
        if problems or branch is None:
            for p in problems:
                err("members", row, p)
            continue
        data.members[code] = MemberRow(
            code,
            name,
            phone,
            branch_code,
            branch.district_code,
            role,
            status,
            telegram_id,
            username,
        )
    return set(first_line)


def _validate_groups(
    raw: RawTables,
    data: OrgData,
    known_units: set[str],
    known_members: set[str],
    err: Callable[[str, RawRow, str], None],
) -> None:
    groups: dict[str, WorkingGroupRow] = {}
    first_line: dict[str, int] = {}
    for row in raw.rows.get("working_groups", []):
        v = row.values
        code, name, committee = v["code"], v["name"], v["committee_code"]
        leader = v.get("leader_code", "") or None
        unit_codes = tuple(
            dict.fromkeys(c.strip() for c in v.get("unit_codes", "").split(";") if c.strip())
        )
        problems = [p for p in (_code(code, "code"), _text(name, "name")) if p]
        kinds_text = v.get("visit_kinds", "").strip().lower()
        kinds = [k.strip() for k in kinds_text.split(";") if k.strip()]
        if kinds_text != "all" and any(k not in BRANCH_KINDS for k in kinds):
            bad = ", ".join(k for k in kinds if k not in BRANCH_KINDS)
            problems.append(f"unknown branch kind(s) in visit_kinds: {bad} (or 'all')")
        visit_kinds = "all" if kinds_text == "all" else ";".join(dict.fromkeys(kinds))
        cadence_text = v.get("cadence", "").strip().lower()
        cadence = CADENCES.get(cadence_text) if cadence_text else None
        if cadence_text and cadence is None:
            problems.append(f"bad cadence {cadence_text!r} (quarterly or monthly)")
        per_text = v.get("visitors_per_meeting", "").strip()
        per_meeting = try_int(per_text, lo=1, hi=3) if per_text else None
        if per_text and per_meeting is None:
            problems.append(f"bad visitors_per_meeting {per_text!r} (1-3)")
        if code in first_line:
            problems.append(
                f"duplicate working group code {code} (first on line {first_line[code]})"
            )
        else:
            first_line[code] = row.line
        # Any committee may have working groups (a province's, or a commune committee's
        # members who attend its branches' meetings); the group belongs to its organisation.
        owner = data.units.get(committee)
        district = data.units.get(owner.district_code) if owner is not None else None
        if district is None and committee not in known_units:
            problems.append(f"unknown committee code {committee!r} (a unit code)")
        if leader is not None:
            member = data.members.get(leader)
            if member is None and leader not in known_members:
                problems.append(f"unknown leader member code {leader!r}")
            elif (
                member is not None
                and district is not None
                and member.district_code != district.code
            ):
                problems.append(f"leader {leader} belongs to another organisation")
        for unit_code in unit_codes:
            unit = data.units.get(unit_code)
            if unit is None and unit_code not in known_units:
                problems.append(f"unknown unit code {unit_code!r} in unit_codes")
            elif unit is not None and district is not None and unit.district_code != district.code:
                problems.append(f"unit {unit_code} in unit_codes belongs to another organisation")
        if problems or district is None:
            for p in problems:
                err("working_groups", row, p)
            continue
        groups[code] = WorkingGroupRow(
            code, name, district.code, leader, unit_codes, visit_kinds, cadence, per_meeting
        )
    data.working_groups = groups

    pairs: dict[tuple[str, str], int] = {}
    for row in raw.rows.get("working_group_members", []):
        group_code, member_code = row.values["working_group_code"], row.values["member_code"]
        problems = []
        group = groups.get(group_code)
        if group is None and group_code not in first_line:
            problems.append(f"unknown working group code {group_code!r}")
        member = data.members.get(member_code)
        if member is None and member_code not in known_members:
            problems.append(f"unknown member code {member_code!r}")
        elif (
            member is not None and group is not None and member.district_code != group.district_code
        ):
            problems.append(f"member {member_code} belongs to another organisation")
        if (group_code, member_code) in pairs:
            line = pairs[(group_code, member_code)]
            problems.append(f"duplicate membership (first on line {line})")
        else:
            pairs[(group_code, member_code)] = row.line
        for p in problems:
            err("working_group_members", row, p)
    data.working_group_members = set(pairs)


def _district_of(code: str, units: dict[str, tuple[RawRow, str, str, str]]) -> str | None:
    """Walk up to the top committee (the unit without a parent): its code, None on a loop, ""
    when an ancestor is missing or itself bad (that row is reported on its own line, not again
    on every child)."""
    seen: set[str] = set()
    current = code
    while current not in seen:
        if current not in units:
            return ""
        seen.add(current)
        _row, _name, kind, parent = units[current]
        if not kind:
            return ""
        if not parent:
            return current
        current = parent
    return None


def _depth(code: str, units: dict[str, tuple[RawRow, str, str, str]]) -> int:
    """How many parents above the unit (called only on chains known to end at a top)."""
    depth = 0
    parent = units[code][3]
    while parent:
        depth += 1
        parent = units[parent][3]
    return depth
