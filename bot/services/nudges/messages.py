"""How nudges and escalations read: one message per person (or chat) per sweep, every
obligation of theirs in it, each with the button that does the thing, and "Nhắc lại sau".

Obligation fields are plain text; they are HTML-escaped here, where the text is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import Button, button, markup
from bot.buttons.nudges import SnoozeCb
from bot.i18n import CatalogI18n
from bot.services.nudges.obligations import Obligation
from bot.services.vn_calendar import format_date, to_local
from storage.models.nudges import EscalationReason, NudgeStep

TEXT_LIMIT = 4096
BUTTON_TEXT_MAX = 60
PER_MESSAGE = 10  # obligations in one message; more go in a second one


@dataclass(frozen=True)
class NudgeItem:
    obligation: Obligation
    step: NudgeStep


@dataclass(frozen=True)
class EscalationItem:
    obligation: Obligation
    reason: EscalationReason
    reminded: int  # nudges that went out (or were queued) for it, all owners together
    owners: str  # who owes it, as read


def _params(ob: Obligation, locale: str) -> dict[str, str]:
    """The obligation's fields for its line: the day as the house writes it, with its weekday
    in the reader's language ("hạn Thứ Năm, 10/12/2026 lúc 17:00"), from the plain
    DD/MM/YYYY the providers keep (the button's short label uses that one)."""
    params = {k: escape(v) for k, v in ob.params.items()}
    if (day := _day_of(ob.params.get("date"))) is not None:
        params["date"] = format_date(day, locale)
    return params


def _day_of(text: str | None) -> date | None:
    # The providers write it day/month/year (`providers._when`).
    parts = (text or "").split("/")
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0])) if len(parts) == 3 else None
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(ob: Obligation) -> str:
    """What the button names: the item's number, or the branch and the day."""
    if "number" in ob.params:
        return ob.params["number"]
    return f"{ob.params.get('branch', '')[:26]} {ob.params.get('date', '')[:5]}".strip()


def nudge_text(i18n: CatalogI18n, locale: str, items: list[NudgeItem]) -> str:
    lines = [
        i18n.t("nudge.head", locale)
        if len(items) == 1
        else i18n.t("nudge.head_many", locale, n=len(items))
    ]
    for item in items:
        ob = item.obligation
        line = "• " + i18n.t(f"nudge.line.{ob.kind.value}", locale, **_params(ob, locale))
        if item.step is NudgeStep.NUDGE2:
            line += " " + i18n.t("nudge.again", locale)
        lines.append(line)
    lines.append("")
    lines.append(i18n.t("nudge.foot", locale))
    return _clip("\n".join(lines), TEXT_LIMIT)


def nudge_markup(
    i18n: CatalogI18n, locale: str, items: list[NudgeItem], batch_id: int
) -> dict[str, Any]:
    rows: list[list[Button]] = []
    seen: set[str] = set()
    for item in items:
        action = item.obligation.action
        if action.callback in seen:  # two lines of one thing share its button
            continue
        seen.add(action.callback)
        text = f"{i18n.t(action.label, locale)} · {_short(item.obligation)}"
        rows.append([button(_clip(text, BUTTON_TEXT_MAX), action.callback)])
    rows.append([button(i18n.t("nudge.btn.snooze", locale), SnoozeCb(b=batch_id).pack())])
    return markup(rows)


def escalation_text(
    i18n: CatalogI18n, locale: str, items: list[EscalationItem], tz: ZoneInfo
) -> str:
    lines = [i18n.t("nudge.esc.head", locale, n=len(items))]
    for item in items:
        ob = item.obligation
        since = format_date(to_local(ob.moment, tz).date(), locale)
        lines.append("")
        lines.append("• " + i18n.t(f"nudge.esc.{ob.kind.value}", locale, **_params(ob, locale)))
        who = escape(item.owners) if item.owners else i18n.t("nudge.esc.nobody", locale)
        lines.append("  " + i18n.t("nudge.esc.who", locale, who=who, since=since, n=item.reminded))
        lines.append("  " + i18n.t(f"nudge.esc.reason.{item.reason.value}", locale))
    return _clip("\n".join(lines), TEXT_LIMIT)
