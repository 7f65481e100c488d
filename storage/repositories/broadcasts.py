"""Queries for broadcasts: who an audience names (branches, their chats and secretaries, units,
working groups), the broadcasts and their recipients, and each recipient's outcome as the
outbox knows it.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    Broadcast,
    BroadcastRecipient,
    ChatBinding,
    Member,
    OutboxEntry,
    TelegramUser,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.broadcasts import QUEUED_STATUSES, BroadcastStatus, RecipientState
from storage.models.org import MemberRole
from storage.models.outbox import OutboxState

# Outbox outcomes and the recipient state each one means (the names match on purpose).
OUTCOMES = {
    OutboxState.SENT: RecipientState.SENT,
    OutboxState.FAILED: RecipientState.FAILED,
    OutboxState.MAYBE_SENT: RecipientState.MAYBE_SENT,
    OutboxState.CANCELLED: RecipientState.CANCELLED,
}
_CHUNK = 5000  # ids per IN (...): well under both backends' parameter limits


@dataclass(frozen=True)
class Outcome:
    """A pending recipient whose outbox row has ended."""

    recipient_id: int
    state: str  # a RecipientState value
    message_id: int | None
    sent_chat_id: int | None
    finished_at: datetime | None
    error: str | None


class BroadcastRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Organisation ----------------------------------------------------------------------------

    async def units(self, district_id: int) -> list[Unit]:
        """The district's active units (the committee itself excluded), by code."""
        stmt = (
            select(Unit)
            .where(Unit.district_id == district_id, Unit.id != district_id, Unit.active)
            .order_by(Unit.code)
        )
        return list(await self.session.scalars(stmt))

    async def unit_names(self, district_id: int) -> dict[int, str]:
        """unit id -> the name its recipients are grouped under: every unit of the district,
        the committee itself included (its name heads the branches directly under it)."""
        stmt = select(Unit.id, Unit.name).where(Unit.district_id == district_id)
        return {i: n for i, n in (await self.session.execute(stmt)).all()}

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.session.get(Unit, unit_id)

    async def district_ids(self) -> list[int]:
        stmt = select(Unit.id).where(Unit.id == Unit.district_id, Unit.active).order_by(Unit.code)
        return list(await self.session.scalars(stmt))

    async def branches(
        self,
        district_id: int,
        unit_ids: Collection[int] | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[Branch]:
        """Active branches of the district, narrowed to units and kinds when given."""
        stmt = select(Branch).where(Branch.district_id == district_id, Branch.active)
        if unit_ids is not None:
            stmt = stmt.where(Branch.unit_id.in_(list(unit_ids)))
        if kinds is not None:
            stmt = stmt.where(Branch.kind.in_(list(kinds)))
        return list(await self.session.scalars(stmt.order_by(Branch.code)))

    async def working_groups(
        self, district_id: int, covering: Collection[int] | None = None
    ) -> list[WorkingGroup]:
        """Active working groups of the district; with `covering`, those covering any of the
        units."""
        stmt = select(WorkingGroup).where(
            WorkingGroup.district_id == district_id, WorkingGroup.active
        )
        if covering is not None:
            cover = select(WorkingGroupUnit.working_group_id).where(
                WorkingGroupUnit.unit_id.in_(list(covering))
            )
            stmt = stmt.where(WorkingGroup.id.in_(cover))
        return list(await self.session.scalars(stmt.order_by(WorkingGroup.code)))

    async def working_group(self, group_id: int) -> WorkingGroup | None:
        return await self.session.get(WorkingGroup, group_id)

    async def bindings(self, target_type: str, target_ids: Collection[int]) -> dict[int, int]:
        """target id -> the chat it is bound to now."""
        out: dict[int, int] = {}
        ids = list(target_ids)
        for start in range(0, len(ids), _CHUNK):
            stmt = select(ChatBinding.target_id, ChatBinding.chat_id).where(
                ChatBinding.target_type == target_type,
                ChatBinding.target_id.in_(ids[start : start + _CHUNK]),
                ChatBinding.active,
            )
            out.update({t: c for t, c in (await self.session.execute(stmt)).all()})
        return out

    async def last_unbind_reasons(
        self, target_type: str, target_ids: Collection[int]
    ) -> dict[int, str]:
        """target id -> why its latest binding ended (for targets that had one)."""
        out: dict[int, str] = {}
        ids = list(target_ids)
        for start in range(0, len(ids), _CHUNK):
            stmt = (
                select(ChatBinding.target_id, ChatBinding.unbound_reason)
                .where(
                    ChatBinding.target_type == target_type,
                    ChatBinding.target_id.in_(ids[start : start + _CHUNK]),
                    ChatBinding.active.is_(False),
                )
                .order_by(ChatBinding.unbound_at, ChatBinding.id)
            )
            out.update({t: r or "" for t, r in (await self.session.execute(stmt)).all()})
        return out

    async def leaders(
        self, branch_ids: Collection[int], roles: Collection[str] = (MemberRole.SECRETARY,)
    ) -> list[Member]:
        """Active members of these branches holding one of `roles` (secretaries by default)."""
        ids = list(branch_ids)
        out: list[Member] = []
        for start in range(0, len(ids), _CHUNK):
            stmt = (
                select(Member)
                .where(
                    Member.branch_id.in_(ids[start : start + _CHUNK]),
                    Member.active,
                    Member.role.in_([str(r) for r in roles]),
                )
                .order_by(Member.role.desc(), Member.id)
            )
            out += list(await self.session.scalars(stmt))
        return out

    async def member(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    async def group_members(self, group_id: int) -> list[Member]:
        stmt = (
            select(Member)
            .join(WorkingGroupMember, WorkingGroupMember.member_id == Member.id)
            .where(WorkingGroupMember.working_group_id == group_id, Member.active)
        )
        return list(await self.session.scalars(stmt))

    async def reachable(self, telegram_ids: Iterable[int]) -> set[int]:
        """Accounts that wrote to the bot and did not block it."""
        ids = list(set(telegram_ids))
        out: set[int] = set()
        for start in range(0, len(ids), _CHUNK):
            stmt = select(TelegramUser.id).where(
                TelegramUser.id.in_(ids[start : start + _CHUNK]), TelegramUser.reachable
            )
            out |= set(await self.session.scalars(stmt))
        return out

    # Broadcasts ------------------------------------------------------------------------------

    async def get(self, broadcast_id: int, *, for_update: bool = False) -> Broadcast | None:
        if for_update:
            stmt = select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
            return (await self.session.scalars(stmt)).first()
        return await self.session.get(Broadcast, broadcast_id)

    async def add(self, broadcast: Broadcast) -> Broadcast:
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def in_progress(self, now: datetime) -> list[Broadcast]:
        """Broadcasts whose delivery may still change: sending, scheduled and due, and stopped
        ones whose in-flight rows have not all ended."""
        stmt = select(Broadcast).where(
            or_(
                Broadcast.status == BroadcastStatus.SENDING,
                and_(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now),
                and_(Broadcast.status == BroadcastStatus.STOPPED, Broadcast.finished_at.is_(None)),
            )
        )
        return list(await self.session.scalars(stmt.order_by(Broadcast.id)))

    async def start_sending(self, broadcast_id: int, now: datetime) -> bool:
        """A scheduled broadcast whose time came becomes sending: True for the one caller that
        moved it (a second pass, or a concurrent one once the first committed, finds it
        sending already and changes nothing)."""
        stmt = (
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == BroadcastStatus.SCHEDULED,
                Broadcast.send_at <= now,
            )
            .values(status=BroadcastStatus.SENDING)
            .returning(Broadcast.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def acknowledged_since(self, since: datetime) -> set[int]:
        stmt = select(BroadcastRecipient.broadcast_id).where(BroadcastRecipient.ack_at >= since)
        return set(await self.session.scalars(stmt.distinct()))

    async def with_open_deadline(self, now: datetime) -> list[Broadcast]:
        """Queued broadcasts asking for acknowledgement whose deadline is still ahead."""
        stmt = select(Broadcast).where(
            Broadcast.status.in_(
                [BroadcastStatus.SENDING, BroadcastStatus.DONE, BroadcastStatus.STOPPED]
            ),
            Broadcast.ack_required,
            Broadcast.ack_deadline > now,
        )
        return list(await self.session.scalars(stmt.order_by(Broadcast.id)))

    async def deadline_passed(self, since: datetime, now: datetime) -> list[Broadcast]:
        stmt = select(Broadcast).where(
            Broadcast.status.in_(
                [BroadcastStatus.SENDING, BroadcastStatus.DONE, BroadcastStatus.STOPPED]
            ),
            Broadcast.ack_required,
            Broadcast.ack_deadline > since,
            Broadcast.ack_deadline <= now,
        )
        return list(await self.session.scalars(stmt.order_by(Broadcast.id)))

    async def visible(
        self,
        district_ids: Collection[int] | None,
        unit_ids: Collection[int],
        created_by: int,
        offset: int,
        limit: int,
    ) -> list[Broadcast]:
        """Queued broadcasts, newest first: of these districts (None: every district), of
        these units, or created by this person."""
        seen = [Broadcast.created_by == created_by]
        if district_ids is None:
            seen.append(Broadcast.id.is_not(None))
        elif district_ids:
            seen.append(Broadcast.district_id.in_(list(district_ids)))
        if unit_ids:
            seen.append(Broadcast.unit_id.in_(list(unit_ids)))
        stmt = (
            select(Broadcast)
            .where(or_(*seen), Broadcast.status.in_(QUEUED_STATUSES))
            .order_by(Broadcast.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    # Recipients ------------------------------------------------------------------------------

    async def add_recipients(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 1000):
            await self.session.execute(
                insert(BroadcastRecipient.__table__), list(rows[start : start + 1000])
            )

    async def recipients(
        self, broadcast_id: int, states: Collection[str] | None = None
    ) -> list[BroadcastRecipient]:
        stmt = select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id)
        if states is not None:
            stmt = stmt.where(BroadcastRecipient.state.in_(list(states)))
        return list(await self.session.scalars(stmt.order_by(BroadcastRecipient.id)))

    async def recipient_for_chat(
        self, broadcast_id: int, chat_id: int
    ) -> BroadcastRecipient | None:
        """The recipient in `chat_id`, also when the group moved there (upgraded to a
        supergroup) after the message was sent."""
        stmt = select(BroadcastRecipient).where(
            BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.chat_id == chat_id
        )
        found = (await self.session.scalars(stmt)).first()
        if found is not None:
            return found
        moved = (
            select(BroadcastRecipient)
            .join(OutboxEntry, OutboxEntry.id == BroadcastRecipient.outbox_id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                OutboxEntry.sent_chat_id == chat_id,
            )
        )
        return (await self.session.scalars(moved)).first()

    async def recipient_by_outbox(self, outbox_id: int) -> BroadcastRecipient | None:
        stmt = select(BroadcastRecipient).where(BroadcastRecipient.outbox_id == outbox_id)
        return (await self.session.scalars(stmt)).first()

    async def mark_acknowledged(self, recipient_id: int, at: datetime, by: int) -> bool:
        """Record the first press only: False when someone pressed first."""
        stmt = (
            update(BroadcastRecipient)
            .where(BroadcastRecipient.id == recipient_id, BroadcastRecipient.ack_at.is_(None))
            .values(ack_at=at, ack_by=by)
            .returning(BroadcastRecipient.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def set_state(self, recipient_ids: Collection[int], values: dict[str, Any]) -> None:
        ids = sorted(recipient_ids)  # one order for every writer of these rows (see `mirror`)
        for start in range(0, len(ids), _CHUNK):
            await self.session.execute(
                update(BroadcastRecipient)
                .where(BroadcastRecipient.id.in_(ids[start : start + _CHUNK]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def ended(self, broadcast_id: int) -> list[Outcome]:
        """Recipients whose outbox row has an outcome they do not show yet (to mirror it)."""
        o = OutboxEntry
        stmt = (
            select(
                BroadcastRecipient.id,
                o.state,
                o.telegram_message_id,
                o.sent_chat_id,
                o.finished_at,
                o.error,
            )
            .join(o, o.id == BroadcastRecipient.outbox_id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.state != o.state,
                o.state.in_(list(OUTCOMES)),
            )
        )
        return [
            Outcome(rid, OUTCOMES[state], mid, chat, at, err)
            for rid, state, mid, chat, at, err in (await self.session.execute(stmt)).all()
        ]

    async def mirror(self, outcomes: Sequence[Outcome]) -> None:
        """Write outcomes onto their recipients (one executemany), in the recipients' order.

        The progress job's pass and a person's Làm mới or Dừng mirror the same rows at once; in
        whatever order `ended` returned them, each held a row the other wanted next and
        PostgreSQL broke the tie by failing one ("deadlock detected": the admin got the crash
        apology). Taken in one order, the second waits for the first instead."""
        if not outcomes:
            return
        t = BroadcastRecipient.__table__
        stmt = (
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(
                state=bindparam("v_state"),
                message_id=bindparam("v_message_id"),
                sent_at=bindparam("v_sent_at", type_=t.c.sent_at.type),
                error=bindparam("v_error"),
                chat_id=func.coalesce(bindparam("v_chat_id", type_=t.c.chat_id.type), t.c.chat_id),
            )
        )
        params = [
            {
                "b_id": out.recipient_id,
                "v_state": out.state,
                "v_message_id": out.message_id,
                "v_sent_at": out.finished_at,
                "v_error": (out.error or "")[:256] or None,
                "v_chat_id": out.sent_chat_id,
            }
            for out in sorted(outcomes, key=lambda out: out.recipient_id)
        ]
        await self.session.execute(stmt, params)

    async def figures(
        self, broadcast_ids: Collection[int]
    ) -> list[tuple[int, int | None, str, bool, int]]:
        """(broadcast id, unit id, effective state, acknowledged, count) rows.

        The effective state is the outbox row's, when the recipient has one (an outcome, or
        pending while it has none): figures are exact before the progress job mirrored them,
        without writing (a read-only view can show them), and after an operator requeued
        failed rows from the command line. Unreachable recipients have no row."""
        o = OutboxEntry
        r = BroadcastRecipient
        # The outbox's states and the recipients' are two enums over one vocabulary (OUTCOMES):
        # the mixed column is read as the recipients' enum, not as the outbox's (its first
        # branch), which has no `unreachable`.
        recipient_state = r.state.type
        state = type_coerce(
            case(
                (o.state.in_(list(OUTCOMES)), o.state),
                (o.id.is_not(None), literal(RecipientState.PENDING, recipient_state)),
                else_=r.state,
            ),
            recipient_state,
        ).label("state")
        acked = (r.ack_at.is_not(None)).label("acked")
        stmt = (
            select(r.broadcast_id, r.unit_id, state, acked, func.count())
            .outerjoin(o, o.id == r.outbox_id)
            .where(r.broadcast_id.in_(list(broadcast_ids)))
            .group_by(r.broadcast_id, r.unit_id, state, acked)
        )
        return [
            (b, u, str(s), bool(a), int(n)) for b, u, s, a, n in (await self.session.execute(stmt))
        ]

    async def effective(
        self, broadcast_id: int
    ) -> list[tuple[BroadcastRecipient, str, str | None]]:
        """Every recipient with its effective state and error (see `figures`)."""
        o = OutboxEntry
        r = BroadcastRecipient
        stmt = (
            select(r, o.state, o.error)
            .outerjoin(o, o.id == r.outbox_id)
            .where(r.broadcast_id == broadcast_id)
            .order_by(r.unit_id, r.name, r.id)
        )
        out: list[tuple[BroadcastRecipient, str, str | None]] = []
        for rec, o_state, o_error in (await self.session.execute(stmt)).all():
            if o_state in OUTCOMES:
                out.append((rec, OUTCOMES[o_state], o_error))
            elif o_state is not None:
                out.append((rec, RecipientState.PENDING, None))
            else:
                out.append((rec, rec.state, rec.error))
        return out

    async def finished_since(self, broadcast_id: int, since: datetime) -> int:
        """The broadcast's outbox rows that ended since `since` (its recent pace)."""
        stmt = select(func.count()).where(
            OutboxEntry.origin_type == "broadcast",
            OutboxEntry.origin_id == str(broadcast_id),
            OutboxEntry.finished_at >= since,
        )
        return int(await self.session.scalar(stmt) or 0)

    async def outbox_ids(self, broadcast_id: int, states: Collection[str]) -> list[int]:
        """The broadcast's own outbox rows (its copies and button messages) in these states."""
        stmt = select(OutboxEntry.id).where(
            OutboxEntry.origin_type == "broadcast",
            OutboxEntry.origin_id == str(broadcast_id),
            OutboxEntry.state.in_(list(states)),
        )
        return list(await self.session.scalars(stmt))

    async def outbox_message(self, outbox_id: int) -> tuple[int, int] | None:
        """(chat, message id) of a delivered outbox row."""
        row = await self.session.get(OutboxEntry, outbox_id)
        if row is None or row.telegram_message_id is None:
            return None
        return (row.sent_chat_id or row.chat_id, row.telegram_message_id)
