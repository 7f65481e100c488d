"""What every feedback service shares: the typed error, limits, configuration, the readable
number, the default categories and departments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.services.access.policy import Refused
from bot.services.vn_calendar import office_deadline
from storage.models.feedback import LevelType

TEXT_MAX = 3000  # an item's text, an answer, a question
REASON_MAX = 1000  # close / reject / reopen reasons
FILES_MAX = 10
FILE_NAME_MAX = 200
PAGE_SIZE = 8

# (code, Vietnamese name, English name): the defaults a district starts with; admins may
# change the list (rows in `feedback_options`).
DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("land", "Đất đai - xây dựng", "Land and construction"),
    ("social", "Chính sách xã hội", "Social policy"),
    ("infra", "Hạ tầng", "Infrastructure"),
    ("security", "An ninh trật tự", "Public order"),
    ("party", "Công tác đảng", "Party work"),
    ("other", "Khác", "Other"),
)
DEFAULT_DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    # {committee}: the level name of the organisation's top committee ("Tỉnh ủy", "Đảng ủy xã").
    ("office", "Văn phòng {committee}", "Committee office"),
    ("organisation", "Ban Tổ chức", "Organisation board"),
    ("inspection", "Ủy ban Kiểm tra", "Inspection commission"),
    ("propaganda", "Ban Tuyên giáo", "Propaganda board"),
    ("mass", "Ban Dân vận", "Mass mobilisation board"),
)


class FeedbackError(Refused):
    """A feedback request refused for a reason the person can read (catalog key + fields)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True)
class FeedbackConfig:
    """Rules an operator may tune."""

    # Time to answer, counted from when the item reached the level.
    answer_time: dict[str, timedelta] = field(
        default_factory=lambda: {
            LevelType.BRANCH: timedelta(days=15),
            LevelType.UNIT: timedelta(days=15),
            LevelType.DISTRICT: timedelta(days=15),
            LevelType.DEPARTMENT: timedelta(days=15),
        }
    )
    # An answer neither accepted nor reopened is closed this long after it was given.
    auto_close_after: timedelta = timedelta(days=30)
    # Shown as "near its deadline" in /inbox this long before it.
    near_deadline: timedelta = timedelta(days=2)
    # How many times an answer may be reopened.
    reopen_limit: int = 1

    def deadline_for(self, level_type: LevelType) -> timedelta:
        return self.answer_time.get(level_type, timedelta(days=15))

    def deadline_at(self, level_type: LevelType, reached: datetime, tz: ZoneInfo) -> datetime:
        """When the level must have answered an item that reached it at `reached`: its time
        to answer later, at the end of that office day (17:00, a working weekday)."""
        return office_deadline(reached, self.deadline_for(level_type), tz)


DEFAULT_CONFIG = FeedbackConfig()


def item_number(year: int, number: int) -> str:
    """KN-2026-0042: per district and year, what people quote on the phone."""
    return f"KN-{year}-{number:04d}"
