"""Queries for feedback items: options, numbers, items, files, events, cards, and the bits of the
organisation, meetings and visits the feedback services read.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    FeedbackCard,
    FeedbackCounter,
    FeedbackEvent,
    FeedbackFile,
    FeedbackItem,
    FeedbackOption,
    HeardProposal,
    Meeting,
    MeetingReport,
    Member,
    OutboxEntry,
    Roster,
    RosterVisit,
    Unit,
    VisitProgram,
    WorkingGroup,
)
from storage.models.feedback import FeedbackSource, FeedbackStatus, OptionKind
from storage.models.org import LEADER_ROLES, TargetType
from storage.repositories.users import dialect_insert


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Options (categories, departments) ------------------------------------------------------

    async def options(
        self, district_id: int, kind: OptionKind, *, active_only: bool = True
    ) -> list[FeedbackOption]:
        stmt = select(FeedbackOption).where(
            FeedbackOption.district_id == district_id, FeedbackOption.kind == kind
        )
        if active_only:
            stmt = stmt.where(FeedbackOption.active.is_(True))
        stmt = stmt.order_by(FeedbackOption.position, FeedbackOption.id)
        return list((await self.session.scalars(stmt)).all())

    async def seed_options(
        self, district_id: int, kind: str, rows: Sequence[tuple[str, str]]
    ) -> None:
        """Insert (code, name) options that do not exist yet; a concurrent seeding of the same
        district is harmless (ON CONFLICT DO NOTHING on the unique code)."""
        insert = dialect_insert(self.session)
        values = [
            {
                "district_id": district_id,
                "kind": kind,
                "code": code,
                "name": name,
                "position": i,
                "active": True,
            }
            for i, (code, name) in enumerate(rows)
        ]
        if values:
            stmt = insert(FeedbackOption).values(values)
            await self.session.execute(
                stmt.on_conflict_do_nothing(index_elements=["district_id", "kind", "code"])
            )

    async def option(self, option_id: int) -> FeedbackOption | None:
        return await self.session.get(FeedbackOption, option_id)

    # Readable numbers -----------------------------------------------------------------------

    async def next_number(self, district_id: int, year: int) -> int:
        """The next number of the district's year, in the caller's transaction.

        One upsert: the row is created or incremented atomically and stays locked until the
        transaction ends (PostgreSQL row lock; SQLite has one writer), so two raises at the
        same moment never get the same number."""
        insert = dialect_insert(self.session)
        stmt = (
            insert(FeedbackCounter)
            .values(district_id=district_id, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["district_id", "year"],
                set_={"last": FeedbackCounter.last + 1},
            )
            .returning(FeedbackCounter.last)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    # Items -----------------------------------------------------------------------------------

    async def item(self, item_id: int, *, for_update: bool = False) -> FeedbackItem | None:
        if not for_update:
            return await self.session.get(FeedbackItem, item_id)
        stmt = (
            select(FeedbackItem)
            .where(FeedbackItem.id == item_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).first()

    async def add_item(self, item: FeedbackItem, files: Sequence[FeedbackFile]) -> FeedbackItem:
        self.session.add(item)
        await self.session.flush()
        for f in files:
            f.item_id = item.id
            self.session.add(f)
        return item

    async def add_event(self, event: FeedbackEvent) -> FeedbackEvent:
        """The event, flushed: its id names the notices it causes (dedupe keys)."""
        self.session.add(event)
        await self.session.flush()
        return event

    async def files(self, item_id: int) -> list[FeedbackFile]:
        stmt = select(FeedbackFile).where(FeedbackFile.item_id == item_id)
        return list((await self.session.scalars(stmt.order_by(FeedbackFile.id))).all())

    async def events(self, item_id: int) -> list[FeedbackEvent]:
        stmt = select(FeedbackEvent).where(FeedbackEvent.item_id == item_id)
        return list((await self.session.scalars(stmt.order_by(FeedbackEvent.id))).all())

    async def by_source(
        self, source_type: FeedbackSource, source_id: int, source_index: int | None
    ) -> FeedbackItem | None:
        stmt = select(FeedbackItem).where(
            FeedbackItem.source_type == source_type, FeedbackItem.source_id == source_id
        )
        if source_index is not None:
            stmt = stmt.where(FeedbackItem.source_index == source_index)
        return (await self.session.scalars(stmt.order_by(FeedbackItem.id))).first()

    async def converted(self, source_type: FeedbackSource, source_id: int) -> dict[int, int]:
        """source index -> item id, for the proposals of one report already turned into items."""
        stmt = select(FeedbackItem.source_index, FeedbackItem.id).where(
            FeedbackItem.source_type == source_type, FeedbackItem.source_id == source_id
        )
        return {
            int(i): item_id
            for i, item_id in (await self.session.execute(stmt)).all()
            if i is not None
        }

    async def open_due(self, until: datetime, since: datetime | None = None) -> list[FeedbackItem]:
        """Items still waiting at a level whose deadline is at or before `until` (and after
        `since` when given), earliest first."""
        stmt = select(FeedbackItem).where(
            FeedbackItem.status.in_(
                [FeedbackStatus.OPEN, FeedbackStatus.TAKEN, FeedbackStatus.ASKED]
            ),
            FeedbackItem.deadline <= until,
        )
        if since is not None:
            stmt = stmt.where(FeedbackItem.deadline > since)
        stmt = stmt.order_by(FeedbackItem.deadline, FeedbackItem.id)
        return list((await self.session.scalars(stmt)).all())

    async def answered_before(self, cutoff: datetime) -> list[FeedbackItem]:
        """Answered items nobody accepted or reopened since `cutoff`, locked for closing."""
        stmt = (
            select(FeedbackItem)
            .where(
                FeedbackItem.status == FeedbackStatus.ANSWERED,
                FeedbackItem.answered_at <= cutoff,
            )
            .order_by(FeedbackItem.id)
            .with_for_update()
        )
        return list((await self.session.scalars(stmt)).all())

    async def count_items(self) -> int:
        return int(await self.session.scalar(select(func.count(FeedbackItem.id))) or 0)

    # Cards -----------------------------------------------------------------------------------

    async def card(self, item_id: int, chat_id: int) -> FeedbackCard | None:
        stmt = select(FeedbackCard).where(
            FeedbackCard.item_id == item_id, FeedbackCard.chat_id == chat_id
        )
        return (await self.session.scalars(stmt)).first()

    async def save_card(
        self, item_id: int, chat_id: int, outbox_id: int, version: int, now: datetime
    ) -> None:
        """Remember the card queued to a level's chat (one row per item and chat: a card queued
        again, after a reopen or a return, replaces the old one)."""
        card = await self.card(item_id, chat_id)
        if card is None:
            self.session.add(
                FeedbackCard(
                    item_id=item_id,
                    chat_id=chat_id,
                    outbox_id=outbox_id,
                    version=version,
                    created_at=now,
                )
            )
        else:
            card.outbox_id, card.version, card.message_id = outbox_id, version, None

    async def private_cards(self, item_id: int) -> list[tuple[int, int]]:
        """(chat, message) of the item's cards delivered in private chats, the newest per
        chat: the copies a level's people hold (a branch's secretary and deputies, the admins
        of a level without a chat)."""
        stmt = (
            select(OutboxEntry.chat_id, OutboxEntry.telegram_message_id)
            .where(
                OutboxEntry.origin_type == "feedback",
                OutboxEntry.origin_id == str(item_id),
                OutboxEntry.dedupe_key.like(f"fb:{item_id}:e%:card:%"),
                OutboxEntry.telegram_message_id.is_not(None),
                OutboxEntry.chat_id > 0,
            )
            .order_by(OutboxEntry.id)
        )
        newest: dict[int, int] = {}
        for chat_id, message_id in await self.session.execute(stmt):
            if message_id is not None:  # the query asks for delivered rows only
                newest[int(chat_id)] = int(message_id)
        return list(newest.items())

    # Organisation ----------------------------------------------------------------------------

    async def branch(self, branch_id: int) -> Branch | None:
        return await self.session.get(Branch, branch_id)

    async def branches(self, ids: Iterable[int]) -> dict[int, Branch]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        stmt = select(Branch).where(Branch.id.in_(wanted))
        return {b.id: b for b in await self.session.scalars(stmt)}

    async def visited_branches_of_units(
        self, unit_ids: Iterable[int], kinds: Iterable[str]
    ) -> list[Branch]:
        units, wanted = list(set(unit_ids)), [str(k) for k in kinds]
        if not units:
            return []
        stmt = select(Branch).where(
            Branch.unit_id.in_(units), Branch.kind.in_(wanted), Branch.active.is_(True)
        )
        return list((await self.session.scalars(stmt.order_by(Branch.name, Branch.id))).all())

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.session.get(Unit, unit_id)

    async def units_of_district(self, district_id: int) -> list[Unit]:
        """The district's active units below the committee itself."""
        stmt = select(Unit).where(
            Unit.district_id == district_id, Unit.id != district_id, Unit.active.is_(True)
        )
        return list((await self.session.scalars(stmt.order_by(Unit.name, Unit.id))).all())

    async def chat_of(self, target_type: TargetType, target_id: int) -> int | None:
        stmt = select(ChatBinding.chat_id).where(
            ChatBinding.target_type == target_type,
            ChatBinding.target_id == target_id,
            ChatBinding.active.is_(True),
        )
        return (await self.session.scalars(stmt)).first()

    async def chats_of(self, target_type: TargetType, target_ids: Iterable[int]) -> dict[int, int]:
        """target id -> its active group chat, for the targets that have one."""
        wanted = list(set(target_ids))
        if not wanted:
            return {}
        stmt = select(ChatBinding.target_id, ChatBinding.chat_id).where(
            ChatBinding.target_type == target_type,
            ChatBinding.target_id.in_(wanted),
            ChatBinding.active.is_(True),
        )
        return {t: c for t, c in (await self.session.execute(stmt)).all()}

    async def admin_ids(self, district_id: int, unit_id: int | None = None) -> list[int]:
        """The district's admins, and (for a unit's level) that commune's own admins first."""
        scope: ColumnElement[bool] = CommitteeAdmin.unit_id.is_(None)
        if unit_id is not None:
            scope = or_(scope, CommitteeAdmin.unit_id == unit_id)
        stmt = (
            select(CommitteeAdmin.telegram_id)
            .where(
                CommitteeAdmin.district_id == district_id,
                CommitteeAdmin.active.is_(True),
                scope,
            )
            .order_by(CommitteeAdmin.unit_id.is_(None), CommitteeAdmin.id)
        )
        return list(dict.fromkeys((await self.session.scalars(stmt)).all()))

    async def branch_leaders(self, branch_id: int) -> list[Member]:
        """Secretary first, then deputies."""
        stmt = (
            select(Member)
            .where(
                Member.branch_id == branch_id,
                Member.active.is_(True),
                Member.role.in_(LEADER_ROLES),
            )
            .order_by(Member.role.desc(), Member.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def member(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    # Reports the proposals come from ---------------------------------------------------------

    async def meeting(self, meeting_id: int, *, for_update: bool = False) -> Meeting | None:
        stmt = select(Meeting).where(Meeting.id == meeting_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def current_report(self, meeting_id: int) -> MeetingReport | None:
        stmt = (
            select(MeetingReport)
            .where(MeetingReport.meeting_id == meeting_id)
            .order_by(MeetingReport.version.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def heard(self, heard_id: int, *, for_update: bool = False) -> HeardProposal | None:
        stmt = select(HeardProposal).where(HeardProposal.id == heard_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def heard_of_visit(self, visit_id: int) -> list[HeardProposal]:
        stmt = select(HeardProposal).where(HeardProposal.visit_id == visit_id)
        return list((await self.session.scalars(stmt.order_by(HeardProposal.id))).all())

    async def visit(self, visit_id: int) -> RosterVisit | None:
        return await self.session.get(RosterVisit, visit_id)

    async def group_leader_of_roster(self, roster_id: int) -> int | None:
        """The member id leading the working group whose roster this is."""
        stmt = (
            select(WorkingGroup.leader_member_id)
            .join(VisitProgram, VisitProgram.working_group_id == WorkingGroup.id)
            .join(Roster, Roster.program_id == VisitProgram.id)
            .where(Roster.id == roster_id)
        )
        return (await self.session.scalars(stmt)).first()
