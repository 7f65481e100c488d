"""Where a broadcast stands: each recipient's outcome mirrored from the outbox, the figures,
the sender's live progress message, and the failure hook.

The sender's hot path is left alone: it records each row's outcome in the outbox as for any
message, and the progress job mirrors them into `broadcast_recipients` a few seconds later
(`sync`). Figures never wait for the mirror: they read the outbox for recipients not yet
mirrored (`BroadcastRepository.figures`), so a read-only view is exact too. A permanent
failure is also written at once by the failure hook, so the report names it without delay.

The live message is edited directly by the job (the outbox has no edit kind, and an edit is
idempotent: only the latest figures matter), at most once every `progress_every` seconds per
broadcast, re-rendered from the database each time; a lost edit is redone on the next pass.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inputs import try_int
from bot.outbox import NOT_PINNED, FailureEvent, FailureHooks
from bot.outbox.addresses import on_readdress
from bot.outbox.service import before_send, default_hooks, enqueue_many
from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.broadcasts.audience import Recipient, group_chats
from bot.services.broadcasts.common import (
    DEFAULT_CONFIG,
    ORIGIN,
    ORIGIN_REMINDER,
    BroadcastConfig,
    load_managed,
)
from bot.services.broadcasts.notices import copies, copy_key, locales, progress_markup, when
from bot.services.context import ServiceContext
from bot.services.live_edits import CoalescedEdits, Edit, MessageEditor
from bot.services.vn_sort import vn_key
from storage.models import Broadcast, BroadcastRecipient
from storage.models.broadcasts import BroadcastStatus, RecipientState
from storage.models.org import TargetType
from storage.models.outbox import OutboxEntry
from storage.repositories.broadcasts import BroadcastRepository

log = logging.getLogger("bot.broadcasts.progress")
ACK_UNITS_SHOWN = 30
# Recipients that are groups standing for a target (a secretary is a person, not a target).
GROUP_TARGETS = (TargetType.BRANCH, TargetType.UNIT, TargetType.WORKING_GROUP)
# async (chat_id, message_id, text, markup as JSON) -> None


@dataclass
class UnitFigures:
    total: int = 0  # recipients, unreachable ones included
    counts: dict[str, int] = field(default_factory=dict)  # effective state -> n
    acked: int = 0

    def n(self, state: str) -> int:
        return self.counts.get(state, 0)

    @property
    def delivered(self) -> int:
        """Chats the broadcast reached or may have reached: the ones asked to acknowledge."""
        return self.n(RecipientState.SENT) + self.n(RecipientState.MAYBE_SENT)

    def add(self, state: str, acked: bool, n: int) -> None:
        self.total += n
        self.counts[state] = self.counts.get(state, 0) + n
        if acked:
            self.acked += n


@dataclass
class Figures(UnitFigures):
    by_unit: dict[int | None, UnitFigures] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return self.total - self.n(RecipientState.UNREACHABLE)

    @property
    def remaining(self) -> int:
        return self.n(RecipientState.PENDING)


async def figures(session: AsyncSession, broadcast_ids: list[int]) -> dict[int, Figures]:
    out = {b: Figures() for b in broadcast_ids}
    if not broadcast_ids:
        return out
    for bid, unit, state, acked, n in await BroadcastRepository(session).figures(broadcast_ids):
        fig = out[bid]
        fig.add(state, acked, n)
        fig.by_unit.setdefault(unit, UnitFigures()).add(state, acked, n)
    return out


async def sync(
    session: AsyncSession, broadcast: Broadcast, now: datetime, ctx: ServiceContext
) -> None:
    """Mirror ended outbox rows into the recipients; move the status on (a scheduled one that
    came due is sending, its groups linked since Gửi reached: `start_due`; one with nothing
    left pending is done); learn the progress message."""
    repo = BroadcastRepository(session)
    await start_due(session, ctx, broadcast, now)
    ended = await repo.ended(broadcast.id)
    if ended:
        await repo.mirror(ended)
    open_ = (
        broadcast.status in (BroadcastStatus.SENDING, BroadcastStatus.STOPPED)
        and broadcast.finished_at is None
    )
    if open_ and not (await figures(session, [broadcast.id]))[broadcast.id].remaining:
        broadcast.finished_at = now
        if broadcast.status == BroadcastStatus.SENDING:
            broadcast.status = BroadcastStatus.DONE
    if broadcast.progress_message_id is None and broadcast.progress_outbox_id is not None:
        found = await repo.outbox_message(broadcast.progress_outbox_id)
        if found is not None:
            broadcast.progress_chat_id, broadcast.progress_message_id = found


async def start_due(
    session: AsyncSession, ctx: ServiceContext, broadcast: Broadcast, now: datetime
) -> int:
    """A scheduled broadcast whose time came becomes sending and, in the same transaction,
    reaches the groups linked since Gửi (`reach_linked_since`). Once only: a second pass (or a
    concurrent one, once the first committed) finds it sending and queues nothing. Returns how
    many targets were reached late."""
    if (
        broadcast.status != BroadcastStatus.SCHEDULED
        or broadcast.send_at is None
        or broadcast.send_at > now
    ):
        return 0
    if not await BroadcastRepository(session).start_sending(broadcast.id, now):
        await session.refresh(broadcast, ["status"])  # another pass moved it on meanwhile
        return 0
    broadcast.status = BroadcastStatus.SENDING
    return await reach_linked_since(session, ctx, broadcast)


async def reach_linked_since(
    session: AsyncSession, ctx: ServiceContext, broadcast: Broadcast
) -> int:
    """The branches, units and working groups recorded unreachable at Gửi that have a group
    now (linked with /linkcode or /link meanwhile) get the copies Gửi would have queued, to
    that current chat (resolved as Gửi resolves them, `group_chats`); their recipients say
    so (pending, its chat and outbox row). A target still without a group stays unreachable,
    with the reason it has now; a former chat is never used. A chat the broadcast already
    has a recipient in (a group moved from one target to another) is not queued twice."""
    repo = BroadcastRepository(session)
    rows = await repo.recipients(broadcast.id)
    taken = {r.chat_id for r in rows if r.chat_id is not None}
    waiting = [
        r for r in rows if r.state == RecipientState.UNREACHABLE and r.target_type in GROUP_TARGETS
    ]
    found: list[tuple[BroadcastRecipient, Recipient, int]] = []
    for target_type in GROUP_TARGETS:
        mine = [r for r in waiting if r.target_type == target_type]
        if not mine:
            continue
        targets = [(r.target_id, r.branch_id, r.unit_id, r.name) for r in mine]
        for row, current in zip(mine, await group_chats(repo, target_type, targets), strict=True):
            if current.chat_id is None:
                row.error = current.reason
            elif current.chat_id not in taken:
                taken.add(current.chat_id)
                found.append((row, current, current.chat_id))
    if not found:
        return 0
    langs = await locales(session, ctx, [chat for _row, _r, chat in found])
    buttons: dict[str, dict[str, Any]] = {}
    messages = [
        m for _row, r, chat in found for m in copies(ctx, broadcast, r, langs[chat], buttons)
    ]
    added = await enqueue_many(session, messages, clock=ctx.clock)
    reached: list[int] = []
    for row, _r, chat in found:
        outbox_id = added.get(copy_key(broadcast.id, chat))
        if outbox_id is None:
            continue  # that chat's copy was queued already, for another recipient
        row.chat_id, row.outbox_id = chat, outbox_id
        row.state, row.error = RecipientState.PENDING, None
        reached.append(chat)
    if reached:
        await audit.record(
            session,
            action="broadcast.linked_since",
            entity_type="broadcast",
            entity_id=broadcast.id,
            before=None,
            after={"queued": len(reached), "chats": reached},
            district_id=broadcast.district_id,
        )
        log.info("broadcast %d: %d group(s) linked since Gửi reached", broadcast.id, len(reached))
    return len(reached)


def failure_reason(error: str | None) -> str:
    """The outbox's reason word ("kicked: Forbidden: ..." -> "kicked")."""
    return (error or "other").split(":", 1)[0].strip() or "other"


FAILURE_REASONS = frozenset(
    {
        "kicked",
        "blocked",
        "not_started",
        "deactivated",
        "forbidden",
        "chat_not_found",
        "rejected",
        "deadline",
        "unlinked",  # its target had no group any more when it left (bot.outbox.addresses)
    }
)


def failure_key(error: str | None) -> str:
    reason = failure_reason(error)
    return f"bc.fail.{reason if reason in FAILURE_REASONS else 'other'}"


async def render(
    session: AsyncSession,
    ctx: ServiceContext,
    broadcast: Broadcast,
    fig: Figures,
    locale: str,
    config: BroadcastConfig = DEFAULT_CONFIG,
) -> tuple[str, dict[str, Any]]:
    """The progress message: status and figures, the failures by reason once it ended, and
    the acknowledgements by unit."""
    t = ctx.i18n.t
    lines = [t("bc.progress.head", locale, excerpt=html.escape(broadcast.excerpt))]
    counts = dict(
        sent=fig.n(RecipientState.SENT),
        queued=fig.queued,
        failed=fig.n(RecipientState.FAILED),
        remaining=fig.remaining,
    )
    status = broadcast.status
    if status == BroadcastStatus.SCHEDULED:
        assert broadcast.send_at is not None
        lines.append(
            t("bc.progress.scheduled", locale, when=when(broadcast.send_at, ctx, locale), **counts)
        )
    elif status == BroadcastStatus.SENDING:
        lines.append(t("bc.progress.sending", locale, **counts))
        eta = await _eta(session, ctx, broadcast, fig.remaining, config)
        if eta is not None:
            lines.append(t("bc.progress.eta", locale, when=when(eta, ctx, locale)))
    else:
        at = broadcast.finished_at or broadcast.stopped_at or ctx.now()
        key = "bc.progress.stopped" if status == BroadcastStatus.STOPPED else "bc.progress.done"
        lines.append(t(key, locale, when=when(at, ctx, locale), **counts))
    for state, key in (
        (RecipientState.MAYBE_SENT, "bc.progress.maybe_sent"),
        (RecipientState.CANCELLED, "bc.progress.cancelled"),
        (RecipientState.UNREACHABLE, "bc.progress.unreachable"),
    ):
        if fig.n(state):
            lines.append(t(key, locale, n=fig.n(state)))
    if broadcast.pin:
        not_pinned = await unpinned(session, broadcast.id)
        if not_pinned:
            lines.append(t("bc.progress.not_pinned", locale, n=not_pinned))
    running = status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING) or (
        status == BroadcastStatus.STOPPED and fig.remaining > 0
    )
    if fig.n(RecipientState.FAILED) and not running:
        lines.append(t("bc.progress.failures", locale))
        for key, n in await failures_by_reason(session, broadcast.id):
            lines.append(t("bc.progress.failure_line", locale, reason=t(key, locale), n=n))
    if broadcast.ack_required and fig.delivered:
        lines += await _ack_lines(session, ctx, broadcast, fig, locale)
    markup = progress_markup(
        ctx.i18n,
        locale,
        broadcast.id,
        running=status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING),
        failed=fig.n(RecipientState.FAILED),
    )
    return "\n".join(lines)[:4096], markup


async def unpinned(session: AsyncSession, broadcast_id: int) -> int:
    """Copies that arrived but could not be pinned (the Trợ lý has no right to pin there)."""
    return sum(
        1
        for _rec, state, error in await BroadcastRepository(session).effective(broadcast_id)
        if state == RecipientState.SENT and (error or "").startswith(NOT_PINNED)
    )


async def failures_by_reason(session: AsyncSession, broadcast_id: int) -> list[tuple[str, int]]:
    """(catalog key of the reason, count), most frequent first."""
    counts: dict[str, int] = {}
    for _rec, state, error in await BroadcastRepository(session).effective(broadcast_id):
        if state == RecipientState.FAILED:
            key = failure_key(error)
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


async def _eta(
    session: AsyncSession,
    ctx: ServiceContext,
    broadcast: Broadcast,
    remaining: int,
    config: BroadcastConfig,
) -> datetime | None:
    """When the rest should be out, at the pace of the last `pace_window`."""
    if remaining <= 0:
        return None
    now = ctx.now()
    done = await BroadcastRepository(session).finished_since(broadcast.id, now - config.pace_window)
    if not done:
        return None
    pace = done / config.pace_window.total_seconds()
    return now + timedelta(seconds=remaining / pace)


async def _ack_lines(
    session: AsyncSession, ctx: ServiceContext, broadcast: Broadcast, fig: Figures, locale: str
) -> list[str]:
    t = ctx.i18n.t
    names = await BroadcastRepository(session).unit_names(broadcast.district_id)
    deadline = when(broadcast.ack_deadline, ctx, locale) if broadcast.ack_deadline else None
    head = "bc.progress.acks_by" if deadline else "bc.progress.acks"
    lines = [t(head, locale, acked=fig.acked, total=fig.delivered, deadline=deadline or "")]
    rows = [
        (names.get(unit, "") if unit is not None else t("bc.unit.none", locale), u)
        for unit, u in fig.by_unit.items()
        if u.delivered
    ]
    rows.sort(key=lambda r: (r[0] == t("bc.unit.none", locale), vn_key(r[0])))
    for name, u in rows[:ACK_UNITS_SHOWN]:
        lines.append(
            t(
                "bc.progress.ack_line",
                locale,
                unit=html.escape(name),
                acked=u.acked,
                total=u.delivered,
            )
        )
    if len(rows) > ACK_UNITS_SHOWN:
        lines.append(t("bc.progress.ack_more", locale, n=len(rows) - ACK_UNITS_SHOWN))
    return lines


@dataclass(frozen=True)
class ProgressView:
    text: str
    markup: dict[str, Any]


async def progress_view(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int, locale: str
) -> ProgressView:
    """The progress message as it stands now (Làm mới, or the first screen after Gửi)."""
    broadcast = await load_managed(session, actor, broadcast_id)
    await sync(session, broadcast, ctx.now(), ctx)
    fig = (await figures(session, [broadcast.id]))[broadcast.id]
    text, markup = await render(session, ctx, broadcast, fig, locale)
    return ProgressView(text, markup)


@dataclass
class LiveProgress(CoalescedEdits):
    """The progress messages' edits (`CoalescedEdits`): broadcasts in progress are looked at
    on every pass; finished ones only when an acknowledgement came since the last pass."""

    every: float = DEFAULT_CONFIG.progress_every

    async def flush(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        ctx: ServiceContext,
        edit: MessageEditor,
    ) -> int:
        """One pass: sync what moved, edit the messages whose text changed; edits made."""
        async with self.one_pass:
            now = ctx.now()
            since = self.since(now)
            todo: list[Edit] = []
            async with session_factory() as s, s.begin():
                repo = BroadcastRepository(s)
                active = {b.id for b in await repo.in_progress(now)}
                self.pending |= active | await repo.acknowledged_since(since)
                mono = self.monotonic()
                for bid in sorted(self.pending):
                    broadcast = await repo.get(bid)
                    if broadcast is None:
                        self.pending.discard(bid)
                        continue
                    await sync(s, broadcast, now, ctx)
                    if self.recent(bid, mono):
                        continue
                    chat, message = broadcast.progress_chat_id, broadcast.progress_message_id
                    if message is None or chat is None:
                        if bid not in active:
                            self.pending.discard(bid)
                        continue
                    fig = (await figures(s, [bid]))[bid]
                    locale = (await locales(s, ctx, [chat]))[chat]
                    text, markup = await render(s, ctx, broadcast, fig, locale)
                    self.pending.discard(bid)
                    if self.shown(chat, message, text):
                        continue
                    todo.append(Edit(bid, chat, message, text, markup))
            return await self.apply(todo, edit)


async def on_outbox_failure(session: AsyncSession, ev: FailureEvent) -> None:
    """A copy failed for good (or may have arrived and is not resent): say so at once."""
    if ev.origin_type != ORIGIN or ev.reason == "migrated":
        return
    rec = await BroadcastRepository(session).recipient_by_outbox(ev.entry_id)
    if rec is None or rec.state != RecipientState.PENDING:
        return  # a button message, or already mirrored
    rec.state = RecipientState.MAYBE_SENT if ev.reason == "maybe_sent" else RecipientState.FAILED
    rec.error = f"{ev.reason}: {ev.description}"[:256]


async def on_outbox_readdress(session: AsyncSession, moved: dict[int, int]) -> None:
    """A copy left for its target's new chat (the group relinked after Gửi): the recipient
    follows, so its progress, its Đã nhận and its reminder are the new chat's."""
    repo = BroadcastRepository(session)
    for entry_id, chat_id in moved.items():
        rec = await repo.recipient_by_outbox(entry_id)
        if rec is not None:
            rec.chat_id = chat_id


FORMER_GROUP = "the copy went to a group its target has left"


async def reminder_check(
    session: AsyncSession, rows: Sequence[OutboxEntry], now: datetime
) -> dict[int, str]:
    """A Đã nhận reminder leaves only for the chat the copy went to. Readdressed to the
    target's new group (it relinked after the copy arrived), it would ask a group that never
    received "this message" to acknowledge it, with a button refused there: withdrawn."""
    del now
    repo = BroadcastRepository(session)
    gone: dict[int, str] = {}
    for row in rows:
        broadcast_id = try_int(row.origin_id) if row.origin_id is not None else None
        if broadcast_id is None:
            continue
        if await repo.recipient_for_chat(broadcast_id, row.chat_id) is None:
            gone[row.id] = FORMER_GROUP
    return gone


def install_hooks(hooks: FailureHooks | None = None) -> None:
    """Register the failure hook once (the app and tests may build many registries)."""
    on_readdress(ORIGIN, on_outbox_readdress)
    before_send(ORIGIN_REMINDER, reminder_check)
    target = hooks if hooks is not None else default_hooks
    if on_outbox_failure not in target.hooks.get(ORIGIN, []):
        target.register(ORIGIN, on_outbox_failure)
