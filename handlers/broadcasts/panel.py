"""The draft's panel: who receives it (combinable toggles, a paged unit list, branch kinds)
and the options (acknowledgement and its deadline by day, pin, now or at a day and hour).

Each press changes the draft through the service, which checks it (a commune admin's other
communes, an empty audience, a time in the past are refused there, and nothing changes), then
the panel is drawn again from what is stored.
"""

from __future__ import annotations

from datetime import time as dtime
from datetime import timedelta

from aiogram import Bot
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcasts as svc
from bot.services.access.policy import Actor, Refused
from bot.services.broadcasts import compose
from bot.services.context import ServiceContext
from handlers.broadcasts.callbacks import AudAct, AudCb, OptAct, OptCb
from handlers.broadcasts.compose import show_preview
from handlers.broadcasts.screens import (
    DEADLINE_DAYS,
    DEFAULT_DAYS,
    HOURS,
    SCHEDULE_DAYS,
    at_local,
    audience_screen,
    current,
    days_screen,
    deadline_days,
    deadline_for,
    hours_screen,
    kinds_screen,
    options_screen,
    toggled,
    units_screen,
    with_kind,
    with_unit,
)
from handlers.kit import Chats, feature_router, show

router = feature_router(__name__, Chats.PRIVATE)


@router.callback_query(AudCb.filter())
async def on_audience(
    query: CallbackQuery,
    callback_data: AudCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    cb, ctx = callback_data, ctx
    draft = await compose.get(session, actor, cb.b)
    options = await svc.choices(session, actor, draft.district_id)
    audience = current(draft)
    if cb.a is AudAct.TOGGLE:
        if cb.part is None:
            raise Refused("kit.expired")
        draft = await compose.set_audience(
            session, ctx, actor, draft.id, toggled(audience, cb.part)
        )
    elif cb.a is AudAct.UNIT:
        if cb.unit is None:
            raise Refused("kit.expired")
        draft = await compose.set_audience(
            session, ctx, actor, draft.id, with_unit(audience, cb.unit)
        )
    elif cb.a is AudAct.KIND:
        draft = await compose.set_audience(
            session, ctx, actor, draft.id, with_kind(audience, cb.kind)
        )
    elif cb.a is AudAct.NEXT:
        # The audience as it stands, checked (nobody chosen is refused here, not at Gửi).
        draft = await compose.set_audience(session, ctx, actor, draft.id, audience)
        text, markup = options_screen(draft, ctx.now(), ctx.tz)
        await show(query, text, markup)
        return
    if cb.a in (AudAct.UNITS, AudAct.UNIT):
        text, markup = units_screen(draft, options, cb.p)
    elif cb.a in (AudAct.KINDS, AudAct.KIND):
        text, markup = kinds_screen(draft, options)
    else:
        text, markup = audience_screen(draft, options)
    await show(query, text, markup)


@router.callback_query(OptCb.filter())
async def on_option(
    query: CallbackQuery,
    callback_data: OptCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    cb, ctx = callback_data, ctx
    if cb.a is OptAct.PREVIEW:
        await show_preview(query, session, actor, ctx, bot, cb.b)
        return
    draft = await compose.get(session, actor, cb.b)
    now, tz, today = ctx.now(), ctx.tz, ctx.today()
    if cb.a is OptAct.LATER:
        text, markup = days_screen(draft.id, today)
        await show(query, text, markup)
        return
    if cb.a is OptAct.DAY:
        if cb.v >= SCHEDULE_DAYS:
            raise Refused("kit.expired")
        text, markup = hours_screen(draft.id, cb.v, today, now, tz)
        await show(query, text, markup)
        return
    if cb.a is not OptAct.SHOW:
        ack, pin, send_at = draft.ack_required, draft.pin, draft.send_at
        days = deadline_days(draft, now, tz) or DEFAULT_DAYS
        if cb.a is OptAct.ACK:
            ack = not ack
        elif cb.a is OptAct.DAYS:
            if cb.v not in DEADLINE_DAYS:
                raise Refused("kit.expired")
            ack, days = True, cb.v
        elif cb.a is OptAct.PIN:
            pin = not pin
        elif cb.a is OptAct.NOW:
            send_at = None
        elif cb.a is OptAct.HOUR:
            if cb.v >= SCHEDULE_DAYS or cb.h not in HOURS:
                raise Refused("kit.expired")
            send_at = at_local(today + timedelta(days=cb.v), dtime(cb.h), tz)
        deadline = deadline_for(send_at or now, days, tz) if ack else None
        draft = await compose.set_options(
            session,
            ctx,
            actor,
            draft.id,
            ack_required=ack,
            ack_deadline=deadline,
            pin=pin,
            send_at=send_at,
        )
    text, markup = options_screen(draft, now, tz)
    await show(query, text, markup)
