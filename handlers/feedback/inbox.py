"""/inbox: the feedback items waiting for the person, with filters and a pager; each item one
tap from its card (the workflow's card, whose buttons act on it).

The filter state travels in every button (status, category, unit, deadline, page), so the
screen needs no conversation state and survives a restart; the service re-checks every value
(callback data can be forged).
"""

from __future__ import annotations

import enum
from html import escape
from typing import Annotated

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import BeforeValidator
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.inputs import ROW_ID_MAX, parse_int
from bot.services.access.policy import Actor, Role
from bot.services.context import ServiceContext
from bot.services.feedback import inbox as svc
from bot.services.feedback import presentation, workflow
from bot.services.feedback.common import PAGE_SIZE
from bot.services.feedback.views import ItemView
from bot.services.nudges import check_press
from handlers.kit import (
    READS,
    Chats,
    Id,
    RoleFilter,
    Small,
    feature_router,
    locale,
    pager,
    show,
    t,
)
from handlers.kit.presence import pressed_in

inbox_router = feature_router(__name__, Chats.PRIVATE)
# A nudge's Trả lời is pressed in private or in a level's group alike.
nudge_router = feature_router(__name__ + ".nudge", Chats.ANY)

BUTTON_TEXT_MAX = 40
CHOICES_MAX = 60  # buttons on a category or unit picker (a district has a few dozen units)


def _optional_id(value: object) -> int:
    if not isinstance(value, str | int):
        raise ValueError("not a number")
    return parse_int(value, lo=0, hi=ROW_ID_MAX)


OptId = Annotated[int, BeforeValidator(_optional_id)]  # 0: no filter


class InboxCb(CallbackData, prefix="fbri"):
    """A page of the inbox under a filter."""

    s: svc.InboxStatus = svc.InboxStatus.WAITING
    c: OptId = 0  # category option id
    u: OptId = 0  # unit id
    d: svc.Due = svc.Due.ANY
    p: Small = 0


class PickWhat(enum.Enum):
    STATUS = "s"
    CATEGORY = "c"
    UNIT = "u"
    DUE = "d"


class InboxPickCb(CallbackData, prefix="fbrp"):
    """The choices of one filter, the others kept as they are."""

    w: PickWhat
    s: svc.InboxStatus = svc.InboxStatus.WAITING
    c: OptId = 0
    u: OptId = 0
    d: svc.Due = svc.Due.ANY


class InboxOpenCb(CallbackData, prefix="fbro"):
    item_id: Id


def _filters(cb: InboxCb | InboxPickCb) -> svc.InboxFilter:
    return svc.InboxFilter(status=cb.s, category_id=cb.c or None, unit_id=cb.u or None, due=cb.d)


def _list_cb(f: svc.InboxFilter, page: int = 0, **change: object) -> InboxCb:
    state: dict[str, object] = {
        "s": f.status,
        "c": f.category_id or 0,
        "u": f.unit_id or 0,
        "d": f.due,
        "p": page,
    }
    state.update(change)
    return InboxCb.model_validate(state)


def _pick_cb(f: svc.InboxFilter, what: PickWhat) -> InboxPickCb:
    return InboxPickCb(w=what, s=f.status, c=f.category_id or 0, u=f.unit_id or 0, d=f.due)


def _clip(text: str, n: int = BUTTON_TEXT_MAX) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_DUE_KEYS = {svc.Due.ANY: "any", svc.Due.NEAR: "near", svc.Due.OVERDUE: "overdue"}


def _values(view: svc.InboxPage) -> dict[PickWhat, str]:
    """What each filter is set to, in words."""
    f, everything = view.filters, t("fbr.filter.all")
    category = next((c for c in view.categories if c.id == f.category_id), None)
    unit = next((u for u in view.units if u.id == f.unit_id), None)
    return {
        PickWhat.STATUS: t(f"fbr.filter.status.{f.status.value}"),
        PickWhat.CATEGORY: (
            svc.category_label(category.code, view.category_names, locale())
            if category
            else everything
        ),
        PickWhat.UNIT: unit.name if unit else everything,
        PickWhat.DUE: t(f"fbr.filter.due.{_DUE_KEYS[f.due]}"),
    }


def _line(n: int, line: svc.InboxLine, view: svc.InboxPage) -> str:
    marker = "" if line.marker is svc.Marker.NONE else t(f"fbr.marker.{line.marker.value}")
    return t(
        "fbr.inbox.line",
        n=n,
        number=line.number,
        branch=escape(line.branch),
        category=escape(svc.category_label(line.category, view.category_names, locale())),
        status=t(f"fbr.status.{line.status}"),
        marker=marker,
    )


def inbox_screen(view: svc.InboxPage) -> tuple[str, InlineKeyboardMarkup | None]:
    if not view.has_levels:
        return t("fbr.inbox.no_levels"), None
    values = _values(view)
    shown = [values[PickWhat.STATUS]]
    if view.filters.category_id:
        shown.append(values[PickWhat.CATEGORY])
    if view.filters.unit_id:
        shown.append(values[PickWhat.UNIT])
    if view.filters.due is not svc.Due.ANY:
        shown.append(values[PickWhat.DUE])
    lines = [
        t("fbr.inbox.title", total=view.total),
        t("fbr.inbox.filters", filters=escape(" · ".join(shown))),
    ]
    if view.pages > 1:
        lines.append(t("fbr.inbox.page", page=view.page + 1, pages=view.pages))
    lines.append("")
    if not view.lines:
        lines.append(t("fbr.inbox.empty"))
    else:
        first = view.page * PAGE_SIZE + 1
        lines += [_line(n, line, view) for n, line in enumerate(view.lines, start=first)]
        lines += ["", t("fbr.inbox.hint")]

    kb = InlineKeyboardBuilder()
    for line in view.lines:
        icon = "" if line.marker is svc.Marker.NONE else t(f"fbr.marker.{line.marker.value}_icon")
        text = _clip(f"{icon}{' ' if icon else ''}{line.number} · {line.branch}")
        kb.button(text=text, callback_data=InboxOpenCb(item_id=line.item_id))
    pickers = [(PickWhat.STATUS, "fbr.filter.status")]
    if view.categories:
        pickers.append((PickWhat.CATEGORY, "fbr.filter.category"))
    if view.units:
        pickers.append((PickWhat.UNIT, "fbr.filter.unit"))
    pickers.append((PickWhat.DUE, "fbr.filter.due"))
    for what, key in pickers:
        kb.button(
            text=_clip("🔎 " + t(key, value=values[what])),
            callback_data=_pick_cb(view.filters, what),
        )
    markup = pager(kb, view.page, view.pages, lambda p: _list_cb(view.filters, p))
    return "\n".join(lines), markup


def pick_screen(view: svc.InboxPage, what: PickWhat) -> tuple[str, InlineKeyboardMarkup]:
    f = view.filters
    choices: list[tuple[str, InboxCb]] = []
    if what is PickWhat.STATUS:
        choices = [(t(f"fbr.filter.status.{s.value}"), _list_cb(f, s=s)) for s in svc.InboxStatus]
    elif what is PickWhat.CATEGORY:
        choices = [(t("fbr.filter.all"), _list_cb(f, c=0))] + [
            (svc.category_label(c.code, view.category_names, locale()), _list_cb(f, c=c.id))
            for c in view.categories[:CHOICES_MAX]
        ]
    elif what is PickWhat.UNIT:
        choices = [(t("fbr.filter.all"), _list_cb(f, u=0))] + [
            (u.name, _list_cb(f, u=u.id)) for u in view.units[:CHOICES_MAX]
        ]
    else:
        choices = [(t(f"fbr.filter.due.{_DUE_KEYS[d]}"), _list_cb(f, d=d)) for d in svc.Due]
    kb = InlineKeyboardBuilder()
    for text, cb in choices:
        kb.button(text=_clip(text), callback_data=cb)
    kb.button(text=t("fbr.button.back"), callback_data=_list_cb(f))
    kb.adjust(1)
    return t(f"fbr.filter.pick.{what.name.lower()}"), kb.as_markup()


@inbox_router.message(Command("inbox"), RoleFilter(Role.KNOWN), flags=READS)
async def cmd_inbox(
    message: Message, session: AsyncSession, actor: Actor, ctx: ServiceContext
) -> None:
    view = await svc.inbox(session, ctx, actor, svc.InboxFilter(), 0)
    text, markup = inbox_screen(view)
    await message.answer(text, reply_markup=markup)


@inbox_router.callback_query(InboxCb.filter(), flags=READS)
async def on_inbox_page(
    query: CallbackQuery,
    callback_data: InboxCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    filters = _filters(callback_data)
    view = await svc.inbox(session, ctx, actor, filters, callback_data.p)
    text, markup = inbox_screen(view)
    await show(query, text, markup)


@inbox_router.callback_query(InboxPickCb.filter(), flags=READS)
async def on_inbox_pick(
    query: CallbackQuery,
    callback_data: InboxPickCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    view = await svc.inbox(session, ctx, actor, _filters(callback_data), 0)
    if not view.has_levels:
        text, markup = inbox_screen(view)
        await show(query, text, markup)
        return
    text, picker = pick_screen(view, callback_data.w)
    await show(query, text, picker)


def item_markup(ctx: ServiceContext, view: ItemView) -> InlineKeyboardMarkup | None:
    """The level's buttons for someone who acts at its level; accept / reopen for whoever
    speaks for the submitter of an answered item; none for a reader who may only look."""
    if view.can_act:
        raw = presentation.card_markup(ctx.i18n, locale(), view)
    elif view.speaks_for_submitter and view.item.status == svc.ANSWERED:
        raw = presentation.reply_markup(
            ctx.i18n, locale(), view.item, presentation.answer_acts(view.item)
        )
    else:
        return None
    return InlineKeyboardMarkup.model_validate(raw) if raw.get("inline_keyboard") else None


@nudge_router.callback_query(NudgeCb.filter(F.a == NudgeAct.ANSWER))
async def on_nudge_answer(
    query: CallbackQuery,
    callback_data: NudgeCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    """Trả lời under a nudge: the item's card, in private; pressed in the level's group by a
    checked current member of it, the card comes there, where its members act on it (the
    group's press is their right to act, as on the card itself)."""
    cb = callback_data
    await check_press(session, ctx, cb.a, cb.id, cb.c)
    via = await pressed_in(query, actor, bot)
    opened = InboxOpenCb(item_id=callback_data.id)
    await on_inbox_open(query, opened, session, actor, ctx, bot, via_chat=via)


@inbox_router.callback_query(InboxOpenCb.filter(), flags=READS)
async def on_inbox_open(
    query: CallbackQuery,
    callback_data: InboxOpenCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
    via_chat: int | None = None,
) -> None:
    """The item's card as a new message under the list (the list stays where it was); the
    workflow decides whether the person may see it (`fb.not_your_level`). `via_chat`: the
    level's group a nudge's Trả lời was pressed in, by a checked current member of it."""
    view = await workflow.item_view(session, actor, callback_data.item_id, via_chat=via_chat)
    if via_chat is not None:
        # Opened from the level's group: the card goes there, where its members act on it.
        lang = ctx.default_locale
        text = presentation.card_text(ctx.i18n, lang, view, ctx.tz, now=ctx.now())
        raw = presentation.card_markup(ctx.i18n, lang, view) if view.can_act else {}
        markup = InlineKeyboardMarkup.model_validate(raw) if raw.get("inline_keyboard") else None
        await query.answer()
        await bot.send_message(via_chat, text, reply_markup=markup)
        return
    text = presentation.card_text(ctx.i18n, locale(), view, ctx.tz, now=ctx.now())
    await query.answer()
    await bot.send_message(query.from_user.id, text, reply_markup=item_markup(ctx, view))
