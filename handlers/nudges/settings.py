"""/nudges settings (and the button under /nudges): a committee's nudge settings with their
current values, changed a step at a time by buttons.

Every press names a district, a policy and a step only: the service checks, each time, that
the person pressing administers that district (callback data can be forged) and that the new
values are in range; the screen is then drawn from what is stored.
"""

from __future__ import annotations

from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services import nudges as svc
from bot.services.access.policy import Actor, Refused
from bot.services.nudges.policies import STEP_HOURS, WAKING_STEP, Timing
from handlers.kit import Chats, Id, Small, feature_router, show, t

router = feature_router(__name__, Chats.PRIVATE)

POLICIES = list(svc.NudgePolicy)
MAIN = 0  # the district's list
WAKING = len(POLICIES) + 1  # the waking hours; 1..len(POLICIES): one policy


class SettingsCb(CallbackData, prefix="nst"):
    """A settings screen of district `d` (`p`: MAIN, a policy's number or WAKING), with a
    step to take first (`c`) or none (just show)."""

    d: Id
    p: Small = MAIN
    c: svc.Change | None = None


def _span(hours: int) -> str:
    """'1 day', '3 days', '1 hour', '1 day 12 hours' (English needs the singular apart)."""
    days, rest = divmod(abs(hours), 24)
    if rest == 0:
        return t("nudge.settings.day") if days == 1 else t("nudge.settings.days", n=days)
    if days == 0:
        return t("nudge.settings.hour") if rest == 1 else t("nudge.settings.hours", n=rest)
    return t("nudge.fig.duration", days=days, hours=rest)


def _offset(policy: svc.NudgePolicy, hours: int) -> str:
    moment = t(f"nudge.settings.moment.{policy.value}")
    if hours == 0:
        return t("nudge.settings.at", moment=moment)
    key = "nudge.settings.before" if hours < 0 else "nudge.settings.after"
    return t(key, span=_span(hours), moment=moment)


def _state(policy: svc.NudgePolicy, timing: Timing) -> str:
    if not timing.enabled:
        return t("nudge.settings.off")
    escalate = (
        t("nudge.settings.escalate_none")
        if timing.escalate_hours is None
        else t("nudge.settings.escalate", when=_offset(policy, timing.escalate_hours))
    )
    return t("nudge.settings.on", when=_offset(policy, timing.hours), escalate=escalate)


def _head(s: svc.DistrictSettings) -> list[str]:
    start, end = s.waking
    return [
        t("nudge.settings.head", district=escape(s.name)),
        t("nudge.settings.waking", start=start.hour, end=end.hour),
    ]


def _button(text: str, cb: SettingsCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=cb.pack())


def main_screen(s: svc.DistrictSettings) -> tuple[str, InlineKeyboardMarkup]:
    """Every policy with its current values; a button per policy and one for the hours."""
    lines = _head(s) + [""]
    kb = InlineKeyboardBuilder()
    for n, policy in enumerate(POLICIES, start=1):
        kind = t(f"nudge.kind.{policy.value}")
        state = _state(policy, s.timings[policy])
        lines.append(t("nudge.settings.line", n=n, kind=kind, state=state))
        kb.row(_button(f"{n}. {kind}", SettingsCb(d=s.district_id, p=n)))
    kb.row(_button(t("nudge.settings.button.waking"), SettingsCb(d=s.district_id, p=WAKING)))
    lines += ["", t("nudge.settings.hint")]
    return "\n".join(lines), kb.as_markup()


def policy_screen(s: svc.DistrictSettings, n: int) -> tuple[str, InlineKeyboardMarkup]:
    """One policy: its values, and a button for each step (on/off, a day earlier or later)."""
    policy = POLICIES[n - 1]
    timing = s.timings[policy]
    kind = t(f"nudge.kind.{policy.value}")
    lines = _head(s) + ["", t("nudge.settings.line", n=n, kind=kind, state=_state(policy, timing))]
    d, C = s.district_id, svc.Change

    def cb(change: svc.Change | None) -> SettingsCb:
        return SettingsCb(d=d, p=n, c=change)

    step = _span(STEP_HOURS)
    kb = InlineKeyboardBuilder()
    toggle = "nudge.settings.button.off" if timing.enabled else "nudge.settings.button.on"
    kb.row(_button(t(toggle), cb(C.TOGGLE)))
    if timing.enabled:
        kb.row(
            _button(t("nudge.settings.button.earlier", span=step), cb(C.EARLIER)),
            _button(t("nudge.settings.button.later", span=step), cb(C.LATER)),
        )
        escalate = []
        if timing.escalate_hours is not None:
            escalate.append(
                _button(t("nudge.settings.button.esc_earlier", span=step), cb(C.ESC_EARLIER))
            )
        escalate.append(_button(t("nudge.settings.button.esc_later", span=step), cb(C.ESC_LATER)))
        kb.row(*escalate)
        if timing.escalate_hours is not None:
            kb.row(_button(t("nudge.settings.button.esc_none"), cb(C.ESC_NONE)))
    kb.row(_button(t("nudge.settings.button.back"), SettingsCb(d=d)))
    return "\n".join(lines), kb.as_markup()


def waking_screen(s: svc.DistrictSettings) -> tuple[str, InlineKeyboardMarkup]:
    """The waking hours, an hour earlier or later at either end."""
    d, C = s.district_id, svc.Change
    kb = InlineKeyboardBuilder()
    kb.row(
        _button(
            t("nudge.settings.button.from_earlier", span=_span(WAKING_STEP)),
            SettingsCb(d=d, p=WAKING, c=C.WAKE_FROM_EARLIER),
        ),
        _button(
            t("nudge.settings.button.from_later", span=_span(WAKING_STEP)),
            SettingsCb(d=d, p=WAKING, c=C.WAKE_FROM_LATER),
        ),
    )
    kb.row(
        _button(
            t("nudge.settings.button.until_earlier", span=_span(WAKING_STEP)),
            SettingsCb(d=d, p=WAKING, c=C.WAKE_UNTIL_EARLIER),
        ),
        _button(
            t("nudge.settings.button.until_later", span=_span(WAKING_STEP)),
            SettingsCb(d=d, p=WAKING, c=C.WAKE_UNTIL_LATER),
        ),
    )
    kb.row(_button(t("nudge.settings.button.back"), SettingsCb(d=d)))
    return "\n".join(_head(s)), kb.as_markup()


def screen(s: svc.DistrictSettings, p: int) -> tuple[str, InlineKeyboardMarkup]:
    if p == WAKING:
        return waking_screen(s)
    if 1 <= p <= len(POLICIES):
        return policy_screen(s, p)
    return main_screen(s)


def settings_button(district_id: int) -> InlineKeyboardMarkup:
    """The button under a district's /nudges figures that opens its settings."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(t("nudge.settings.button.open"), SettingsCb(d=district_id))]]
    )


@router.callback_query(SettingsCb.filter())
async def on_settings(
    query: CallbackQuery,
    callback_data: SettingsCb,
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
) -> None:
    """Show a screen, or take a step and show it again; a district the presser does not
    administer, a policy that does not exist or a step that does not fit is refused."""
    cb = callback_data
    if cb.p > WAKING:
        raise Refused("nudge.settings.gone")
    if cb.c is None:
        await show(query, *screen(await svc.district_settings(session, actor, cb.d), cb.p))
        return
    if cb.p == MAIN or (cb.p == WAKING) != cb.c.value.startswith("w"):
        raise Refused("nudge.settings.gone")
    policy = None if cb.p == WAKING else POLICIES[cb.p - 1]
    s = await svc.change_setting(session, clock, actor, cb.d, policy, cb.c)
    await show(query, *screen(s, cb.p), toast=t("nudge.settings.saved"))
