"""Queries of the feedback read side: the inbox, the figures and the export.

Kept apart from `storage.repositories.feedback` (the workflow's reads and writes) so the two
can change without touching each other. Reads only; takes a session, never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch, FeedbackEvent, FeedbackItem, FeedbackOption, Unit
from storage.models.feedback import LevelType, OptionKind

# Acts after which an item no longer waits for an answer (until a `reopened`).
SETTLING_ACTIONS = ("answered", "accepted", "closed", "rejected", "auto_closed")


@dataclass(frozen=True)
class InboxScope:
    """Which items a person's inbox may hold, as plain ids (the service decides them).

    `branch_ids`: BRANCH levels (the branches they lead); `unit_ids`: UNIT levels (the communes
    whose own admins they are); `districts`: every non-branch level (unit, district,
    department) of these districts, `all_districts` for bootstrap admins.
    Answered items, wherever they were answered, also when the person accepts or reopens them:
    those of `accept_branch_ids` raised as one of `accept_raised_as` (the secretary speaks for
    the branch), and those `submitter_tg` raised.
    """

    branch_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()
    districts: frozenset[int] = frozenset()
    all_districts: bool = False
    accept_branch_ids: frozenset[int] = frozenset()
    accept_raised_as: frozenset[str] = frozenset()
    submitter_tg: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.branch_ids or self.unit_ids or self.districts or self.all_districts)


@dataclass(frozen=True)
class InboxQuery:
    statuses: frozenset[str]
    category: str | None = None
    unit_id: int | None = None
    deadline_before: datetime | None = None  # only items still waiting for an answer
    waiting: frozenset[str] = frozenset()  # statuses that count as waiting (for the deadline)


@dataclass(frozen=True)
class AnsweredRow:
    item_id: int
    category: str
    unit_id: int
    created_at: datetime
    first_answer: datetime
    on_time: bool | None


@dataclass(frozen=True)
class ItemKey:
    """An item's id and what the figures group it by."""

    item_id: int
    category: str
    unit_id: int


class FeedbackReadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Inbox -------------------------------------------------------------------------------------

    @staticmethod
    def _scope(scope: InboxScope, answered: bool) -> ColumnElement[bool]:
        item = FeedbackItem
        parts: list[ColumnElement[bool]] = []
        if scope.branch_ids:
            parts.append(
                and_(
                    item.level_type == LevelType.BRANCH,
                    item.level_id.in_(sorted(scope.branch_ids)),
                )
            )
        if scope.unit_ids:
            parts.append(
                and_(
                    item.level_type == LevelType.UNIT,
                    item.level_id.in_(sorted(scope.unit_ids)),
                )
            )
        if scope.all_districts:
            parts.append(item.level_type != LevelType.BRANCH)
        elif scope.districts:
            parts.append(
                and_(
                    item.level_type != LevelType.BRANCH,
                    item.district_id.in_(sorted(scope.districts)),
                )
            )
        if answered and scope.accept_branch_ids and scope.accept_raised_as:
            parts.append(
                and_(
                    item.branch_id.in_(sorted(scope.accept_branch_ids)),
                    item.raised_as.in_(sorted(scope.accept_raised_as)),
                )
            )
        if answered and scope.submitter_tg is not None:
            parts.append(item.raised_by_tg == scope.submitter_tg)
        return or_(*parts) if parts else false()

    def _inbox_where(self, scope: InboxScope, query: InboxQuery) -> list[ColumnElement[bool]]:
        item = FeedbackItem
        answered = any(s not in query.waiting for s in query.statuses)
        where = [self._scope(scope, answered), item.status.in_(sorted(query.statuses))]
        if query.category is not None:
            where.append(item.category == query.category)
        if query.unit_id is not None:
            where.append(item.unit_id == query.unit_id)
        if query.deadline_before is not None:
            where.append(item.status.in_(sorted(query.waiting)))
            where.append(item.deadline < query.deadline_before)
        return where

    async def inbox_count(self, scope: InboxScope, query: InboxQuery) -> int:
        stmt = select(func.count(FeedbackItem.id)).where(*self._inbox_where(scope, query))
        return int(await self.session.scalar(stmt) or 0)

    async def inbox_page(
        self, scope: InboxScope, query: InboxQuery, offset: int, limit: int
    ) -> list[tuple[FeedbackItem, Branch, Unit]]:
        """Newest first (then the higher id, for items raised in the same instant)."""
        stmt = (
            select(FeedbackItem, Branch, Unit)
            .join(Branch, Branch.id == FeedbackItem.branch_id)
            .join(Unit, Unit.id == FeedbackItem.unit_id)
            .where(*self._inbox_where(scope, query))
            .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [(i, b, u) for i, b, u in (await self.session.execute(stmt)).all()]

    # Organisation and options -----------------------------------------------------------------

    async def districts(self, ids: Collection[int] | None = None) -> list[Unit]:
        """Active districts (committees), all of them when `ids` is None."""
        stmt = select(Unit).where(Unit.id == Unit.district_id, Unit.active).order_by(Unit.code)
        if ids is not None:
            stmt = stmt.where(Unit.id.in_(sorted(ids)))
        return list(await self.session.scalars(stmt))

    async def units(self, district_ids: Collection[int] | None) -> list[Unit]:
        """The units below the districts (communes, towns), by name; None: every district."""
        stmt = select(Unit).where(Unit.id != Unit.district_id, Unit.active)
        if district_ids is not None:
            stmt = stmt.where(Unit.district_id.in_(sorted(district_ids)))
        return list(await self.session.scalars(stmt.order_by(Unit.name, Unit.id)))

    async def units_by_id(self, ids: Collection[int]) -> dict[int, Unit]:
        if not ids:
            return {}
        stmt = select(Unit).where(Unit.id.in_(sorted(ids)))
        return {u.id: u for u in await self.session.scalars(stmt)}

    async def branches_by_id(self, ids: Collection[int]) -> dict[int, Branch]:
        if not ids:
            return {}
        stmt = select(Branch).where(Branch.id.in_(sorted(ids)))
        return {b.id: b for b in await self.session.scalars(stmt)}

    async def options(
        self, kind: OptionKind, district_ids: Collection[int] | None
    ) -> list[FeedbackOption]:
        """A kind's options of the districts (inactive ones too: old items still name them)."""
        stmt = select(FeedbackOption).where(FeedbackOption.kind == kind)
        if district_ids is not None:
            stmt = stmt.where(FeedbackOption.district_id.in_(sorted(district_ids)))
        stmt = stmt.order_by(FeedbackOption.district_id, FeedbackOption.position, FeedbackOption.id)
        return list(await self.session.scalars(stmt))

    async def option(self, option_id: int) -> FeedbackOption | None:
        return await self.session.get(FeedbackOption, option_id)

    async def options_by_id(self, ids: Collection[int]) -> dict[int, FeedbackOption]:
        if not ids:
            return {}
        stmt = select(FeedbackOption).where(FeedbackOption.id.in_(sorted(ids)))
        return {o.id: o for o in await self.session.scalars(stmt)}

    # Figures ----------------------------------------------------------------------------------

    async def received(self, district_id: int, start: datetime, end: datetime) -> list[ItemKey]:
        """Items raised in [start, end)."""
        item = FeedbackItem
        stmt = select(item.id, item.category, item.unit_id).where(
            item.district_id == district_id, item.created_at >= start, item.created_at < end
        )
        return [ItemKey(*row) for row in (await self.session.execute(stmt)).all()]

    async def first_answers(
        self, district_id: int, start: datetime, end: datetime
    ) -> list[AnsweredRow]:
        """Items whose first `answered` event falls in [start, end)."""
        item, event = FeedbackItem, FeedbackEvent
        first = (
            select(event.item_id.label("item_id"), func.min(event.at).label("at"))
            .join(item, item.id == event.item_id)
            .where(event.action == "answered", item.district_id == district_id)
            .group_by(event.item_id)
            .subquery()
        )
        stmt = (
            select(
                item.id,
                item.category,
                item.unit_id,
                item.created_at,
                first.c.at,
                item.answered_on_time,
            )
            .join(first, first.c.item_id == item.id)
            .where(first.c.at >= start, first.c.at < end)
        )
        return [AnsweredRow(*row) for row in (await self.session.execute(stmt)).all()]

    async def reopened(self, district_id: int, start: datetime, end: datetime) -> list[ItemKey]:
        """Items reopened in [start, end), each once."""
        item, event = FeedbackItem, FeedbackEvent
        stmt = (
            select(item.id, item.category, item.unit_id)
            .join(event, event.item_id == item.id)
            .where(
                item.district_id == district_id,
                event.action == "reopened",
                event.at >= start,
                event.at < end,
            )
            .distinct()
        )
        return [ItemKey(*row) for row in (await self.session.execute(stmt)).all()]

    async def waiting_at(self, district_id: int, at: datetime) -> list[ItemKey]:
        """Items raised before `at` that were waiting for an answer at `at`: no settling act
        yet, or reopened after the last one (read from the events, not today's status)."""
        item, event = FeedbackItem, FeedbackEvent
        settled = func.max(
            case((and_(event.action.in_(SETTLING_ACTIONS), event.at < at), event.at))
        ).label("settled")
        again = func.max(case((and_(event.action == "reopened", event.at < at), event.at))).label(
            "again"
        )
        stmt = (
            select(item.id, item.category, item.unit_id, settled, again)
            .outerjoin(event, event.item_id == item.id)
            .where(item.district_id == district_id, item.created_at < at)
            .group_by(item.id, item.category, item.unit_id)
        )
        out = []
        for item_id, category, unit_id, done, reopened in (await self.session.execute(stmt)).all():
            if done is None or (reopened is not None and reopened > done):
                out.append(ItemKey(item_id, category, unit_id))
        return out

    # Export -----------------------------------------------------------------------------------

    async def period_items(
        self, district_id: int, start: datetime, end: datetime
    ) -> list[tuple[FeedbackItem, Branch, Unit, datetime | None]]:
        """Items raised in [start, end), oldest first (the order of their numbers), each with
        the time of its first answer (None: never answered)."""
        item, event = FeedbackItem, FeedbackEvent
        first = (
            select(event.item_id.label("item_id"), func.min(event.at).label("at"))
            .join(item, item.id == event.item_id)
            .where(
                event.action == "answered",
                item.district_id == district_id,
                item.created_at >= start,
                item.created_at < end,
            )
            .group_by(event.item_id)
            .subquery()
        )
        stmt = (
            select(item, Branch, Unit, first.c.at)
            .join(Branch, Branch.id == item.branch_id)
            .join(Unit, Unit.id == item.unit_id)
            .outerjoin(first, first.c.item_id == item.id)
            .where(item.district_id == district_id, item.created_at >= start, item.created_at < end)
            .order_by(item.created_at, item.id)
        )
        return [(i, b, u, at) for i, b, u, at in (await self.session.execute(stmt)).all()]
