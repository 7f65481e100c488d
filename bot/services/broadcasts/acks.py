"""Đã nhận: who may acknowledge a broadcast for a chat, the one reminder before the deadline,
and the chats still silent after it (for the nudges feature).

Who counts, by chat: a branch group, its secretary or deputy (anyone else is told politely
who should press, and nothing is recorded); a secretary's private chat, that person; a
working group's chat, its leader (any member when it has none); a unit's (or the committee's)
chat, its admins, and a known current member pressing inside that very chat (`via_chat`,
checked with Telegram by the handler: the bot does not know who sits on a commune committee).
The first press is kept; the next ones hear it was already acknowledged, and when.

A press names the broadcast and the recipient chat (what to act on); who may act comes from
the pressing person's current rows and the chat the press came from, never from the button
(the nudge's Đã nhận, pressed in private, names a committee's chat: only that committee's
admins count there). A chat the broadcast did not go to, or a broadcast that asked for no
acknowledgement, is `bc.not_recipient`, whatever the button says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import LEADER_ROLES, Actor
from bot.services.broadcasts.audience import SECRETARY
from bot.services.broadcasts.common import DEFAULT_CONFIG, BroadcastConfig, BroadcastError
from bot.services.broadcasts.notices import locales, queue_reminder, when
from bot.services.broadcasts.progress import sync
from bot.services.context import ServiceContext
from storage.models import Broadcast, BroadcastRecipient
from storage.models.broadcasts import RecipientState
from storage.models.org import TargetType
from storage.repositories.broadcasts import BroadcastRepository

# Recipients a press can come from: delivered, or not yet mirrored, or perhaps delivered.
_PRESSABLE = frozenset({RecipientState.PENDING, RecipientState.SENT, RecipientState.MAYBE_SENT})


@dataclass(frozen=True)
class AckResult:
    """`status`: ok (recorded) / already (someone pressed first) / refused (this person's
    press does not count here); `key` and `params` are the catalog text to show them."""

    status: str
    key: str
    broadcast_id: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Pending:
    """A chat that had not acknowledged when the deadline passed."""

    broadcast_id: int
    district_id: int
    chat_id: int
    target_type: str
    target_id: int
    branch_id: int | None
    unit_id: int | None
    name: str
    deadline: datetime
    message_id: int | None
    excerpt: str


async def acknowledge(
    session: AsyncSession,
    ctx: ServiceContext,
    presser: Actor,
    broadcast_id: int,
    chat_id: int,
    *,
    via_chat: int | None = None,
) -> AckResult:
    """`chat_id`: the recipient chat acknowledged for; `via_chat`: the group the press came
    from when the presser is a checked current member of it (None: a private press)."""
    repo = BroadcastRepository(session)
    broadcast = await repo.get(broadcast_id)
    rec = await repo.recipient_for_chat(broadcast_id, chat_id) if broadcast else None
    if (
        broadcast is None
        or rec is None
        or not broadcast.ack_required
        or rec.state not in _PRESSABLE
    ):
        raise BroadcastError("bc.not_recipient")
    if rec.ack_at is not None:
        return _already(ctx, broadcast_id, rec)
    refusal = await _may_press(repo, broadcast, rec, presser, via_chat)
    if refusal is not None:
        key, params = refusal
        return AckResult("refused", key, broadcast_id, params)
    if not await repo.mark_acknowledged(rec.id, ctx.now(), presser.telegram_id):
        await session.refresh(rec)
        return _already(ctx, broadcast_id, rec)
    return AckResult("ok", "bc.ack.thanks", broadcast_id, {"name": rec.name})


def _already(ctx: ServiceContext, broadcast_id: int, rec: BroadcastRecipient) -> AckResult:
    at = when(rec.ack_at, ctx) if rec.ack_at is not None else ""
    return AckResult("already", "bc.ack.already", broadcast_id, {"when": at})


async def _may_press(
    repo: BroadcastRepository,
    broadcast: Broadcast,
    rec: BroadcastRecipient,
    presser: Actor,
    via_chat: int | None,
) -> tuple[str, dict[str, Any]] | None:
    """None when this person's press counts for the chat; else the polite refusal. Every
    rule reads current rows (roles, leaders, admins) and the checked chat of the press."""
    presser_tg = presser.telegram_id
    if rec.target_type == SECRETARY:
        member = await repo.member(rec.target_id)
        if member is not None and member.telegram_id == presser_tg:
            return None
        raise BroadcastError("bc.not_recipient")
    if rec.target_type == TargetType.BRANCH and rec.branch_id is not None:
        leaders = await repo.leaders([rec.branch_id], LEADER_ROLES)
        if any(m.telegram_id == presser_tg for m in leaders):
            return None
        if not leaders:
            return "bc.ack.no_leader", {}
        names = ", ".join(m.full_name for m in leaders)
        return "bc.ack.leaders_only", {"names": names}
    if rec.target_type == TargetType.WORKING_GROUP:
        group = await repo.working_group(rec.target_id)
        leader = (
            await repo.member(group.leader_member_id) if group and group.leader_member_id else None
        )
        if leader is None:
            members = await repo.group_members(rec.target_id)
            if any(m.telegram_id == presser_tg for m in members):
                return None
            return "bc.ack.group_members_only", {}
        if leader.telegram_id == presser_tg:
            return None
        return "bc.ack.group_leader_only", {"name": leader.full_name}
    # A unit's (or the committee's) chat: its admins anywhere; others only as checked
    # current members pressing inside that very chat.
    if presser.is_admin_of(broadcast.district_id):
        return None
    if rec.target_type == TargetType.UNIT and presser.is_unit_admin_of(rec.target_id):
        return None
    if via_chat is not None and via_chat == rec.chat_id:
        return None
    return "bc.ack.chat_members_only", {"name": rec.name}


def reminder_at(broadcast: Broadcast, config: BroadcastConfig = DEFAULT_CONFIG) -> datetime | None:
    """`remind_before` the deadline, or halfway from sending to it when that is later."""
    deadline = broadcast.ack_deadline
    start = broadcast.send_at or broadcast.queued_at
    if deadline is None or start is None:
        return None
    return max(start + (deadline - start) / 2, deadline - config.remind_before)


async def reminders_due(
    session: AsyncSession, ctx: ServiceContext, config: BroadcastConfig = DEFAULT_CONFIG
) -> int:
    """One reminder to each chat that has not acknowledged, before the deadline: a reply to
    the broadcast in that chat, with the button again. Never twice (`reminded_at` and the
    dedupe key). Returns how many were queued."""
    now = ctx.now()
    repo = BroadcastRepository(session)
    queued = 0
    for broadcast in await repo.with_open_deadline(now):
        due = reminder_at(broadcast, config)
        if due is None or now < due:
            continue
        await sync(session, broadcast, now, ctx)  # the messages' ids, mirrored from the outbox
        silent = [
            r
            for r in await repo.recipients(broadcast.id, [RecipientState.SENT])
            if r.ack_at is None and r.reminded_at is None and r.message_id and r.chat_id
        ]
        if not silent:
            continue
        langs = await locales(session, ctx, [r.chat_id for r in silent if r.chat_id])
        for r in silent:
            assert r.chat_id is not None and r.message_id is not None
            queued += await queue_reminder(
                session, ctx, broadcast, r.chat_id, r.target_type, r.message_id, langs[r.chat_id]
            )
        await repo.set_state([r.id for r in silent], {"reminded_at": now})
    return queued


async def unacknowledged(
    session: AsyncSession, now: datetime, *, lookback: timedelta = DEFAULT_CONFIG.nudge_lookback
) -> list[Pending]:
    """Chats that received a broadcast and had not acknowledged when its deadline passed
    (deadlines within `lookback`), for the nudges feature. Read-only: the outcomes are read
    through the outbox when the progress job has not mirrored them yet."""
    repo = BroadcastRepository(session)
    out: list[Pending] = []
    for broadcast in await repo.deadline_passed(now - lookback, now):
        assert broadcast.ack_deadline is not None
        for rec, state, _error in await repo.effective(broadcast.id):
            if state != RecipientState.SENT or rec.ack_at is not None or rec.chat_id is None:
                continue
            out.append(
                Pending(
                    broadcast_id=broadcast.id,
                    district_id=broadcast.district_id,
                    chat_id=rec.chat_id,
                    target_type=rec.target_type,
                    target_id=rec.target_id,
                    branch_id=rec.branch_id,
                    unit_id=rec.unit_id,
                    name=rec.name,
                    deadline=broadcast.ack_deadline,
                    message_id=rec.message_id,
                    excerpt=broadcast.excerpt,
                )
            )
    return out
