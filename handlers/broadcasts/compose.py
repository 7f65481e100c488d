"""/broadcast in private: "send or forward me the message", then who receives it and the
options (`handlers.broadcasts.panel`), the preview, Gửi or Hủy.

The message is the admin's own, in this chat: the services copy it from here, so formatting and
files arrive exactly as written. The preview copies it back to the admin the same way, with the
button recipients will see, then says how many chats it reaches and which it cannot, by name.
Gửi carries the version that preview showed; the service refuses an old one, a second press,
and anything the person may not do. An album is gathered first (`handlers.broadcasts.album`).
"""

from __future__ import annotations

from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcasts as svc
from bot.services.access.policy import Actor, Refused
from bot.services.broadcasts import compose
from bot.services.broadcasts.entry import begin
from bot.services.broadcasts.notices import deadline_text
from bot.services.context import ServiceContext
from handlers.broadcasts import album
from handlers.broadcasts.callbacks import CancelCb, PreviewCb, SendCb
from handlers.broadcasts.screens import (
    audience_screen,
    options_text,
    preview_markup,
    reach_lines,
)
from handlers.kit import Chats, advance, feature_router, locale, show, t, when

router = feature_router(__name__, Chats.PRIVATE)


class Compose(StatesGroup):
    MESSAGE = State()  # waiting for the message to send (data: the district)


class NotCommand(Filter):
    """Any message but a command (a command typed meanwhile goes to its own handler)."""

    async def __call__(self, event: TelegramObject) -> bool:
        text = event.text if isinstance(event, Message) else None
        return not (text or "").startswith("/")


@router.message(Command("broadcast"))
async def cmd_broadcast(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    """Who may send, for which district (`/broadcast D01` for an admin of several); then wait
    for the message."""
    options = await begin(session, actor, command.args)
    screen = message.answer(t("bcui.ask_message"))
    await advance(state, Compose.MESSAGE, {"district": options.district_id}, screen)


def _excerpt(message: Message) -> str:
    return (message.text or message.caption or "")[:200]


@router.message(StateFilter(Compose.MESSAGE), NotCommand())
async def on_message(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    ctx: ServiceContext,
) -> None:
    """The message to send: a draft of it, and the audience screen."""
    district = (await state.get_data()).get("district")
    if not isinstance(district, int):
        raise Refused("kit.expired")
    ids: tuple[int, ...] = (message.message_id,)
    excerpt = _excerpt(message)
    group = message.media_group_id
    if group is not None:
        gathered = await album.collect(message.chat.id, group, message.message_id, excerpt)
        if gathered is None:
            return  # another item of the album takes it
        ids, excerpt = gathered
    poll = message.poll
    kind = compose.source_kind(
        message.content_type,
        in_album=group is not None,
        quiz_answer_known=not (poll and poll.type == "quiz" and poll.correct_option_id is None),
    )
    source = svc.Source(chat_id=message.chat.id, message_ids=ids, kind=kind, excerpt=excerpt)
    draft = await compose.start_draft(session, ctx, actor, district, source)
    options = await svc.choices(session, actor, draft.district_id)
    text, markup = audience_screen(draft, options)
    await state.clear()
    await message.answer(text, reply_markup=markup)


# The preview ------------------------------------------------------------------------------------


async def show_preview(
    query: CallbackQuery,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
    broadcast_id: int,
) -> None:
    """The message copied back as recipients will see it, then the summary with Gửi."""
    preview = await compose.preview(session, ctx, actor, broadcast_id)
    b = preview.broadcast
    chat = query.from_user.id
    ids = [int(i) for i in b.source_message_ids]
    markup = None
    if b.ack_required:
        shown = svc.ack_markup(ctx.i18n, locale(), b.id, deadline_text(b, ctx, locale()))
        # The button as recipients see it; pressed here, it only explains itself.
        shown["inline_keyboard"][0][0]["callback_data"] = PreviewCb(b=b.id).pack()
        markup = InlineKeyboardMarkup.model_validate(shown)
    try:
        if b.kind == "album":
            await bot.copy_messages(chat, b.source_chat_id, ids)
            if markup is not None:
                await bot.send_message(chat, t("bc.ack.prompt"), reply_markup=markup)
        else:
            await bot.copy_message(chat, b.source_chat_id, ids[0], reply_markup=markup)
    except TelegramBadRequest as err:
        if "not found" in err.message or "can't be copied" in err.message:
            raise Refused("bcui.source_gone") from None
        raise
    await query.answer()
    await bot.send_message(
        chat, _summary(preview, ctx), reply_markup=preview_markup(b.id, preview.version)
    )


def _summary(preview: svc.Preview, ctx: ServiceContext) -> str:
    b = preview.broadcast
    lines = [t("bcui.preview.title", n=preview.reachable)]
    if preview.unreachable:
        lines += ["", t("bcui.preview.unreachable", n=len(preview.unreachable))]
        reasons = [
            (r.name, t(svc.reason_key(r.reason or "not_linked"))) for r in preview.unreachable
        ]
        lines += reach_lines(reasons)
    options = options_text(b, ctx.tz).split("\n", 1)[-1]  # without its title
    lines += ["", options, "", t("bcui.preview.confirm")]
    return "\n".join(lines)[:4000]


@router.callback_query(PreviewCb.filter())
async def on_preview_button(query: CallbackQuery) -> None:
    await query.answer(t("bcui.preview.button_hint"), show_alert=True)


# Gửi, Hủy ---------------------------------------------------------------------------------------


@router.callback_query(SendCb.filter())
async def on_send(
    query: CallbackQuery,
    callback_data: SendCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """Gửi: queued (or scheduled) by the service; the progress message follows."""
    cb = callback_data
    b = await compose.send(session, ctx, actor, cb.b, cb.version)
    if b.send_at is not None:
        text = t("bcui.sent.later", when=when(b.send_at, ctx.tz))
    else:
        text = t("bcui.sent.now")
    await show(query, text, toast=t("bcui.sent.toast"))


@router.callback_query(CancelCb.filter())
async def on_cancel(
    query: CallbackQuery,
    callback_data: CancelCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    ctx: ServiceContext,
) -> None:
    """Hủy: the draft is given up; nothing was queued, nothing is."""
    b = await compose.discard(session, ctx, actor, callback_data.b)
    await state.clear()
    await show(query, t("bcui.cancelled", excerpt=escape(b.excerpt[:60])))
