"""Keyboards every feature uses: a pager, a month calendar, the contact button, one column."""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable, Sequence
from datetime import date

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.inputs import latest_date
from handlers.kit.callbacks import Small
from handlers.kit.replies import t


def one_column(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    """Large buttons, one per row: the easiest to hit on a phone."""
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons])


def pager(
    rows: InlineKeyboardBuilder, page: int, pages: int, make: Callable[[int], CallbackData]
) -> InlineKeyboardMarkup:
    """One button per row, then ◀/▶ (only those that lead somewhere) on a last row."""
    rows.adjust(1)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(text=t("people.prev"), callback_data=make(page - 1).pack()))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text=t("people.next"), callback_data=make(page + 1).pack()))
    if nav:
        rows.row(*nav)
    return rows.as_markup()


def contact_keyboard() -> ReplyKeyboardMarkup:
    """The one button that shares the person's own phone number."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=t("contact.button"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


class CalAction(enum.Enum):
    DAY = "d"  # a day was tapped
    MONTH = "n"  # go to another month
    LABEL = "x"  # a label (weekday names, the month title): nothing happens


class CalCb(CallbackData, prefix="mcal"):
    act: CalAction
    y: Small
    m: Small
    d: Small = 0


def month_in_window(year: int, month: int, today: date) -> bool:
    """Months a person may browse: from this one to the last that `bot.inputs` allows."""
    last = latest_date(today)
    return 1 <= month <= 12 and (today.year, today.month) <= (year, month) <= (
        last.year,
        last.month,
    )


def month_grid(
    year: int, month: int, today: date, footer: Sequence[InlineKeyboardButton] = ()
) -> InlineKeyboardMarkup:
    """A month of day buttons (Monday first), ‹ › between the months of the allowed window;
    past days and days beyond the window show as '·'."""
    kb = InlineKeyboardBuilder()
    py, pm = (year, month - 1) if month > 1 else (year - 1, 12)
    ny, nm = (year, month + 1) if month < 12 else (year + 1, 1)
    label = CalCb(act=CalAction.LABEL, y=year, m=month).pack()
    nav = []
    if month_in_window(py, pm, today):
        prev = CalCb(act=CalAction.MONTH, y=py, m=pm).pack()
        nav.append(InlineKeyboardButton(text="‹", callback_data=prev))
    nav.append(InlineKeyboardButton(text=f"{month:02d}/{year}", callback_data=label))
    if month_in_window(ny, nm, today):
        nxt = CalCb(act=CalAction.MONTH, y=ny, m=nm).pack()
        nav.append(InlineKeyboardButton(text="›", callback_data=nxt))
    kb.row(*nav)
    kb.row(*(InlineKeyboardButton(text=t(f"mtg.cal.wd{i}"), callback_data=label) for i in range(7)))
    last = latest_date(today)
    for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month):
        row = []
        for day in week:
            if day == 0:
                row.append(InlineKeyboardButton(text=" ", callback_data=label))
                continue
            usable = today <= date(year, month, day) <= last
            row.append(
                InlineKeyboardButton(
                    text=str(day) if usable else "·",
                    callback_data=CalCb(act=CalAction.DAY, y=year, m=month, d=day).pack(),
                )
            )
        kb.row(*row)
    if footer:
        kb.row(*footer)
    return kb.as_markup()


LABEL_MAX = 48  # what a phone shows of a full-width button before Telegram cuts it itself


def short(text: str, limit: int = LABEL_MAX) -> str:
    """`text` within `limit` characters, cut at a word boundary with "…" (never mid-word:
    "…thường kỳ (đã lê" becomes "…thường kỳ…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    cut = room.rsplit(" ", 1)[0] if " " in room else room
    return cut.rstrip(" ·,;:-–(") + "…"


def button_label(*parts: str, limit: int = LABEL_MAX) -> str:
    """A button's label from its parts, most distinguishing first (a date, then a name): the
    leading parts are kept whole and the last one is shortened at a word boundary."""
    kept = [" ".join(p.split()) for p in parts if p and p.strip()]
    if not kept:
        return ""
    head = " · ".join(kept[:-1])
    if not head:
        return short(kept[-1], limit)
    room = limit - len(head) - 3
    if room < 8:  # no room left for a useful name: shorten the whole line instead
        return short(" · ".join(kept), limit)
    return f"{head} · {short(kept[-1], room)}"
