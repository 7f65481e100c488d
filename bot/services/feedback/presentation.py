"""How an item reads: its card (text and buttons), its labels, the submitter's buttons.

Plain functions over an `ItemView` and the catalogs, used by the notices the services queue
and by the screens the handlers show, so a card in a chat and a card in private say the same
thing. Everything a person typed is escaped here (the bot writes HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons.feedback import CardAct, CardCb, ForwardCb, ReplyAct, ReplyCb
from bot.i18n import CatalogI18n
from bot.services.feedback.common import (
    DEFAULT_CATEGORIES,
    DEFAULT_CONFIG,
    FeedbackConfig,
    item_number,
)
from bot.services.feedback.levels import Level
from bot.services.feedback.views import ItemView
from bot.services.vn_calendar import VN_TZ, format_datetime
from storage.models import FeedbackItem
from storage.models.feedback import FeedbackStatus, RaisedAs

TEXT_LIMIT = 4000  # Telegram's 4096, with room for a headline
PART_LIMIT = 1200  # one typed part of a notice, escaped (text, question, details, answer)

_DEFAULT_EN = {code: (vi, en) for code, vi, en in DEFAULT_CATEGORIES}

# The buttons a level sees, by status (rows).
_CARD_ROWS: dict[str, tuple[tuple[CardAct, ...], ...]] = {
    FeedbackStatus.OPEN: ((CardAct.TAKE, CardAct.FORWARD), (CardAct.ASK, CardAct.ANSWER)),
    FeedbackStatus.TAKEN: ((CardAct.FORWARD, CardAct.ASK), (CardAct.ANSWER,)),
    FeedbackStatus.ASKED: ((CardAct.FORWARD, CardAct.ANSWER),),
    FeedbackStatus.ANSWERED: (),
}
_CLOSING_ROW: dict[str, tuple[CardAct, ...]] = {
    FeedbackStatus.OPEN: (CardAct.CLOSE, CardAct.REJECT),
    FeedbackStatus.TAKEN: (CardAct.CLOSE, CardAct.REJECT),
    FeedbackStatus.ASKED: (CardAct.CLOSE, CardAct.REJECT),
    FeedbackStatus.ANSWERED: (CardAct.CLOSE,),
}
_BUTTON_KEYS = {
    CardAct.TAKE: "fb.button.take",
    CardAct.FORWARD: "fb.button.forward",
    CardAct.ASK: "fb.button.ask",
    CardAct.ANSWER: "fb.button.answer",
    CardAct.CLOSE: "fb.button.close",
    CardAct.REJECT: "fb.button.reject",
    ReplyAct.ACCEPT: "fb.button.accept",
    ReplyAct.REOPEN: "fb.button.reopen",
    ReplyAct.INFO: "fb.button.info",
}


def clip(text: str, limit: int = PART_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(text: str | None, limit: int = PART_LIMIT) -> str:
    """Typed text escaped for HTML, at most `limit` characters once escaped: clipped before
    escaping, so an entity is never cut (Telegram refuses a message with a broken one)."""
    raw = text or ""
    out, n = escape(raw), len(raw)
    while len(out) > limit:
        n = max(0, min(n - 1, n * limit // len(out) - 1))
        out = escape(clip(raw, n)) if n > 1 else "…"
    return out


def number_of(item: FeedbackItem) -> str:
    return item_number(item.year, item.number)


def category_label(locale: str, code: str, name: str) -> str:
    """A default category in the reader's language; a district's own ones as named."""
    default = _DEFAULT_EN.get(code)
    if locale == "en" and default is not None and default[0] == name:
        return default[1]
    return name


def status_label(i18n: CatalogI18n, locale: str, status: str) -> str:
    return i18n.t(f"fb.status.{status}", locale)


def level_label(level: Level) -> str:
    return escape(level.name)


def raised_label(i18n: CatalogI18n, locale: str, view: ItemView) -> str:
    name = escape(view.submitter)
    if view.item.raised_as == RaisedAs.MEMBER:
        return i18n.t("fb.raised.member", locale, name=name)
    if view.item.raised_as == RaisedAs.VISITOR:
        return i18n.t("fb.raised.visitor", locale, name=name or "—")
    return i18n.t("fb.raised.branch", locale)


def card_text(
    i18n: CatalogI18n,
    locale: str,
    view: ItemView,
    tz: ZoneInfo = VN_TZ,
    *,
    now: datetime | None = None,
    headline: str = "",
) -> str:
    """The card: number and status, branch, category, who raised it, where it is and until
    when, the text, and the question, details and answer so far. `now` marks an overdue item;
    `headline` (already rendered) goes on top. Long typed parts shrink until the card fits one
    message; the HTML is never cut."""
    text = ""
    for share in (1.0, 0.5, 0.25, 0.1):
        text = _card(i18n, locale, view, tz, now, headline, share)
        if len(text) <= TEXT_LIMIT:
            break
    return text


def _card(
    i18n: CatalogI18n,
    locale: str,
    view: ItemView,
    tz: ZoneInfo,
    now: datetime | None,
    headline: str,
    share: float,
) -> str:
    item, t = view.item, i18n.t

    def part(value: str | None, budget: int) -> str:
        return esc(value, max(20, int(budget * share)))

    lines = [headline] if headline else []
    status = status_label(i18n, locale, item.status)
    lines.append(t("fb.card.head", locale, number=view.number, status=status))
    lines.append(
        t("fb.card.branch", locale, branch=escape(view.branch.name), unit=escape(view.unit_name))
    )
    category = category_label(locale, view.category_code, view.category_name)
    lines.append(t("fb.card.category", locale, category=escape(category)))
    lines.append(raised_label(i18n, locale, view))
    lines.append(t("fb.card.level", locale, level=level_label(view.level)))
    if item.status not in (FeedbackStatus.CLOSED, FeedbackStatus.REJECTED):
        lines.append(t("fb.card.deadline", locale, when=format_datetime(item.deadline, locale, tz)))
        if now is not None and item.deadline < now and item.status != FeedbackStatus.ANSWERED:
            lines.append(t("fb.card.overdue", locale))
    if item.private:
        lines.append(t("fb.card.private", locale))
    lines.append("")
    lines.append(t("fb.card.text", locale, text=part(item.text, 1500)))
    if view.files:
        lines.append(t("fb.card.files", locale, n=len(view.files)))
    if item.question:
        lines.append(t("fb.card.question", locale, question=part(item.question, 500)))
        if view.last_info:
            lines.append(t("fb.card.info", locale, info=part(view.last_info, 500)))
    if item.answer:
        lines.append(t("fb.card.answer", locale, answer=part(item.answer, 1200)))
    if item.close_reason:
        lines.append(t("fb.card.reason", locale, reason=part(item.close_reason, 500)))
    return "\n".join(lines)


def _button(i18n: CatalogI18n, locale: str, act: CardAct | ReplyAct, data: str) -> dict[str, str]:
    return {"text": i18n.t(_BUTTON_KEYS[act], locale), "callback_data": data}


def card_markup(i18n: CatalogI18n, locale: str, view: ItemView) -> dict[str, Any]:
    """The level's buttons for the item's status (none once it is closed or rejected)."""
    item = view.item
    rows = [list(r) for r in _CARD_ROWS.get(item.status, ())]
    closing = _CLOSING_ROW.get(item.status)
    if closing:
        rows.append(list(closing))
    return {
        "inline_keyboard": [
            [
                _button(
                    i18n, locale, act, CardCb(item_id=item.id, version=item.version, a=act).pack()
                )
                for act in row
            ]
            for row in rows
        ]
    }


def answer_acts(
    item: FeedbackItem, config: FeedbackConfig = DEFAULT_CONFIG
) -> tuple[ReplyAct, ...]:
    """What the submitter may do with an answer: accept, and reopen while reopens are left."""
    if item.reopened < config.reopen_limit:
        return (ReplyAct.ACCEPT, ReplyAct.REOPEN)
    return (ReplyAct.ACCEPT,)


def reply_markup(
    i18n: CatalogI18n, locale: str, item: FeedbackItem, acts: Sequence[ReplyAct]
) -> dict[str, Any]:
    """The submitter's buttons under an answer (accept, reopen) or a question (give details)."""
    return {
        "inline_keyboard": [
            [
                _button(
                    i18n, locale, act, ReplyCb(item_id=item.id, version=item.version, a=act).pack()
                )
            ]
            for act in acts
        ]
    }


def forward_markup(
    i18n: CatalogI18n, locale: str, item: FeedbackItem, targets: Sequence[Level]
) -> dict[str, Any]:
    """One button per forward target (from `forward_targets`), named as the level is."""
    rows = []
    for level in targets:
        data = ForwardCb(
            item_id=item.id, version=item.version, level=level.type, level_id=level.id
        ).pack()
        rows.append([{"text": clip(level.name, 60), "callback_data": data}])
    return {"inline_keyboard": rows}
