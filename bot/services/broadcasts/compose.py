"""Composing and sending a broadcast: the draft, its audience and options, the preview, Gửi,
Dừng, Gửi lại.

The message is the admin's own, kept in their private chat and copied from there
(copyMessage, copyMessages for an album), so formatting and files arrive exactly as written
and nothing is re-uploaded. What Telegram cannot copy (service messages, invoices, giveaways,
paid media, a quiz whose answer the bot does not know) is refused when the draft starts; the
handler tells these apart with `source_kind`.

Every change to a draft bumps its version; Gửi carries the version its preview showed, so a
preview confirmed after the audience or the options changed is refused (`bc.stale`), and Gửi
pressed twice finds the broadcast already queued (`bc.already_sent`). Each chat's copy has a
dedupe key, so nothing is ever queued twice for a chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import OutboxState
from bot.outbox.service import enqueue_many
from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.broadcasts.audience import Audience, Recipient, resolve_in
from bot.services.broadcasts.common import (
    DEFAULT_CONFIG,
    ORIGIN,
    BroadcastConfig,
    BroadcastError,
    load_managed,
    scope_for,
    scope_of,
)
from bot.services.broadcasts.notices import copies, copy_key, locales, queue_progress
from bot.services.broadcasts.progress import figures, render
from bot.services.context import ServiceContext
from storage.models import Broadcast
from storage.models.broadcasts import BroadcastStatus, RecipientState
from storage.repositories.broadcasts import BroadcastRepository
from storage.repositories.outbox import OutboxRepository

COPYABLE_KINDS = frozenset({"text", "photo", "document", "album", "other"})
# Content types Telegram refuses to copy (Bot API, copyMessage): besides every service message.
_NOT_COPYABLE = frozenset({"invoice", "giveaway", "giveaway_winners", "paid_media"})
_MEDIA = frozenset({"photo", "document", "video", "audio", "animation", "voice"})
_PLAIN = frozenset(
    {
        "text",
        "photo",
        "document",
        "video",
        "audio",
        "animation",
        "voice",
        "video_note",
        "sticker",
        "location",
        "venue",
        "contact",
        "poll",
        "dice",
        "story",
    }
)


@dataclass(frozen=True)
class Source:
    """The admin's private chat and the message(s) to copy (an album: several ids).

    `kind`: text / photo / document / album / other (see `source_kind`); `excerpt`: the first
    words of its text or caption, for the list of broadcasts (optional)."""

    chat_id: int
    message_ids: tuple[int, ...]
    kind: str
    excerpt: str = ""


@dataclass(frozen=True)
class Preview:
    broadcast: Broadcast
    reachable: int
    unreachable: list[Recipient]
    version: int
    recipients: tuple[Recipient, ...] = ()


def source_kind(
    content_type: str, *, in_album: bool = False, quiz_answer_known: bool = True
) -> str:
    """A message's kind for `Source` from its Telegram content type (aiogram's
    `message.content_type`), or "uncopyable": service messages (new members, pins, ...),
    invoices, giveaways, paid media, and a quiz whose right answer the bot does not know."""
    if content_type in _NOT_COPYABLE or content_type not in _PLAIN:
        return "uncopyable"
    if content_type == "poll" and not quiz_answer_known:
        return "uncopyable"
    if in_album and content_type in _MEDIA:
        return "album"
    if content_type in ("text", "photo", "document"):
        return content_type
    return "other"


async def start_draft(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    district_id: int | None,
    source: Source,
    config: BroadcastConfig = DEFAULT_CONFIG,
) -> Broadcast:
    """A new draft for `district_id` (None: the sender's only district)."""
    district_id = await district_for(session, actor, district_id)
    scope = scope_of(actor, district_id)  # refuses non-admins
    ids = tuple(source.message_ids)
    album_ok = source.kind == "album" and 1 <= len(ids) <= config.album_max
    if (
        source.kind not in COPYABLE_KINDS
        or source.chat_id != actor.telegram_id
        or not (album_ok or (source.kind != "album" and len(ids) == 1))
        or any(i <= 0 for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise BroadcastError("bc.cannot_copy")
    now = ctx.now()
    broadcast = await BroadcastRepository(session).add(
        Broadcast(
            district_id=district_id,
            unit_id=min(scope) if scope is not None and len(scope) == 1 else None,
            created_by=actor.telegram_id,
            source_chat_id=source.chat_id,
            source_message_ids=sorted(ids),
            kind=source.kind,
            excerpt=" ".join(source.excerpt.split())[: config.excerpt_max],
            status=BroadcastStatus.DRAFT,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    return broadcast


async def district_for(session: AsyncSession, actor: Actor, district_id: int | None) -> int:
    """`district_id`, or the sender's only district: refused for someone who administers
    none (`bc.not_admin`) or several (`bc.which_district`)."""
    if district_id is not None:
        return district_id
    if actor.bootstrap_admin:
        candidates = await BroadcastRepository(session).district_ids()
    else:
        candidates = sorted(actor.admin_districts | {d for d, _u in actor.admin_units})
    if not candidates:
        raise BroadcastError("bc.not_admin")
    if len(candidates) > 1:
        raise BroadcastError("bc.which_district")
    return candidates[0]


_district = district_for  # the name the first UI draft imported


async def get(session: AsyncSession, actor: Actor, broadcast_id: int) -> Broadcast:
    """A broadcast the person may see (to show a draft's state again)."""
    return await load_managed(session, actor, broadcast_id)


def audience_of(broadcast: Broadcast) -> Audience | None:
    return Audience.model_validate(broadcast.audience) if broadcast.audience else None


async def _draft(session: AsyncSession, actor: Actor, broadcast_id: int) -> Broadcast:
    broadcast = await load_managed(session, actor, broadcast_id, for_update=True)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise BroadcastError("bc.already_sent")
    return broadcast


async def set_audience(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int, audience: Audience
) -> Broadcast:
    """Choose who receives it; refused (nothing changed) when it names another commune's
    units or nobody."""
    broadcast = await _draft(session, actor, broadcast_id)
    await resolve_in(session, broadcast.district_id, scope_for(actor, broadcast), audience)
    stored = audience.model_dump(mode="json")
    if stored != broadcast.audience:
        broadcast.audience = stored
        broadcast.version += 1
        broadcast.updated_at = ctx.now()
    return broadcast


async def set_options(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    broadcast_id: int,
    *,
    ack_required: bool,
    ack_deadline: datetime | None,
    pin: bool,
    send_at: datetime | None,
    config: BroadcastConfig = DEFAULT_CONFIG,
) -> Broadcast:
    """Acknowledgement (and by when), pin, send now (None) or at a time."""
    broadcast = await _draft(session, actor, broadcast_id)
    now = ctx.now()
    if send_at is not None and not now < send_at <= now + config.max_ahead:
        raise BroadcastError("bc.bad_send_at")
    if not ack_required:
        ack_deadline = None
    if ack_deadline is not None:
        start = send_at or now
        if not start + config.min_ack_window <= ack_deadline <= start + config.max_ahead:
            raise BroadcastError("bc.bad_deadline")
    values = {
        "ack_required": ack_required,
        "ack_deadline": ack_deadline,
        "pin": pin,
        "send_at": send_at,
    }
    if any(getattr(broadcast, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(broadcast, key, value)
        broadcast.version += 1
        broadcast.updated_at = now
    return broadcast


async def preview(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int
) -> Preview:
    """How many chats it reaches and which ones it cannot, by name, with why."""
    broadcast = await load_managed(session, actor, broadcast_id)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise BroadcastError("bc.already_sent")
    recipients = await _recipients(session, actor, broadcast)
    unreachable = [r for r in recipients if not r.reachable]
    return Preview(
        broadcast,
        len(recipients) - len(unreachable),
        unreachable,
        broadcast.version,
        tuple(recipients),
    )


async def _recipients(session: AsyncSession, actor: Actor, broadcast: Broadcast) -> list[Recipient]:
    audience = audience_of(broadcast)
    if audience is None:
        raise BroadcastError("bc.empty_audience")
    return await resolve_in(session, broadcast.district_id, scope_for(actor, broadcast), audience)


async def send(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    broadcast_id: int,
    version: int,
    config: BroadcastConfig = DEFAULT_CONFIG,
) -> Broadcast:
    """Gửi: one copy per reachable chat through the outbox (at `send_at` when set), a row for
    every recipient (the unreachable ones too), and the sender's progress message."""
    broadcast = await _draft(session, actor, broadcast_id)
    if version != broadcast.version:
        raise BroadcastError("bc.stale")
    now = ctx.now()
    if broadcast.send_at is not None and broadcast.send_at <= now:
        broadcast.send_at = None  # its time came while the preview was open: now
    if broadcast.ack_deadline is not None and broadcast.ack_deadline <= now + config.min_ack_window:
        raise BroadcastError("bc.bad_deadline")
    recipients = await _recipients(session, actor, broadcast)
    langs = await locales(session, ctx, [r.chat_id for r in recipients if r.chat_id is not None])
    buttons: dict[str, dict[str, Any]] = {}
    committee = await BroadcastRepository(session).unit(broadcast.unit_id or broadcast.district_id)
    sender = committee.name if committee is not None else ""
    messages = [
        m
        for r in recipients
        if r.chat_id is not None
        for m in copies(ctx, broadcast, r, langs[r.chat_id], buttons, sender)
    ]
    added = await enqueue_many(session, messages, clock=ctx.clock)
    rows = []
    for r in recipients:
        outbox_id = None
        if r.chat_id is not None:
            outbox_id = added.get(copy_key(broadcast.id, r.chat_id))
        rows.append(
            {
                "broadcast_id": broadcast.id,
                "chat_id": r.chat_id,
                "target_type": r.target_type,
                "target_id": r.target_id,
                "branch_id": r.branch_id,
                "unit_id": r.unit_id,
                "name": r.name[:256],
                "outbox_id": outbox_id,
                "state": RecipientState.PENDING
                if r.chat_id is not None
                else RecipientState.UNREACHABLE,
                "error": r.reason,
                "created_at": now,
            }
        )
    repo = BroadcastRepository(session)
    await repo.add_recipients(rows)
    broadcast.status = (
        BroadcastStatus.SCHEDULED if broadcast.send_at is not None else BroadcastStatus.SENDING
    )
    broadcast.queued_at = broadcast.updated_at = now
    await session.flush()
    locale = (await locales(session, ctx, [actor.telegram_id]))[actor.telegram_id]
    fig = (await figures(session, [broadcast.id]))[broadcast.id]
    text, markup = await render(session, ctx, broadcast, fig, locale, config)
    broadcast.progress_outbox_id = await queue_progress(
        session, ctx, broadcast, actor.telegram_id, text, markup
    )
    broadcast.progress_chat_id = actor.telegram_id
    await audit.record(
        session,
        action="broadcast.send",
        entity_type="broadcast",
        entity_id=broadcast.id,
        before=None,
        after={
            "audience": broadcast.audience,
            "kind": broadcast.kind,
            "ack_required": broadcast.ack_required,
            "ack_deadline": broadcast.ack_deadline,
            "pin": broadcast.pin,
            "send_at": broadcast.send_at,
            "queued": sum(1 for r in recipients if r.chat_id is not None),
            "unreachable": sum(1 for r in recipients if r.chat_id is None),
        },
        actor_id=actor.telegram_id,
        district_id=broadcast.district_id,
    )
    return broadcast


async def stop(session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int) -> int:
    """Dừng: cancel every copy that has not left (pending or claimed; never one `sending`,
    which may be on the wire). Returns how many chats will not get it."""
    broadcast = await load_managed(session, actor, broadcast_id, for_update=True)
    if broadcast.status == BroadcastStatus.DRAFT or broadcast.status == BroadcastStatus.CANCELLED:
        raise BroadcastError("bc.not_sent")
    if broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        return 0
    now = ctx.now()
    cancelled = set(
        await OutboxRepository(session).cancel_unsent(ORIGIN, str(broadcast.id), now, "stopped")
    )
    repo = BroadcastRepository(session)
    stopped = [r.id for r in await repo.recipients(broadcast.id) if r.outbox_id in cancelled]
    await repo.set_state(
        stopped, {"state": RecipientState.CANCELLED, "error": "stopped", "sent_at": now}
    )
    broadcast.status = BroadcastStatus.STOPPED
    broadcast.stopped_at = broadcast.updated_at = now
    await audit.record(
        session,
        action="broadcast.stop",
        entity_type="broadcast",
        entity_id=broadcast.id,
        before={"status": "sending"},
        after={"status": "stopped", "cancelled": len(stopped)},
        actor_id=actor.telegram_id,
        district_id=broadcast.district_id,
    )
    return len(stopped)


async def retry_failed(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int
) -> int:
    """Gửi lại: the failed copies (and their button messages) go out again; what may have
    arrived (`maybe_sent`) is never resent. Returns how many chats are retried."""
    broadcast = await load_managed(session, actor, broadcast_id, for_update=True)
    if broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.CANCELLED):
        raise BroadcastError("bc.not_sent")
    now = ctx.now()
    repo = BroadcastRepository(session)
    failed_rows = await repo.outbox_ids(broadcast.id, [OutboxState.FAILED])
    requeued = set(await OutboxRepository(session).requeue(failed_rows, now))
    failed = [r.id for r in await repo.recipients(broadcast.id) if r.outbox_id in requeued]
    if not failed:
        return 0
    await repo.set_state(failed, {"state": RecipientState.PENDING, "error": None, "sent_at": None})
    broadcast.status = BroadcastStatus.SENDING
    broadcast.finished_at = None
    broadcast.updated_at = now
    await audit.record(
        session,
        action="broadcast.retry",
        entity_type="broadcast",
        entity_id=broadcast.id,
        before=None,
        after={"retried": len(failed)},
        actor_id=actor.telegram_id,
        district_id=broadcast.district_id,
    )
    return len(failed)


async def discard(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, broadcast_id: int
) -> Broadcast:
    """Hủy on a draft: nothing was queued, nothing is."""
    broadcast = await _draft(session, actor, broadcast_id)
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.updated_at = ctx.now()
    return broadcast
