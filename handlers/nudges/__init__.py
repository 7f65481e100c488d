"""The nudges' buttons and /nudges.

- "Nhắc lại sau" (SnoozeCb): the service puts the message's obligations off by a day: in
  private the presser's own nudge, in a group the group's, only for a known current member of
  it (`pressed_in`: anyone viewing a public supergroup, or who left it, can press).
- An action button (NudgeCb): each feature's own router takes its act (`handlers.kit.nudged`)
  and opens its screen below the nudge, as its command would open it (/schedule,
  /report <id>, /visit, the item's card), so the nudge keeps its other buttons; those
  routers come first. Here: Đã nhận, which acknowledges the guidance for the chat it went to
  (the button names that chat, never who may press: the broadcasts feature checks the
  presser's current rights and the chat the press came from, a group's only for a checked
  current member of it), and the other acts pressed outside a private
  chat (the screens open in private). Xác nhận is the roster's own button (its handler
  confirms). The service first checks the obligation is still owed.
- /nudges [MM/YYYY]: a committee admin's figures; /nudges off|on <member code> switches a
  person off from nudges (or on again); /nudges set <policy> off|on|<hours> [<escalate>|-]
  and /nudges hours <from> <until> tune the policies and waking hours of their district;
  /nudges settings (or the button under the figures) shows them with their current values and
  changes them by buttons (`handlers.nudges.settings`).
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.inputs import parse_int, typed_month
from bot.services import nudges as svc
from bot.services.access.policy import Actor, Refused, Role
from bot.services.broadcasts.acks import acknowledge
from bot.services.context import ServiceContext
from bot.services.nudges.figures import Figures, NudgeFigures
from bot.services.nudges.policies import HOURS_LIMIT
from handlers.kit import Chats, RoleFilter, feature_router, t, when
from handlers.kit.presence import pressed_in
from handlers.nudges import settings

buttons = feature_router(__name__, Chats.ANY)  # nudges reach private chats and level groups
admin = feature_router(__name__ + ".admin", Chats.PRIVATE)
TEXT_LIMIT = 4096
UNITS_MAX = 40


def routers() -> list[Router]:
    return [admin, settings.router, buttons]


@buttons.callback_query(svc.SnoozeCb.filter())
async def on_snooze(
    query: CallbackQuery,
    callback_data: svc.SnoozeCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    # Whose nudge is put off comes from the presser and the chat of the press, checked.
    via = await pressed_in(query, actor, bot)
    result = await svc.snooze(session, ctx, actor.telegram_id, callback_data.b, via_chat=via)
    if result.already:
        text = t("nudge.snooze_already")
    else:
        text = t("nudge.snoozed", until=when(result.until, ctx.tz))
        if result.used_up:
            text += "\n" + t("nudge.snoozed_some", n=result.used_up)
    await query.answer(text, show_alert=True)


@buttons.callback_query(svc.NudgeCb.filter())
async def on_action(
    query: CallbackQuery,
    callback_data: svc.NudgeCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    cb = callback_data
    await svc.check_press(session, ctx, cb.a, cb.id, cb.c)
    if cb.a is svc.NudgeAct.ACK:  # Đã nhận, for the chat the guidance went to
        # The button names what to act on; who may act comes from the presser and the chat
        # the press came from (a group's only for a checked current member of it).
        via = await pressed_in(query, actor, bot)
        result = await acknowledge(session, ctx, actor, cb.id, cb.c, via_chat=via)
        await query.answer(t(result.key, **result.params), show_alert=True)
        return
    # A screen's act pressed in a group: the feature's private router did not take it.
    raise Refused("nudge.open_in_private")


# /nudges --------------------------------------------------------------------------------------


def _duration(value: timedelta | None) -> str:
    if value is None:
        return t("nudge.fig.none")
    hours = round(value.total_seconds() / 3600)
    return t("nudge.fig.duration", days=hours // 24, hours=hours % 24)


def _unit_line(name: str, f: Figures) -> str:
    o = f.outcomes
    return t(
        "nudge.fig.unit",
        name=escape(name or t("nudge.fig.no_unit")),
        open=sum(f.open.values()),
        nudges=f.nudges,
        escalations=f.escalations,
        met=o.after_first + o.after_second + o.after_escalation,
        total=o.total,
        never=o.never,
    )


def figures_text(fig: NudgeFigures, month: str) -> str:
    total, o = fig.total, fig.total.outcomes
    lines = [t("nudge.fig.head", district=escape(fig.name), month=month), ""]
    lines.append(t("nudge.fig.open", n=sum(total.open.values())))
    for policy in svc.NudgePolicy:
        if total.open[policy]:
            lines.append(
                t("nudge.fig.open_kind", kind=t(f"nudge.kind.{policy.value}"), n=total.open[policy])
            )
    lines.append(t("nudge.fig.sent", nudges=total.nudges, escalations=total.escalations))
    if total.unreachable or total.no_target:
        lines.append(t("nudge.fig.why", unreachable=total.unreachable, no_target=total.no_target))
    if total.withdrawn:
        lines.append(t("nudge.fig.withdrawn", n=total.withdrawn))
    lines += ["", t("nudge.fig.outcomes", n=o.total)]
    for key, n in (
        ("first", o.after_first),
        ("second", o.after_second),
        ("escalation", o.after_escalation),
        ("never", o.never),
    ):
        lines.append(t(f"nudge.fig.after_{key}", n=n, share=o.share(n)))
    lines.append(t("nudge.fig.median", value=_duration(o.median)))
    units = [_unit_line(u.name, u.figures) for u in fig.units]
    if units:
        lines += ["", t("nudge.fig.by_unit"), *units[:UNITS_MAX]]
        if len(units) > UNITS_MAX:
            lines.append(t("nudge.fig.more", n=len(units) - UNITS_MAX))
    text = "\n".join(lines)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _period(args: str, ctx: ServiceContext) -> tuple[int, int]:
    today = ctx.today()
    if not args:
        return today.year, today.month
    found = typed_month(args)
    if found is None:
        raise Refused("nudge.figures.bad_period")
    return found


def _hours(value: str) -> int:
    try:
        return parse_int(value, lo=-HOURS_LIMIT, hi=HOURS_LIMIT, signed=True)
    except ValueError:
        raise Refused("nudge.error.bad_hours", max=HOURS_LIMIT) from None


async def _settings(session: AsyncSession, clock: Clock, actor: Actor, args: list[str]) -> str:
    """`set POLICY off|on|HOURS [ESCALATE|-]`, `hours FROM UNTIL`: every district the person
    administers."""
    if args[0] == "hours" and len(args) == 3:
        start, end = _hours(args[1]), _hours(args[2])
        await svc.tune_waking(session, clock, actor, start, end)
        return t("nudge.set.hours", start=start, end=end)
    if args[0] != "set" or len(args) not in (3, 4):
        return t("nudge.usage")
    policy = svc.parse_policy(args[1])
    name = t(f"nudge.kind.{policy.value}")
    if args[2] in ("off", "on") and len(args) == 3:
        await svc.tune(session, clock, actor, policy, enabled=args[2] == "on")
        return t(f"nudge.set.{args[2]}", kind=name)
    hours = _hours(args[2])
    escalate = None if len(args) == 3 or args[3] == "-" else _hours(args[3])
    await svc.tune(
        session, clock, actor, policy, enabled=True, hours=hours, escalate_hours=escalate
    )
    later = t("nudge.set.never") if escalate is None else str(escalate)
    return t("nudge.set.done", kind=name, hours=hours, escalate=later)


@admin.message(Command("nudges"), RoleFilter(Role.ADMIN))
async def cmd_nudges(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    clock: Clock,
) -> None:
    args = (command.args or "").split()
    if args and args[0] in ("off", "on"):
        if len(args) != 2:
            await message.answer(t("nudge.usage"))
            return
        member, changed = await svc.switch_person(
            session, ctx, actor, args[1], off=args[0] == "off"
        )
        key = f"nudge.optout.{args[0]}" if changed else f"nudge.optout.already_{args[0]}"
        await message.answer(t(key, name=escape(member.full_name)))
        return
    if args == ["settings"]:
        for district in await svc.settings_of(session, actor):
            text, markup = settings.main_screen(district)
            await message.answer(text, reply_markup=markup)
        return
    if args and args[0] in ("set", "hours"):
        await message.answer(await _settings(session, clock, actor, args))
        return
    if len(args) > 1:
        await message.answer(t("nudge.usage"))
        return
    year, month = _period(args[0] if args else "", ctx)
    for fig in await svc.figures_for(session, ctx, actor, year, month):
        await message.answer(
            figures_text(fig, f"{month:02d}/{year}"),
            reply_markup=settings.settings_button(fig.district_id),
        )
