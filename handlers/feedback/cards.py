"""The buttons of the feedback messages: a level's card (take, forward, ask, answer, close,
reject), the forward targets, the answer the submitter gets (accept, reopen, details) and
"Chuyển thành kiến nghị" on report summaries; and the texts these presses ask for.

A card sits in a level's group chat (or in an admin's or secretary's private chat). A press in
a group counts as that chat's only from a known account that is a current member of it (asked of
Telegram, `handlers.kit.presence`; anyone else is refused), and then names its chat as
`via_chat`; every
workflow call checks, each time, that the person may act on the item at its current level and
that the card is not stale (callback data can be forged, a card pressed twice). What needs a
text (a question, an answer, a reason, details) is asked in the presser's private chat, after
the same checks, keeping the item, the version and the card's chat: the typed text then acts
exactly as the press would have.
"""

from __future__ import annotations

import contextlib
import logging
from html import escape
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, Refused
from bot.services.context import ServiceContext
from bot.services.feedback import items, prompts, workflow
from bot.services.feedback.common import item_number
from bot.services.feedback.levels import LevelRef
from bot.services.feedback.presentation import esc
from bot.services.feedback.prompts import TextAct
from handlers.feedback.callbacks import (
    CardAct,
    CardCb,
    ConvertCb,
    ForwardCb,
    PromptCb,
    ReplyAct,
    ReplyCb,
)
from handlers.feedback.states import Typing, TypingDraft, load, private_state
from handlers.kit import PRIVATE, Chats, Magic, advance, feature_router, locale, short, show, t
from handlers.kit.presence import member_chat, pressed_in
from handlers.kit.proposals import DONE, label
from storage.models import FeedbackItem

router = feature_router(__name__, Chats.PRIVATE)
any_chat = feature_router(__name__ + ".buttons", Chats.ANY)

NOT_COMMAND = Magic(~F.text.startswith("/"))
QUOTE = 300  # how much of the item's text a prompt quotes
TARGETS_MAX = 40
CARD_TEXT: dict[CardAct, TextAct] = {
    CardAct.ASK: TextAct.ASK,
    CardAct.ANSWER: TextAct.ANSWER,
    CardAct.CLOSE: TextAct.CLOSE,
    CardAct.REJECT: TextAct.REJECT,
}
SUBMITTER_ACTS = frozenset({TextAct.REOPEN, TextAct.INFO})
# Refusals of a typed text that leave the question open: type it again, shorter.
RETYPE = frozenset({"fb.text_empty", "fb.text_too_long", "fb.reason_empty", "fb.reason_too_long"})
log = logging.getLogger(__name__)
Card = tuple[str, dict[str, Any] | None]


async def _via(query: CallbackQuery, actor: Actor, bot: Bot) -> int | None:
    """The group chat a press came from, when it counts as a current member's press (the
    level's chat is the right to act there); None in private; anyone else is refused."""
    return await pressed_in(query, actor, bot)


def _markup(raw: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    if raw is None or not raw.get("inline_keyboard"):
        return None
    return InlineKeyboardMarkup.model_validate(raw)


def _cancel_markup() -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text=t("fbui.cancel"), callback_data=PromptCb().pack())
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def _redraw(bot: Bot, chat_id: int, message_id: int, card: Card) -> None:
    """The card the person pressed, as the item now stands (best effort: an old or deleted
    message stays as it was; its buttons are then refused as stale)."""
    text, raw = card
    try:
        await bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=_markup(raw)
        )
    except TelegramAPIError:
        log.info("feedback card %s/%s not redrawn", chat_id, message_id, exc_info=True)


async def _ask_in_private(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    act: TextAct,
    item_id: int,
    version: int,
) -> None:
    """Check the press as the act will, then ask the presser, in private, for its text."""
    via = await _via(query, actor, bot)
    view = await prompts.before_text(session, actor, act, item_id, version, via_chat=via)
    message = query.message
    draft = TypingDraft(
        act=act,
        item_id=item_id,
        version=version,
        via_chat=via,
        number=view.number,
        card_chat=message.chat.id if message is not None else None,
        card_message=message.message_id if message is not None else None,
    )
    prompt = t(f"fbui.prompt.{act.value}", item=view.number)
    prompt += "\n" + t("fbui.prompt.quote", text=esc(view.item.text, QUOTE))
    user_id = query.from_user.id
    screen = bot.send_message(user_id, prompt, reply_markup=_cancel_markup())
    try:
        data = draft.model_dump(mode="json")
        await advance(private_state(state, bot, user_id), Typing.TEXT, data, screen)
    except (TelegramForbiddenError, TelegramBadRequest):
        # The person never opened a private chat with the bot (or blocked it).
        raise Refused("fbui.open_private") from None
    if via is not None:
        await query.answer(t("fbui.prompt.see_private"), show_alert=True)
    else:
        await query.answer()


# --- a level's card ----------------------------------------------------------------------------


@any_chat.callback_query(CardCb.filter())
async def on_card(
    query: CallbackQuery,
    callback_data: CardCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    state: FSMContext,
    bot: Bot,
) -> None:
    cb, via, ctx = callback_data, await _via(query, actor, bot), ctx
    if cb.a is CardAct.TAKE:
        item = await workflow.take(session, ctx, actor, cb.item_id, cb.version, via_chat=via)
        lang = ctx.default_locale if via is not None else locale()
        text, raw = await prompts.card_of(session, ctx, actor, item, lang, via_chat=via)
        await show(query, text, _markup(raw), toast=t("fbui.card.taken"))
        await _redraw_copies(bot, session, ctx, item, query.from_user.id)
        return
    if cb.a is not CardAct.FORWARD:
        await _ask_in_private(
            query, state, bot, session, actor, CARD_TEXT[cb.a], cb.item_id, cb.version
        )
        return
    # The targets, in reply to the card, where the card is: a target pressed there is a
    # press of that chat (a forward from a unit's group is the unit's).
    view, targets = await prompts.forward_choices(session, actor, cb.item_id, via_chat=via)
    kb = InlineKeyboardBuilder()
    for level in targets[:TARGETS_MAX]:
        data = ForwardCb(
            item_id=cb.item_id, version=cb.version, level=level.type, level_id=level.id
        )
        kb.row(InlineKeyboardButton(text=short(level.name, 60), callback_data=data.pack()))
    cancel = PromptCb(item=cb.item_id).pack()
    kb.row(InlineKeyboardButton(text=t("fbui.cancel"), callback_data=cancel))
    message = query.message
    assert isinstance(message, Message)  # the chat filter lets only presses on messages in
    await query.answer()
    await message.reply(t("fbui.forward.pick", item=view.number), reply_markup=kb.as_markup())


def _pressed_text(query: CallbackQuery) -> str:
    message = query.message
    if isinstance(message, Message) and message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for b in row:
                if b.callback_data == query.data:
                    return b.text
    return ""


@any_chat.callback_query(ForwardCb.filter())
async def on_forward(
    query: CallbackQuery,
    callback_data: ForwardCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    """Send it there; the list becomes a line saying where, the card loses its buttons."""
    cb, via = callback_data, await _via(query, actor, bot)
    to = LevelRef(cb.level, cb.level_id)
    item = await workflow.forward(session, ctx, actor, cb.item_id, cb.version, via_chat=via, to=to)
    number = item_number(item.year, item.number)
    text = t("fbui.forward.done", item=number, level=escape(_pressed_text(query)))
    await show(query, text, toast=t("fbui.forward.toast"))
    message = query.message
    card = message.reply_to_message if isinstance(message, Message) else None
    if card is not None and card.from_user is not None and card.from_user.id == bot.id:
        lang = ctx.default_locale if via is not None else locale()
        drawn = await prompts.card_of(session, ctx, actor, item, lang, via_chat=via)
        await _redraw(bot, card.chat.id, card.message_id, drawn)
    await _redraw_copies(bot, session, ctx, item, query.from_user.id)


async def _redraw_copies(
    bot: Bot, session: AsyncSession, ctx: ServiceContext, item: FeedbackItem, presser: int
) -> None:
    """The other private copies of the item's card (the deputy's, when the secretary acted),
    redrawn as the item now stands: no button left that the item's move made stale."""
    for copy in await prompts.other_copies(session, ctx, item, but=presser):
        await _redraw(bot, copy.chat_id, copy.message_id, (copy.text, copy.markup))


# --- the answer (or question) the submitter gets -----------------------------------------------


@any_chat.callback_query(ReplyCb.filter())
async def on_reply(
    query: CallbackQuery,
    callback_data: ReplyCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    state: FSMContext,
    bot: Bot,
) -> None:
    cb = callback_data
    if cb.a is not ReplyAct.ACCEPT:
        act = TextAct.REOPEN if cb.a is ReplyAct.REOPEN else TextAct.INFO
        await _ask_in_private(query, state, bot, session, actor, act, cb.item_id, cb.version)
        return
    item = await workflow.accept(session, ctx, actor, cb.item_id, cb.version)
    number = item_number(item.year, item.number)
    await query.answer(t("fbui.reply.accepted", item=number), show_alert=True)
    message = query.message
    if isinstance(message, Message):
        await message.edit_reply_markup(reply_markup=None)


# --- the typed texts ---------------------------------------------------------------------------


@router.message(StateFilter(Typing.TEXT), Magic(F.text), NOT_COMMAND)
async def on_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    """The text a press asked for. Empty or too long: refused, type it again. Any other
    refusal (the item moved on, was closed or answered meanwhile) ends the question."""
    d = await load(state, TypingDraft)
    # The press was a member's; the act now must be one too (they may have left meanwhile).
    await member_chat(bot, actor, d.via_chat)
    try:
        item = await prompts.with_text(
            session,
            ctx,
            actor,
            d.act,
            d.item_id,
            d.version,
            message.text or "",
            via_chat=d.via_chat,
        )
    except Refused as err:
        if err.key not in RETYPE:
            # The refusal rolls the update back; the question's end is committed on its own.
            await session.rollback()
            await state.clear()
            await session.commit()
        raise
    await state.clear()
    await message.answer(t(f"fbui.done.{d.act.value}", item=d.number))
    if d.card_chat is None or d.card_message is None:
        return
    if d.act in SUBMITTER_ACTS:
        # The answer or question pressed: its buttons are used up.
        with contextlib.suppress(TelegramAPIError):
            await bot.edit_message_reply_markup(
                chat_id=d.card_chat, message_id=d.card_message, reply_markup=None
            )
        return
    lang = ctx.default_locale if d.via_chat is not None else locale()
    drawn = await prompts.card_of(session, ctx, actor, item, lang, via_chat=d.via_chat)
    await _redraw(bot, d.card_chat, d.card_message, drawn)
    await _redraw_copies(bot, session, ctx, item, actor.telegram_id)


@router.message(StateFilter(Typing.TEXT), NOT_COMMAND)
async def on_typed_other(message: Message) -> None:
    """A photo or a sticker where a text is asked for."""
    await message.answer(t("fbui.prompt.text_only"), reply_markup=_cancel_markup())


@any_chat.callback_query(PromptCb.filter())
async def on_prompt_cancel(
    query: CallbackQuery,
    callback_data: PromptCb,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
    bot: Bot,
) -> None:
    """Cancel under a prompt (in private) or under the forward targets (where the card is:
    only for someone who may act on the item there, like the targets themselves)."""
    message = query.message
    in_private = message is not None and message.chat.type == PRIVATE
    if in_private and await state.get_state() == Typing.TEXT.state:
        await state.clear()
    if not in_private:
        via = await _via(query, actor, bot)
        if not callback_data.item:
            raise Refused("fb.not_your_level")
        view = await workflow.item_view(session, actor, callback_data.item, via_chat=via)
        if not view.can_act:
            raise Refused("fb.not_your_level")
    await show(query, t("fbui.cancelled"))


# --- "Chuyển thành kiến nghị" on report summaries ----------------------------------------------


@router.callback_query(ConvertCb.filter())
async def on_convert(
    query: CallbackQuery,
    callback_data: ConvertCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """One proposal becomes an item on the branch's behalf; its button shows the number."""
    cb = callback_data
    item = await items.from_proposal(session, ctx, actor, cb.source, cb.source_id, cb.index)
    number = item_number(item.year, item.number)
    await query.answer(t("fbui.convert.done", number=number), show_alert=True)
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    rows = [
        [
            b.model_copy(update={"text": label(DONE, f"{number} · {b.text.split(' ', 1)[-1]}")})
            if b.callback_data == query.data
            else b
            for b in row
        ]
        for row in message.reply_markup.inline_keyboard
    ]
    await message.edit_reply_markup(reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
