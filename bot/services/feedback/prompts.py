"""What a press on a feedback message needs around the workflow: the checks before a text is
asked for, the act once the text comes, and the item's card to redraw the pressed message.

Ask, answer, close and reject (a level's card) and reopen and details (the submitter's answer
or question) need a typed text, which the bot asks for in the presser's private chat. A press
the act would refuse (not theirs, closed, an older card, the wrong moment, the one reopening
already used) is refused at once, with nothing asked and nothing stored, so nobody types an
answer only to hear it cannot be given. The act checks everything again when the text comes
(the item may have moved meanwhile).

Cards are not edited by the notices (a new card is posted where the item arrives): the pressed
card is redrawn by the handler from `card_of`, so its buttons carry the new version and vanish
from a level that no longer holds the item.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from bot.services.feedback import presentation, workflow
from bot.services.feedback.acts import held_item, require_status, submitters_item
from bot.services.feedback.common import DEFAULT_CONFIG, FeedbackConfig, FeedbackError
from bot.services.feedback.levels import Level
from bot.services.feedback.notices import FeedbackNotices
from bot.services.feedback.views import ItemView, build_view
from storage.models import FeedbackItem
from storage.models.feedback import FeedbackStatus
from storage.repositories.feedback import FeedbackRepository


class TextAct(enum.Enum):
    """What a typed text is for: the workflow call it ends in."""

    ASK = "ask"
    ANSWER = "answer"
    CLOSE = "close"
    REJECT = "reject"
    REOPEN = "reopen"
    INFO = "info"


# The statuses each level act takes: the workflow's own, so the press check cannot drift.
LEVEL_ACTS: dict[TextAct, tuple[FeedbackStatus, ...]] = {
    TextAct.ASK: workflow.ASK_FROM,
    TextAct.ANSWER: workflow.ANSWER_FROM,
    TextAct.CLOSE: workflow.CLOSE_FROM,
    TextAct.REJECT: workflow.REJECT_FROM,
}


async def before_text(
    session: AsyncSession,
    actor: Actor,
    act: TextAct,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> ItemView:
    """The item, when `actor` may give this text now; else the act's own refusal."""
    if act in LEVEL_ACTS:
        item, _level = await held_item(session, actor, item_id, version, via_chat)
        require_status(item, *LEVEL_ACTS[act])
    elif act is TextAct.REOPEN:
        item, _level = await submitters_item(session, actor, item_id, version)
        if item.status != FeedbackStatus.ANSWERED:
            raise FeedbackError("fb.bad_state")
        if item.reopened >= config.reopen_limit:
            raise FeedbackError("fb.reopen_used", limit=config.reopen_limit)
    else:
        # Details answer the question, whatever happened to the item's version since.
        item, _level = await submitters_item(session, actor, item_id, None)
        if item.status != FeedbackStatus.ASKED:
            raise FeedbackError("fb.not_asked")
    return await build_view(session, item, actor, via_chat)


async def with_text(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    act: TextAct,
    item_id: int,
    version: int,
    text: str,
    *,
    via_chat: int | None = None,
) -> FeedbackItem:
    """The act a press asked a text for, now that the text has come."""
    args = (session, ctx, actor, item_id, version)
    if act is TextAct.ASK:
        return await workflow.ask(*args, via_chat=via_chat, question=text)
    if act is TextAct.ANSWER:
        return await workflow.answer(*args, via_chat=via_chat, text=text)
    if act is TextAct.CLOSE:
        return await workflow.close(*args, via_chat=via_chat, reason=text)
    if act is TextAct.REJECT:
        return await workflow.reject(*args, via_chat=via_chat, reason=text)
    if act is TextAct.REOPEN:
        return await workflow.reopen(*args, text)
    return await workflow.reply_info(session, ctx, actor, item_id, text)


async def forward_choices(
    session: AsyncSession, actor: Actor, item_id: int, *, via_chat: int | None = None
) -> tuple[ItemView, list[Level]]:
    """The item and where the person may send it now (the buttons after "Chuyển")."""
    targets = await workflow.forward_targets(session, actor, item_id, via_chat=via_chat)
    item = await FeedbackRepository(session).item(item_id)
    assert item is not None  # forward_targets refused a missing one
    return await build_view(session, item, actor, via_chat), targets


async def card_of(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    item: FeedbackItem,
    locale: str,
    *,
    via_chat: int | None = None,
) -> tuple[str, dict[str, Any] | None]:
    """The item's card as the person who just acted sees it where they pressed: its buttons
    only while they may still act on it there."""
    view = await build_view(session, item, actor, via_chat)
    text = presentation.card_text(ctx.i18n, locale, view, ctx.tz, now=ctx.now())
    markup = presentation.card_markup(ctx.i18n, locale, view) if view.can_act else None
    return text, markup


@dataclass(frozen=True)
class Copy:
    """A card the item's earlier level holds in someone's private chat, as it should read."""

    chat_id: int
    message_id: int
    text: str
    markup: dict[str, Any] | None


async def other_copies(
    session: AsyncSession, ctx: ServiceContext, item: FeedbackItem, *, but: int
) -> list[Copy]:
    """The item's private cards other than the presser's (`but`), redrawn for their readers:
    after a forward or an act, the deputy's copy says where the item is now and keeps only
    the buttons its reader may still press (none, once the item has left their level)."""
    held = await FeedbackRepository(session).private_cards(item.id)
    cards = [(chat, message) for chat, message in held if chat != but]
    if not cards:
        return []
    locales = await FeedbackNotices(session, ctx).locales_of(c for c, _ in cards)
    out = []
    for chat_id, message_id in cards:
        reader = await load_actor(session, chat_id)
        view = await build_view(session, item, reader)
        loc = locales[chat_id]
        text = presentation.card_text(ctx.i18n, loc, view, ctx.tz, now=ctx.now())
        markup = presentation.card_markup(ctx.i18n, loc, view) if view.can_act else None
        out.append(Copy(chat_id, message_id, text, markup))
    return out
