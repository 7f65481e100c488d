"""Everything a broadcast queues, in the caller's transaction: the copies, the Đã nhận buttons,
the sender's progress message, the reminders.

Every row has a dedupe key naming the broadcast and the chat, so a use case retried or a job
run twice queues nothing twice. The copies go as the BROADCAST kind (at-most-once, below
interactive answers and reminders); the progress message as INTERACTIVE (the sender is
waiting for it); reminders as REMINDER. Groups read the default language, people their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons import Button, button, markup
from bot.buttons.broadcasts import AckCb, ProgressAct, ProgressCb
from bot.i18n import CatalogI18n, pick_locale
from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services.broadcasts.audience import SECRETARY, Recipient
from bot.services.broadcasts.common import ORIGIN, ORIGIN_PROGRESS, ORIGIN_REMINDER
from bot.services.context import ServiceContext
from bot.services.vn_calendar import format_datetime
from storage.models import Broadcast
from storage.models.org import TargetType
from storage.repositories.recipients import RecipientRepository

TEXT_LIMIT = 4096


def when(moment: datetime, ctx: ServiceContext, locale: str | None = None) -> str:
    """'Thứ Năm, 03/12/2026 lúc 14:35' in the bot's zone (the one date formatter)."""
    return format_datetime(moment, locale or ctx.default_locale, ctx.tz)


def ack_markup(
    i18n: CatalogI18n, locale: str, broadcast_id: int, deadline: str | None = None
) -> dict[str, Any]:
    """The Đã nhận button (with the deadline on it, when there is one): also what the sender's
    preview shows."""
    text = (
        i18n.t("bc.button.ack_by", locale, deadline=deadline)
        if deadline
        else i18n.t("bc.button.ack", locale)
    )
    data = AckCb(broadcast_id=broadcast_id).pack()
    return markup([[button(text, data)]])


def progress_markup(
    i18n: CatalogI18n, locale: str, broadcast_id: int, *, running: bool, failed: int
) -> dict[str, Any]:
    """Dừng while anything may still leave; Gửi lại when some failed; Làm mới always."""

    def act(key: str, a: ProgressAct, **params: Any) -> Button:
        data = ProgressCb(broadcast_id=broadcast_id, a=a).pack()
        return button(i18n.t(key, locale, **params), data)

    row = []
    if running:
        row.append(act("bc.button.stop", ProgressAct.STOP))
    if failed and not running:
        row.append(act("bc.button.retry", ProgressAct.RETRY, n=failed))
    row.append(act("bc.button.refresh", ProgressAct.REFRESH))
    return markup([row])


async def locales(
    session: AsyncSession, ctx: ServiceContext, chats: Iterable[int]
) -> dict[int, str]:
    """chat -> the language to write in: a person's own, the default for groups."""
    chat_ids = set(chats)
    langs = await RecipientRepository(session).languages(c for c in chat_ids if c > 0)
    default = ctx.default_locale
    return {c: pick_locale(*langs[c], default) if c in langs else default for c in chat_ids}


def deadline_text(
    broadcast: Broadcast, ctx: ServiceContext, locale: str | None = None
) -> str | None:
    return when(broadcast.ack_deadline, ctx, locale) if broadcast.ack_deadline else None


def copy_key(broadcast_id: int, chat_id: int) -> str:
    return f"bc:{broadcast_id}:{chat_id}"


def copies(
    ctx: ServiceContext,
    broadcast: Broadcast,
    recipient: Recipient,
    locale: str,
    buttons: dict[str, dict[str, Any]] | None = None,
    sender: str = "",
) -> list[OutboxMessage]:
    """The broadcast itself for one chat (dedupe key `copy_key`); an album asking for
    acknowledgement gets its button on a short message after it (copyMessages takes no
    buttons). `buttons` caches the Đã nhận markup per language across many chats.

    A copy carries no "forwarded from": in a secretary's private chat, where nothing else says
    whose it is, a line naming the sending committee (`sender`) goes just before it (the
    outbox sends one chat's messages in order)."""
    assert recipient.chat_id is not None
    chat_id = recipient.chat_id
    out: list[OutboxMessage] = []
    if recipient.target_type == SECRETARY and sender:
        out.append(
            OutboxMessage(
                chat_id=chat_id,
                kind=OutboxKind.BROADCAST,
                text=ctx.i18n.t("bc.copy.from_private", locale, sender=escape(sender)),
                not_before=broadcast.send_at,
                dedupe_key=f"{copy_key(broadcast.id, chat_id)}:from",
                origin_type=ORIGIN,
                origin_id=broadcast.id,
            )
        )
    ids = tuple(int(i) for i in broadcast.source_message_ids)
    album = broadcast.kind == "album"
    markup = None
    if broadcast.ack_required:
        cache = buttons if buttons is not None else {}
        if locale not in cache:
            cache[locale] = ack_markup(
                ctx.i18n, locale, broadcast.id, deadline_text(broadcast, ctx, locale)
            )
        markup = cache[locale]
    message = OutboxMessage(
        chat_id=chat_id,
        kind=OutboxKind.BROADCAST,
        reply_markup=None if album else markup,
        pin=broadcast.pin,
        not_before=broadcast.send_at,
        dedupe_key=copy_key(broadcast.id, chat_id),
        origin_type=ORIGIN,
        origin_id=broadcast.id,
    )
    if album:
        message.copy_messages = (broadcast.source_chat_id, ids)
    else:
        message.copy_from = (broadcast.source_chat_id, ids[0])
    out.append(message)
    if markup is not None and album:
        key = "bc.ack.prompt_private" if recipient.target_type == SECRETARY else "bc.ack.prompt"
        out.append(
            OutboxMessage(
                chat_id=chat_id,
                kind=OutboxKind.BROADCAST,
                text=ctx.i18n.t(key, locale),
                reply_markup=markup,
                not_before=broadcast.send_at,
                dedupe_key=f"{copy_key(broadcast.id, chat_id)}:ack",
                origin_type=ORIGIN,
                origin_id=broadcast.id,
            )
        )
    return out


async def queue_progress(
    session: AsyncSession,
    ctx: ServiceContext,
    broadcast: Broadcast,
    chat_id: int,
    text: str,
    markup: dict[str, Any],
) -> int | None:
    """The sender's live progress message (then edited in place by the progress job)."""
    return await enqueue(
        session,
        OutboxMessage(
            chat_id=chat_id,
            kind=OutboxKind.INTERACTIVE,
            text=text[:TEXT_LIMIT],
            reply_markup=markup,
            dedupe_key=f"bc:{broadcast.id}:progress",
            origin_type=ORIGIN_PROGRESS,
            origin_id=broadcast.id,
        ),
        clock=ctx.clock,
    )


def reminder_key(target_type: str) -> str:
    if target_type == SECRETARY:
        return "bc.remind.private"
    if target_type == TargetType.BRANCH:
        return "bc.remind.branch"
    return "bc.remind.chat"


async def queue_reminder(
    session: AsyncSession,
    ctx: ServiceContext,
    broadcast: Broadcast,
    chat_id: int,
    target_type: str,
    reply_to: int,
    locale: str,
) -> bool:
    """One reminder, as a reply to the broadcast in that chat, with the Đã nhận button."""
    deadline = deadline_text(broadcast, ctx, locale) or ""
    entry = await enqueue(
        session,
        OutboxMessage(
            chat_id=chat_id,
            kind=OutboxKind.REMINDER,
            text=ctx.i18n.t(reminder_key(target_type), locale, deadline=deadline),
            reply_markup=ack_markup(ctx.i18n, locale, broadcast.id, deadline),
            reply_to=reply_to,
            dedupe_key=f"bc:{broadcast.id}:{chat_id}:remind",
            origin_type=ORIGIN_REMINDER,
            origin_id=broadcast.id,
        ),
        clock=ctx.clock,
    )
    return entry is not None
