"""/roster: the leader reviews, re-arranges and publishes; a visitor confirms, passes a visit on
or hands it back; the offered member and the secretary asked to move a meeting answer by button.

Every press names ids only: the service checks, each time, that the person pressing is the
leader, the visitor, the offered member or the secretary (callback data can be forged).
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram import html
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import SnoozeCb
from bot.services.access.policy import Actor, Role
from bot.services.context import ServiceContext
from bot.services.rosters import changes, review
from bot.services.rosters.common import Quarter
from bot.services.rosters.notices import RosterNotices
from bot.services.vn_calendar import to_local
from handlers.kit import (
    Chats,
    RoleFilter,
    feature_router,
    locale,
    short,
    show,
    t,
    when,
)
from handlers.rosters.callbacks import (
    ConfirmCb,
    ConfirmVisitCb,
    HandbackCb,
    MoveAct,
    MoveCb,
    OfferAct,
    OfferCb,
    OfferToCb,
    PeriodCb,
    RosterAct,
    RosterCb,
    VisitAct,
    VisitCb,
)

router = feature_router(__name__, Chats.PRIVATE)
any_chat = feature_router(__name__ + ".buttons", Chats.ANY)


def _own_visits_markup(view: review.RosterView, actor: Actor) -> InlineKeyboardMarkup | None:
    """One row per own visit: pass on / hand back (published rosters only)."""
    mine = {m.member_id for m in actor.memberships}
    kb = InlineKeyboardBuilder()
    for v in view.visits:
        if v.visitor_member_id not in mine:
            continue
        branch = short(view.branches[v.branch_id].name, 28)
        kb.row(
            InlineKeyboardButton(
                text=f"{t('roster.button.offer')} · {branch}",
                callback_data=VisitCb(visit_id=v.id, a=VisitAct.OFFER).pack(),
            ),
            InlineKeyboardButton(
                text=t("roster.button.handback"),
                callback_data=VisitCb(visit_id=v.id, a=VisitAct.HANDBACK).pack(),
            ),
        )
    markup = kb.as_markup()
    return markup if markup.inline_keyboard else None


async def _screen(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, view: review.RosterView, edit: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    text = review.review_text(ctx, locale(), view)
    if edit and not view.published:
        text += "\n\n" + t("roster.draft_hint")
        markup = RosterNotices(session, ctx).review_markup(locale(), view.roster)
        return text, InlineKeyboardMarkup.model_validate(markup)
    return text, _own_visits_markup(view, actor) if view.published else None


def _period_picker(ctx: ServiceContext, offered: list[Quarter]) -> tuple[str, InlineKeyboardMarkup]:
    """/roster without a quarter: this quarter (while its visits have not begun) and the
    coming one as buttons."""
    kb = InlineKeyboardBuilder()
    current = Quarter.of(ctx.today())
    for q in offered:
        key = "roster.pick.this" if q == current else "roster.pick.next"
        kb.row(
            InlineKeyboardButton(
                text=t(key, quarter=q.label(locale())),
                callback_data=PeriodCb(y=q.year, q=q.quarter).pack(),
            )
        )
    return t("roster.pick"), kb.as_markup()


async def _send_rosters(
    message: Message,
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    quarter: Quarter,
) -> None:
    """Each group the person sits in: the draft (leaders) or the published roster."""
    groups = await review.rosters_for(session, actor, quarter)
    if not groups:
        await message.answer(t("roster.none"))
        return
    for group, roster, edit in groups:
        if roster is None and edit:
            roster = await review.draft_for_group(session, ctx, actor, group, quarter)
        if roster is None:
            label = t("roster.quarter_short", quarter=quarter.label(locale()))
            await message.answer(t("roster.none_yet", group=group.name, quarter=label))
            continue
        view = await review.load_view(session, roster)
        text, markup = await _screen(session, ctx, actor, view, edit)
        await message.answer(text, reply_markup=markup)


@router.message(Command("roster"), RoleFilter(Role.KNOWN))
async def cmd_roster(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """`/roster`: the quarter offered as buttons; `/roster 2027-Q1`: that quarter at once."""
    arg = (command.args or "").strip()
    if not arg:
        if not await review.rosters_for(session, actor, Quarter.of(ctx.today())):
            await message.answer(t("roster.none"))
            return
        text, markup = _period_picker(ctx, await review.offered_quarters(session, ctx, actor))
        await message.answer(text, reply_markup=markup)
        return
    await _send_rosters(message, session, ctx, actor, Quarter.parse(arg))


@router.callback_query(PeriodCb.filter())
async def on_period(
    query: CallbackQuery,
    callback_data: PeriodCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """A quarter pressed: only an offered one (data can be forged); the picker says which was
    chosen and the rosters follow below it."""
    quarter = await review.offered_quarter(session, ctx, actor, callback_data.y, callback_data.q)
    await show(query, t("roster.pick.chosen", quarter=quarter.label(locale())))
    if isinstance(query.message, Message):
        await _send_rosters(query.message, session, ctx, actor, quarter)


@router.callback_query(RosterCb.filter())
async def on_review(
    query: CallbackQuery,
    callback_data: RosterCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    cb = callback_data
    if cb.a is RosterAct.MOVE:
        await changes.request_move(session, ctx, actor, cb.roster_id, cb.version, cb.i)
        await query.answer(t("roster.move.asked"), show_alert=True)
        return
    if cb.a is RosterAct.ASK_PUBLISH:
        await _publish_check(query, session, ctx, actor, cb)
        return
    toast = None
    if cb.a is RosterAct.REGENERATE:
        roster = await review.regenerate(session, ctx, actor, cb.roster_id, cb.version)
        toast = t("roster.regenerated")
    elif cb.a is RosterAct.PUBLISH:
        view = await review.publish(session, ctx, actor, cb.roster_id, cb.version)
        roster = view.roster
        toast = t("roster.published.done")
    else:
        roster = await review.leader_roster(session, actor, cb.roster_id)
    view = await review.load_view(session, roster)
    text, markup = await _screen(session, ctx, actor, view, True)
    await show(query, text, markup, toast=toast)


def _used(message: Message, data: str | None) -> InlineKeyboardMarkup | None:
    """The pressed message's keyboard without the button just used; none at all once only
    "Nhắc lại sau" would be left (nothing is left to put off)."""
    rows = [
        [b for b in row if b.callback_data != data]
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else [])
    ]
    rows = [row for row in rows if row]
    snooze = SnoozeCb.__prefix__ + SnoozeCb.__separator__
    if all((b.callback_data or "").startswith(snooze) for row in rows for b in row):
        return None
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _outcome(query: CallbackQuery, outcome: str) -> None:
    """A confirm's outcome said under the pressed message itself, its used button gone (a
    toast too), so the message never offers again what is already done."""
    await query.answer(outcome)
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        text = f"{message.html_text}\n\n{outcome}"
        await message.edit_text(text, reply_markup=_used(message, query.data))


async def _publish_check(
    query: CallbackQuery,
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    cb: RosterCb,
) -> None:
    """Công bố pressed: the draft as it stands and what publishing does, with the confirm and
    a way back (nothing is sent before the confirm)."""
    roster, group = await review.publishable(session, ctx, actor, cb.roster_id, cb.version)
    view = await review.load_view(session, roster)
    quarter = Quarter(roster.year, roster.quarter).label(locale())
    text = review.review_text(ctx, locale(), view)
    text += "\n\n" + t("roster.publish.check", quarter=quarter, group=html.quote(group.name))
    kb = InlineKeyboardBuilder()
    for key, act in (
        ("roster.button.publish_ok", RosterAct.PUBLISH),
        ("roster.button.publish_back", RosterAct.VIEW),
    ):
        data = RosterCb(roster_id=roster.id, version=roster.version, a=act).pack()
        kb.row(InlineKeyboardButton(text=t(key), callback_data=data))
    await show(query, text, kb.as_markup())


@any_chat.callback_query(ConfirmCb.filter())
async def on_confirm(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """Xác nhận under the visitor's list: every visit of theirs in the roster."""
    n = await review.confirm_visits(session, ctx, actor, callback_data.roster_id)
    await _outcome(query, t("roster.confirmed", n=n))


@any_chat.callback_query(ConfirmVisitCb.filter())
async def on_confirm_visit(
    query: CallbackQuery,
    callback_data: ConfirmVisitCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    """Xác nhận under a nudge's line: exactly that visit."""
    done = await review.confirm_visit(session, ctx, actor, callback_data.visit_id)
    text = t(
        "roster.confirmed_one",
        branch=escape(done.branch.name),
        when=when(done.visit.starts_at, ctx.tz),
    )
    await _outcome(query, text)


@router.callback_query(VisitCb.filter())
async def on_visit(
    query: CallbackQuery,
    callback_data: VisitCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    if callback_data.a is VisitAct.HANDBACK:
        proposal = await changes.hand_back(session, ctx, actor, callback_data.visit_id)
        key = "roster.handback.sent" if proposal.member_id else "roster.ui.handback_nobody"
        await query.answer(t(key), show_alert=True)
        return
    if callback_data.a is VisitAct.BACK:
        view = await review.visit_roster(session, actor, callback_data.visit_id)
        text, markup = await _screen(session, ctx, actor, view, False)
        await show(query, text, markup)
        return
    visit, branch, mates = await review.pass_on_choices(session, ctx, actor, callback_data.visit_id)
    about = {"when": when(visit.starts_at, ctx.tz), "branch": escape(branch.name)}
    if callback_data.a is VisitAct.KEEP:
        await show(query, t("roster.offer.kept", **about))
        return
    await show(query, *_offer_picker(visit.id, about, mates, ctx, visit.starts_at))


def _offer_picker(
    visit_id: int,
    about: dict[str, str],
    mates: list[review.Mate],
    ctx: ServiceContext,
    starts_at: datetime,
) -> tuple[str, InlineKeyboardMarkup]:
    """Who is free that day, each a button; who is not, and why, in the text; « Quay lại to
    the roster and Hủy (the visit stays one's own)."""
    day = to_local(starts_at, ctx.tz).strftime("%d/%m")
    free = [m for m in mates if m.why is None]
    lines = [t("roster.offer.pick", **about), ""]
    if free:
        lines.append(t("roster.offer.free", day=day, n=len(free)))
    else:
        lines.append(t("roster.offer.none_free", day=day))
    taken = [m for m in mates if m.why is not None]
    if taken:
        lines.append("")
        lines.append(t("roster.offer.not_free", day=day))
        lines += [
            t("roster.offer.not_free_line", name=escape(m.name), why=t(f"roster.offer.why.{m.why}"))
            for m in taken
        ]
    kb = InlineKeyboardBuilder()
    for mate in free:
        kb.row(
            InlineKeyboardButton(
                text=mate.name,
                callback_data=OfferToCb(visit_id=visit_id, member_id=mate.member_id).pack(),
            )
        )
    kb.row(
        InlineKeyboardButton(
            text=t("roster.offer.back"),
            callback_data=VisitCb(visit_id=visit_id, a=VisitAct.BACK).pack(),
        ),
        InlineKeyboardButton(
            text=t("roster.offer.cancel"),
            callback_data=VisitCb(visit_id=visit_id, a=VisitAct.KEEP).pack(),
        ),
    )
    return "\n".join(lines), kb.as_markup()


@router.callback_query(OfferToCb.filter())
async def on_offer_to(
    query: CallbackQuery,
    callback_data: OfferToCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    await changes.offer_visit(session, ctx, actor, callback_data.visit_id, callback_data.member_id)
    await show(query, t("roster.offer.sent"))


@router.callback_query(OfferCb.filter())
async def on_offer_answer(
    query: CallbackQuery,
    callback_data: OfferCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    accept = callback_data.a is OfferAct.ACCEPT
    await changes.answer_offer(session, ctx, actor, callback_data.visit_id, accept)
    await show(query, t("roster.ui.offer_taken" if accept else "roster.ui.offer_refused"))


@router.callback_query(HandbackCb.filter())
async def on_handback_confirm(
    query: CallbackQuery,
    callback_data: HandbackCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    await changes.confirm_handback(
        session, ctx, actor, callback_data.visit_id, callback_data.member_id
    )
    await show(query, t("roster.handback.confirmed"))


@router.callback_query(MoveCb.filter())
async def on_move_answer(
    query: CallbackQuery,
    callback_data: MoveCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    accept = callback_data.a is MoveAct.ACCEPT
    await changes.answer_move(session, ctx, actor, callback_data.request_id, accept)
    await show(query, t("roster.ui.move_accepted" if accept else "roster.ui.move_declined"))
