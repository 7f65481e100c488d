"""The tables of a sample organisation as they are built, shared by every shape.

A shape (`district.py`, later `modern.py`) decides what units, branches and people exist; this
module hands out what must be unique across the whole organisation (member codes, phone numbers,
Telegram ids and usernames), keeps the rows in the importer's column order and writes them as
the CSV files `python -m bot import-org` reads.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from bot.sample_org.names import full_name
from bot.services.org_import.read import COLUMNS, TABLE_ORDER
from storage.models.org import MemberRole, MemberStatus

# Shares of members with a phone number, with a Telegram account, and of those accounts with a
# public username: most members are reachable, some only by phone, a few not at all.
PHONE_SHARE = 0.96
TELEGRAM_SHARE = 0.88
USERNAME_SHARE = 0.6
PROBATIONARY_SHARE = 0.03
# A branch of this many members or more has a deputy secretary as well.
DEPUTY_FROM = 10
# Telegram user ids of the generated accounts: a ten-digit range recent accounts use.
TELEGRAM_LOW, TELEGRAM_HIGH = 6_000_000_000, 7_999_999_999
MOBILE_PREFIXES = ("3", "5", "7", "8", "9")


def headers(table: str) -> tuple[str, ...]:
    """The importer's columns of `table`, required ones first, so the two never drift."""
    required, optional = COLUMNS[table]
    return required + optional


def ascii_fold(text: str) -> str:
    """ "Nguyễn Thị Lan" -> "nguyen thi lan": usernames are ASCII."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass
class SampleOrg:
    """Rows per table, each a dict keyed by the importer's column names."""

    rng: random.Random
    tables: dict[str, list[dict[str, str]]] = field(
        default_factory=lambda: {table: [] for table in TABLE_ORDER}
    )
    _phones: set[str] = field(default_factory=set)
    _telegram_ids: set[int] = field(default_factory=set)
    _usernames: set[str] = field(default_factory=set)
    _members_in: dict[str, int] = field(default_factory=dict)

    def unit(
        self,
        code: str,
        name: str,
        kind: str,
        parent_code: str = "",
        *,
        level: int | None = None,
        level_name: str = "",
        admin_ids: tuple[int, ...] = (),
    ) -> str:
        """A committee; the 2026 shapes also say its level, its level's name and its admins."""
        self.tables["units"].append(
            {
                "code": code,
                "name": name,
                "kind": kind,
                "parent_code": parent_code,
                "level": "" if level is None else str(level),
                "level_name": level_name,
                "admin_telegram_ids": ";".join(str(i) for i in admin_ids),
            }
        )
        return code

    def admin_id(self) -> int:
        """A Telegram id for a committee admin, unique among the organisation's accounts."""
        return self._telegram_id()

    def branch(
        self, code: str, name: str, unit_code: str, kind: str, day: int, at: str, location: str
    ) -> str:
        self.tables["branches"].append(
            {
                "code": code,
                "name": name,
                "unit_code": unit_code,
                "kind": kind,
                "meeting_day": str(day),
                "meeting_time": at,
                "location": location,
            }
        )
        return code

    def staff(self, branch_code: str, size: int, prefix: str) -> list[str]:
        """A branch's members: its secretary first, a deputy when the branch is large enough."""
        roles = [MemberRole.SECRETARY]
        if size >= DEPUTY_FROM:
            roles.append(MemberRole.DEPUTY_SECRETARY)
        roles += [MemberRole.MEMBER] * (size - len(roles))
        return [self.member(branch_code, role, prefix) for role in roles]

    def member(self, branch_code: str, role: MemberRole, prefix: str) -> str:
        """One invented person; `prefix` (the district's code) keeps member codes unique."""
        rng = self.rng
        number = self._members_in[prefix] = self._members_in.get(prefix, 0) + 1
        code = f"{prefix}M{number:05d}"
        name = full_name(rng)
        phone = self._phone() if rng.random() < PHONE_SHARE else ""
        telegram_id = username = ""
        if rng.random() < TELEGRAM_SHARE:
            telegram_id = str(self._telegram_id())
            if rng.random() < USERNAME_SHARE:
                username = self._username(name, telegram_id)
        status = MemberStatus.OFFICIAL
        if role is MemberRole.MEMBER and rng.random() < PROBATIONARY_SHARE:
            status = MemberStatus.PROBATIONARY
        self.tables["members"].append(
            {
                "code": code,
                "full_name": name,
                "branch_code": branch_code,
                "role": role.value,
                "phone": phone,
                "status": status.value,
                "telegram_id": telegram_id,
                "telegram_username": username,
            }
        )
        return code

    def working_group(
        self,
        code: str,
        name: str,
        committee: str,
        members: list[str],
        units: list[str],
        *,
        visit_kinds: str = "",
        cadence: str = "",
        visitors_per_meeting: int | None = None,
    ) -> str:
        """A group led by its first member, visiting the branches of `units` (of the kinds
        `visit_kinds` names; empty: village and residential)."""
        self.tables["working_groups"].append(
            {
                "code": code,
                "name": name,
                "committee_code": committee,
                "leader_code": members[0],
                "unit_codes": ";".join(units),
                "visit_kinds": visit_kinds,
                "cadence": cadence,
                "visitors_per_meeting": ""
                if visitors_per_meeting is None
                else str(visitors_per_meeting),
            }
        )
        self.tables["working_group_members"].extend(
            {"working_group_code": code, "member_code": m} for m in members
        )
        return code

    def _phone(self) -> str:
        """A Vietnamese mobile number, written nationally (0 + 9 digits), unique."""
        while True:
            digits = f"0{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"
            if digits not in self._phones:
                self._phones.add(digits)
                return digits

    def _username(self, name: str, telegram_id: str) -> str:
        """ "Nguyễn Thị Lan" -> "lannguyen" and digits, as people pick them; unique."""
        family, *_middle, given = ascii_fold(name).split()
        username = f"{given}{family}{telegram_id[-3:]}"
        while username in self._usernames:
            username += str(self.rng.randrange(10))
        self._usernames.add(username)
        return username

    def _telegram_id(self) -> int:
        while True:
            value = self.rng.randint(TELEGRAM_LOW, TELEGRAM_HIGH)
            if value not in self._telegram_ids:
                self._telegram_ids.add(value)
                return value

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.tables.items()}

    def write(self, out_dir: Path) -> None:
        """One `<table>.csv` per table, UTF-8 with a header row, `\\n` line ends."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for table, rows in self.tables.items():
            columns = headers(table)
            with (out_dir / f"{table}.csv").open("w", encoding="utf-8", newline="") as fp:
                writer = csv.writer(fp, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([row.get(c, "") for c in columns] for row in rows)
