"""/inbox: the items waiting for the person, newest first, one page at a time.

An inbox holds the levels a person answers for *in private*: the branches they lead (their
members' items start there), and for committee admins every unit, district and department
level of their districts. Someone who acts at a unit only through its linked group chat works
from the cards in that chat, so those items are not theirs here. Answered items waiting for
acceptance are a status of their own: besides the levels' own answers, a secretary sees the
answered items they accept or reopen: their own, and those raised on their branch's behalf.

Filters come from buttons (forgeable): each field is bounded, and a category or unit outside
the person's districts is refused rather than silently ignored.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from bot.inputs import RowId
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.common import (
    DEFAULT_CATEGORIES,
    DEFAULT_CONFIG,
    PAGE_SIZE,
    FeedbackConfig,
    FeedbackError,
    item_number,
)
from bot.services.vn_sort import vn_sorted
from storage.models.feedback import OPEN_STATUSES, FeedbackStatus, OptionKind, RaisedAs
from storage.repositories.feedback_read import FeedbackReadRepository, InboxQuery, InboxScope

_WAITING = OPEN_STATUSES
ANSWERED = FeedbackStatus.ANSWERED  # for handlers, which import no storage module


class InboxStatus(enum.Enum):
    WAITING = "w"  # open, taken or asked: someone at the level still owes an answer
    OPEN = "o"
    TAKEN = "t"
    ASKED = "q"
    ANSWERED = "a"  # answered, waiting for the submitter (or the secretary) to accept


_STATUSES: dict[InboxStatus, frozenset[str]] = {
    InboxStatus.WAITING: _WAITING,
    InboxStatus.OPEN: frozenset({FeedbackStatus.OPEN}),
    InboxStatus.TAKEN: frozenset({FeedbackStatus.TAKEN}),
    InboxStatus.ASKED: frozenset({FeedbackStatus.ASKED}),
    InboxStatus.ANSWERED: frozenset({FeedbackStatus.ANSWERED}),
}


class Due(enum.Enum):
    ANY = "-"
    NEAR = "n"  # past its deadline or within `near_deadline` of it
    OVERDUE = "x"  # past its deadline


class Marker(enum.Enum):
    NONE = "none"
    NEAR = "near"
    OVERDUE = "overdue"


class InboxFilter(BaseModel):
    """What the person narrowed the inbox to (every field bounded: it comes from buttons)."""

    model_config = ConfigDict(frozen=True)

    status: InboxStatus = InboxStatus.WAITING
    category_id: RowId | None = None  # a category option; items carry its code
    unit_id: RowId | None = None  # the branch's unit (commune, town)
    due: Due = Due.ANY


@dataclass(frozen=True)
class InboxLine:
    item_id: int
    number: str  # KN-2026-0042
    branch: str
    unit: str
    category: str  # the code; `InboxPage.category_names` names it
    status: str  # a FeedbackStatus value
    level_type: str
    deadline: datetime
    marker: Marker
    created_at: datetime


@dataclass(frozen=True)
class Choice:
    """A filter button's value: an option or unit id and what it is called."""

    id: int
    name: str
    code: str = ""


@dataclass(frozen=True)
class InboxPage:
    lines: tuple[InboxLine, ...]
    page: int  # 0-based, clamped to the pages there are
    pages: int  # at least 1
    total: int
    filters: InboxFilter
    # False: the person leads no branch and administers no commune or district (nothing can
    # reach them).
    has_levels: bool
    categories: tuple[Choice, ...] = ()
    units: tuple[Choice, ...] = ()  # only for committee admins
    category_names: Mapping[str, str] = field(default_factory=dict)


def scope_of(actor: Actor) -> InboxScope:
    """The person's levels; and, among answered items, those they accept or reopen (as
    `views.speaks_for_submitter` decides: their own, and their branch's own)."""
    led = frozenset(actor.led_branch_ids())
    return InboxScope(
        branch_ids=led,
        # A commune's own admin answers for its committee (`levels.acts_at`): its level's items.
        unit_ids=frozenset(u for _d, u in actor.admin_units),
        districts=frozenset(actor.admin_districts),
        all_districts=actor.bootstrap_admin,
        accept_branch_ids=led,
        accept_raised_as=frozenset({RaisedAs.BRANCH, RaisedAs.VISITOR}),
        submitter_tg=actor.telegram_id,
    )


def _districts_of(actor: Actor) -> frozenset[int] | None:
    """Districts whose categories and units the person's filters may name (None: all)."""
    if actor.bootstrap_admin:
        return None
    led = {m.district_id for m in actor.memberships if m.branch_id in actor.led_branch_ids()}
    communes = {d for d, _u in actor.admin_units}
    return frozenset(actor.admin_districts | led | communes)


def marker(status: str, deadline: datetime, now: datetime, config: FeedbackConfig) -> Marker:
    """Overdue / near its deadline, for items that still wait for an answer."""
    if status not in _WAITING:
        return Marker.NONE
    if deadline < now:
        return Marker.OVERDUE
    if deadline < now + config.near_deadline:
        return Marker.NEAR
    return Marker.NONE


_DEFAULT_EN = {code: (vi, en) for code, vi, en in DEFAULT_CATEGORIES}


def category_label(code: str, names: Mapping[str, str], locale: str) -> str:
    """A category's name for a reader: the stored name, in English for the defaults when the
    reader reads English and the district kept the default name; the code if unknown."""
    name = names.get(code)
    default = _DEFAULT_EN.get(code)
    if default is not None and (name is None or name == default[0]):
        return default[1] if locale == "en" else default[0]
    return name if name is not None else code


async def _choices(
    repo: FeedbackReadRepository, actor: Actor
) -> tuple[tuple[Choice, ...], tuple[Choice, ...], dict[str, str]]:
    districts = _districts_of(actor)
    seen: dict[str, Choice] = {}
    for option in await repo.options(OptionKind.CATEGORY, districts):
        if option.active and option.code not in seen:
            seen[option.code] = Choice(option.id, option.name, option.code)
    names = {c.code: c.name for c in seen.values()}
    units: tuple[Choice, ...] = ()
    if actor.is_any_admin:
        admin = None if actor.bootstrap_admin else actor.admin_districts
        units = tuple(
            Choice(u.id, u.name) for u in vn_sorted(await repo.units(admin), key=lambda u: u.name)
        )
    return tuple(seen.values()), units, names


async def _query(
    repo: FeedbackReadRepository,
    actor: Actor,
    filters: InboxFilter,
    now: datetime,
    config: FeedbackConfig,
) -> InboxQuery:
    districts = _districts_of(actor)
    category = None
    if filters.category_id is not None:
        option = await repo.option(filters.category_id)
        if (
            option is None
            or option.kind != OptionKind.CATEGORY
            or (districts is not None and option.district_id not in districts)
        ):
            raise FeedbackError("fbr.bad_filter")
        category = option.code
    if filters.unit_id is not None:
        unit = (await repo.units_by_id([filters.unit_id])).get(filters.unit_id)
        if unit is None or (districts is not None and unit.district_id not in districts):
            raise FeedbackError("fbr.bad_filter")
    before = {
        Due.ANY: None,
        Due.NEAR: now + config.near_deadline,
        Due.OVERDUE: now,
    }[filters.due]
    return InboxQuery(
        statuses=_STATUSES[filters.status],
        category=category,
        unit_id=filters.unit_id,
        deadline_before=before,
        waiting=_WAITING,
    )


async def inbox(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    filters: InboxFilter,
    page: int,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> InboxPage:
    """One page of the person's inbox; refusals: `fbr.bad_filter` (a category or unit that is
    not theirs to filter by)."""
    repo = FeedbackReadRepository(session)
    scope = scope_of(actor)
    if scope.empty:
        return InboxPage((), 0, 1, 0, filters, has_levels=False)
    now = ctx.now()
    query = await _query(repo, actor, filters, now, config)
    categories, units, names = await _choices(repo, actor)
    total = await repo.inbox_count(scope, query)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = await repo.inbox_page(scope, query, page * PAGE_SIZE, PAGE_SIZE)
    lines = tuple(
        InboxLine(
            item_id=item.id,
            number=item_number(item.year, item.number),
            branch=branch.name,
            unit=unit.name,
            category=item.category,
            status=item.status,
            level_type=item.level_type,
            deadline=item.deadline,
            marker=marker(item.status, item.deadline, now, config),
            created_at=item.created_at,
        )
        for item, branch, unit in rows
    )
    return InboxPage(
        lines,
        page,
        pages,
        total,
        filters,
        has_levels=True,
        categories=categories,
        units=units,
        category_names=names,
    )
