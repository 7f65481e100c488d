"""The feedback figures of a district and a period, computed from the items' events.

One service for `/feedback_stats` and for the reports feature, so the two can never disagree:
plain numbers and names, no text, no aiogram. What is counted:

- received: items raised in the period;
- answered: items whose *first* answer falls in the period (a second answer after a reopen is
  not a second answered item); on time / late: that first answer against the deadline of the
  level that gave it (`FeedbackItem.answered_on_time`, set when it was given; an answer without
  the mark counts as late, so on time + late = answered);
- open: items raised before the period's end that were waiting for an answer at its end (no
  answer, close or rejection yet, or reopened since): the stock the period leaves behind, read
  from the events so a past period's figure does not change with today's statuses;
- reopened: items reopened in the period;
- median time to answer: from raising to the first answer, over the items answered in the
  period.
Each figure also by category and by unit (the branch's unit).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.inputs import typed_month, typed_quarter, typed_year
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.common import FeedbackError
from bot.services.vn_calendar import VN_TZ, month_bounds, quarter_bounds
from bot.services.vn_sort import vn_key
from storage.models import Unit
from storage.models.feedback import OptionKind
from storage.repositories.feedback_read import FeedbackReadRepository, ItemKey

YEAR_MIN, YEAR_MAX = 2000, 2100
_YEAR_WORDS = frozenset({"năm", "nam", "year"})


@dataclass(frozen=True)
class Period:
    """A year, a quarter of it or a month of it (at most one of the two)."""

    year: int
    quarter: int | None = None
    month: int | None = None

    def __post_init__(self) -> None:
        if (
            not YEAR_MIN <= self.year <= YEAR_MAX
            or self.quarter not in (None, 1, 2, 3, 4)
            or (self.month is not None and not 1 <= self.month <= 12)
            or (self.quarter is not None and self.month is not None)
        ):
            raise FeedbackError("fbr.bad_period", text=str(self.year)[:20])

    def bounds(self, tz: ZoneInfo = VN_TZ) -> tuple[datetime, datetime]:
        """[start, end) as aware UTC datetimes of local midnights."""
        if self.month is not None:
            return month_bounds(self.year, self.month, tz)
        if self.quarter is not None:
            return quarter_bounds(self.year, self.quarter, tz)
        return quarter_bounds(self.year, 1, tz)[0], quarter_bounds(self.year, 4, tz)[1]

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year}-{self.month:02d}"
        if self.quarter is not None:
            return f"{self.year}-Q{self.quarter}"
        return str(self.year)


def parse_period(text: str, today: date) -> Period:
    """What follows `/feedback_stats`: nothing (this quarter), `2026-Q4` (or `2026Q4`), `2026`,
    `năm`/`year` (this year), `2026-11` or `11/2026` (a month). Anything else: `fbr.bad_period`.
    """
    raw = unicodedata.normalize("NFC", text or "").strip().lower()
    bad = FeedbackError("fbr.bad_period", text=(text or "")[:20])
    if not raw:
        return Period(today.year, (today.month - 1) // 3 + 1)
    if raw in _YEAR_WORDS:
        return Period(today.year)
    try:
        if (year := typed_year(raw)) is not None:
            return Period(year)
        if (quarter := typed_quarter(raw)) is not None:
            return Period(*quarter)
        if (month := typed_month(raw)) is not None:
            return Period(month[0], month=month[1])
    except FeedbackError:
        raise bad from None
    raise bad


@dataclass(frozen=True)
class Figures:
    received: int = 0
    answered: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    reopened: int = 0


@dataclass(frozen=True)
class CategoryFigures:
    code: str
    name: str  # as the district stored it (`inbox.category_label` translates the defaults)
    figures: Figures


@dataclass(frozen=True)
class UnitFigures:
    unit_id: int
    name: str
    figures: Figures


@dataclass(frozen=True)
class FeedbackStats:
    district_id: int
    start: datetime
    end: datetime
    as_of: datetime  # when "open" is read: the period's end, or now for a running period
    total: Figures
    by_category: tuple[CategoryFigures, ...]  # categories with any figure, in list order
    by_unit: tuple[UnitFigures, ...]  # units with any figure, by name
    median_answer: timedelta | None  # None: nothing answered in the period


def median(values: Iterable[timedelta]) -> timedelta | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


class _Tally:
    """Figures being counted, in total and per category and unit."""

    def __init__(self) -> None:
        self.total = Figures()
        self.categories: dict[str, Figures] = {}
        self.units: dict[int, Figures] = {}

    def add(self, key: ItemKey, bump: Callable[[Figures], Figures]) -> None:
        self.total = bump(self.total)
        self.categories[key.category] = bump(self.categories.get(key.category, Figures()))
        self.units[key.unit_id] = bump(self.units.get(key.unit_id, Figures()))


def _plus(**fields: int) -> Callable[[Figures], Figures]:
    def bump(f: Figures) -> Figures:
        return replace(f, **{k: getattr(f, k) + v for k, v in fields.items()})

    return bump


async def stats(
    session: AsyncSession, district_id: int, start: datetime, end: datetime, now: datetime
) -> FeedbackStats:
    """The figures of one district for [start, end); `now` caps a running period, so "open"
    is today's stock rather than a guess about the future."""
    repo = FeedbackReadRepository(session)
    as_of = min(end, now)
    tally = _Tally()
    for key in await repo.received(district_id, start, end):
        tally.add(key, _plus(received=1))
    times = []
    for row in await repo.first_answers(district_id, start, end):
        key = ItemKey(row.item_id, row.category, row.unit_id)
        on_time = row.on_time is True
        tally.add(key, _plus(answered=1, on_time=int(on_time), late=int(not on_time)))
        times.append(row.first_answer - row.created_at)
    for key in await repo.reopened(district_id, start, end):
        tally.add(key, _plus(reopened=1))
    for key in await repo.waiting_at(district_id, as_of):
        tally.add(key, _plus(open=1))

    options = await repo.options(OptionKind.CATEGORY, [district_id])
    order = {o.code: (i, o.name) for i, o in enumerate(options)}
    by_category = tuple(
        CategoryFigures(code, order.get(code, (0, code))[1], figures)
        for code, figures in sorted(
            tally.categories.items(), key=lambda kv: (order.get(kv[0], (len(order), ""))[0], kv[0])
        )
    )
    units: dict[int, Unit] = await repo.units_by_id(tally.units)
    by_unit = tuple(
        sorted(
            (
                UnitFigures(uid, units[uid].name if uid in units else str(uid), figures)
                for uid, figures in tally.units.items()
            ),
            key=lambda u: (vn_key(u.name), u.unit_id),
        )
    )
    return FeedbackStats(
        district_id=district_id,
        start=start,
        end=end,
        as_of=as_of,
        total=tally.total,
        by_category=by_category,
        by_unit=by_unit,
        median_answer=median(times),
    )


@dataclass(frozen=True)
class DistrictStats:
    district_id: int
    code: str
    name: str
    stats: FeedbackStats


async def admin_districts(session: AsyncSession, actor: Actor) -> list[Unit]:
    """The districts whose figures the person may read: those they administer (bootstrap
    admins: every district); anyone else is refused with `fbr.not_allowed`."""
    if not actor.is_any_admin:
        raise FeedbackError("fbr.not_allowed")
    repo = FeedbackReadRepository(session)
    return await repo.districts(None if actor.bootstrap_admin else actor.admin_districts)


async def require_admin_of(session: AsyncSession, actor: Actor, district_id: int) -> Unit:
    """The district, if the person administers it (ids from buttons are never trusted)."""
    if not actor.is_admin_of(district_id):
        raise FeedbackError("fbr.not_allowed")
    found = await FeedbackReadRepository(session).districts([district_id])
    if not found:
        raise FeedbackError("fbr.not_allowed")
    return found[0]


async def stats_for(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, text: str
) -> tuple[Period, list[DistrictStats]]:
    """`/feedback_stats [period]`: each district the person administers, for the period they
    typed. Who asks is checked before what they typed (`fbr.not_allowed`, then
    `fbr.bad_period`), so a non-admin learns nothing from trying periods."""
    districts = await admin_districts(session, actor)
    period = parse_period(text, ctx.today())
    start, end = period.bounds(ctx.tz)
    out = []
    for district in districts:
        figures = await stats(session, district.id, start, end, ctx.now())
        out.append(DistrictStats(district.id, district.code, district.name, figures))
    return period, out
