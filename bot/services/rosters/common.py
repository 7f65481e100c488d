"""What every roster service shares: the typed error, the quarter, the configuration, and who
may see or change a group's roster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.inputs import typed_quarter
from bot.services.access.policy import Actor, Refused
from bot.services.vn_calendar import VN_TZ, format_quarter, quarter_bounds, quarter_months
from storage.models import WorkingGroup

# Quarters a command or a button may name: far enough for history, never absurd.
YEAR_MIN, YEAR_MAX = 2000, 2100
NOTE_MAX = 1000
PROPOSAL_MAX = 1000
PROPOSALS_MAX = 10


class RosterError(Refused):
    """A roster request refused for a reason the person can read (catalog key + fields)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`2027-Q1` (or `2027Q1`); anything else, or a year out of range, is refused."""
        found = typed_quarter(text or "")
        if found is None:
            raise RosterError("roster.bad_quarter", text=text[:20])
        year, quarter = found
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise RosterError("roster.bad_quarter", text=text[:20])
        return cls(year, quarter)

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        """The typed form (`2027-Q1`), for arguments and logs; people read `label`."""
        return f"{self.year}-Q{self.quarter}"

    def label(self, locale: str | None = "vi") -> str:
        """'quý I/2027' (`format_quarter`)."""
        return format_quarter(self.year, self.quarter, locale)

    @property
    def months(self) -> tuple[int, int, int]:
        return quarter_months(self.quarter)

    @property
    def index(self) -> int:
        """Quarters since year 0: differences count quarters across years."""
        return self.year * 4 + self.quarter - 1

    def shift(self, n: int) -> Quarter:
        i = self.index + n
        return Quarter(i // 4, i % 4 + 1)

    def bounds(self, tz: ZoneInfo = VN_TZ) -> tuple[datetime, datetime]:
        return quarter_bounds(self.year, self.quarter, tz)

    @property
    def first_day(self) -> date:
        return date(self.year, self.months[0], 1)

    @property
    def last_day(self) -> date:
        end_month = self.months[2]
        nxt = date(self.year + (end_month == 12), end_month % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)


@dataclass(frozen=True)
class RosterConfig:
    """Rules an operator may tune."""

    # The draft is made and sent to the group leader this many days before the quarter.
    draft_days_before: int = 10
    # The solver's time budget per group (a district's group solves in milliseconds).
    time_limit: float = 10.0
    # The budget for suggesting meeting moves: proving that no moves give full coverage can
    # take CP-SAT seconds on a crowded district; past this, the draft says none were found.
    moves_time_limit: float = 1.0
    # Rule window for suggested meeting moves: the regular meeting's allowed days of the month.
    window_days: tuple[int, ...] = (3, 4, 5)
    # A visit report is taken from the meeting's start until this many days after.
    report_days: int = 30


DEFAULT_CONFIG = RosterConfig()


def leads_group(actor: Actor, group: WorkingGroup) -> bool:
    return actor.is_admin_of(group.district_id) or any(
        g.group_id == group.id and g.leader for g in actor.groups
    )


def require_leader(actor: Actor, group: WorkingGroup) -> None:
    """Drafts and their changes: the group's leader and the district's committee admins."""
    if not leads_group(actor, group):
        raise RosterError("roster.needs_leader", group=group.name)


def sits_in_group(actor: Actor, group: WorkingGroup) -> bool:
    return leads_group(actor, group) or any(g.group_id == group.id for g in actor.groups)
