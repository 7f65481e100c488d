"""The composing screens: who receives it, the options, the preview's summary.

Each screen is drawn from the draft as stored (its audience and options) and the choices the
sender has (`AudienceChoices`), so every press shows the truth after the service checked it.
Texts come from the person's catalog through the kit's `t`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services.broadcasts import Audience, AudienceChoices, AudiencePart, audience_of
from bot.services.broadcasts.compose import Broadcast
from bot.services.vn_sort import vn_sorted
from handlers.broadcasts.callbacks import (
    AudAct,
    AudCb,
    CancelCb,
    OptAct,
    OptCb,
    SendCb,
)
from handlers.kit import day_text, short, t, when

UNIT_PAGE = 8
DEADLINE_DAYS = (1, 2, 3, 5, 7)
DEFAULT_DAYS = 3
DEADLINE_TIME = dtime(17, 0)  # the end of an office day: "by Friday 17:00"
SCHEDULE_DAYS = 7  # "later": today and the next six days
HOURS = range(6, 22)
UNREACHABLE_SHOWN = 30
# The parts toggled straight from the audience screen (units and kinds have their own lists).
TOGGLES = (
    AudiencePart.ALL_BRANCH_GROUPS,
    AudiencePart.SECRETARIES,
    AudiencePart.WORKING_GROUPS,
    AudiencePart.UNIT_CHATS,
)


def _mark(on: bool) -> str:
    return "✅" if on else "▫️"


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def cancel_button(broadcast_id: int) -> InlineKeyboardButton:
    return _button(t("bcui.button.cancel"), CancelCb(b=broadcast_id).pack())


def current(broadcast: Broadcast) -> Audience:
    return audience_of(broadcast) or Audience(parts=frozenset())


# Audience ---------------------------------------------------------------------------------------


def audience_lines(audience: Audience, options: AudienceChoices) -> list[str]:
    """What is chosen, one line each (empty: nothing yet)."""
    names = dict(options.units)
    lines = []
    for part in (
        AudiencePart.ALL_BRANCH_GROUPS,
        AudiencePart.UNIT_BRANCHES,
        AudiencePart.BRANCH_KINDS,
        *TOGGLES[1:],
    ):
        if part not in audience.parts:
            continue
        line = t(f"bcui.part.{part.value}")
        if part is AudiencePart.UNIT_BRANCHES:
            chosen = vn_sorted(names.get(u, str(u)) for u in audience.unit_ids)
            line += ": " + escape(", ".join(chosen))
        elif part is AudiencePart.BRANCH_KINDS:
            line += ": " + ", ".join(t(f"people.kind.{k}") for k in sorted(audience.kinds))
        lines.append("• " + line)
    return lines


def audience_screen(
    broadcast: Broadcast, options: AudienceChoices
) -> tuple[str, InlineKeyboardMarkup]:
    audience = current(broadcast)
    chosen = audience_lines(audience, options)
    text = t("bcui.audience.title") + "\n"
    text += "\n".join(chosen) if chosen else t("bcui.audience.nothing")
    b = broadcast.id
    rows = [
        [
            _button(
                f"{_mark(AudiencePart.ALL_BRANCH_GROUPS in audience.parts)} {t('bcui.part.all')}",
                AudCb(b=b, a=AudAct.TOGGLE, part=AudiencePart.ALL_BRANCH_GROUPS).pack(),
            )
        ],
        [
            _button(
                t(
                    "bcui.button.units",
                    mark=_mark(AudiencePart.UNIT_BRANCHES in audience.parts),
                    n=len(audience.unit_ids),
                ),
                AudCb(b=b, a=AudAct.UNITS).pack(),
            )
        ],
        [
            _button(
                t(
                    "bcui.button.kinds",
                    mark=_mark(AudiencePart.BRANCH_KINDS in audience.parts),
                    n=len(audience.kinds),
                ),
                AudCb(b=b, a=AudAct.KINDS).pack(),
            )
        ],
    ]
    for part in TOGGLES[1:]:
        label = f"{_mark(part in audience.parts)} {t(f'bcui.part.{part.value}')}"
        rows.append([_button(label, AudCb(b=b, a=AudAct.TOGGLE, part=part).pack())])
    rows.append(
        [
            cancel_button(b),
            _button(t("bcui.button.next"), AudCb(b=b, a=AudAct.NEXT).pack()),
        ]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def toggled(audience: Audience, part: AudiencePart) -> Audience:
    """A part on or off. All branch groups and a narrowing by unit or kind exclude each other
    (all would win), so choosing one lets the other go."""
    parts = set(audience.parts) ^ {part}
    update: dict[str, object] = {"parts": frozenset(parts)}
    if part is AudiencePart.ALL_BRANCH_GROUPS and part in parts:
        parts -= {AudiencePart.UNIT_BRANCHES, AudiencePart.BRANCH_KINDS}
        update = {"parts": frozenset(parts), "unit_ids": frozenset(), "kinds": frozenset()}
    return audience.model_copy(update=update)


def with_unit(audience: Audience, unit_id: int) -> Audience:
    units = set(audience.unit_ids) ^ {unit_id}
    parts = set(audience.parts) - {AudiencePart.ALL_BRANCH_GROUPS}
    parts = parts | {AudiencePart.UNIT_BRANCHES} if units else parts - {AudiencePart.UNIT_BRANCHES}
    return audience.model_copy(update={"parts": frozenset(parts), "unit_ids": frozenset(units)})


def with_kind(audience: Audience, kind: str) -> Audience:
    kinds = set(audience.kinds) ^ {kind}
    parts = set(audience.parts) - {AudiencePart.ALL_BRANCH_GROUPS}
    parts = parts | {AudiencePart.BRANCH_KINDS} if kinds else parts - {AudiencePart.BRANCH_KINDS}
    return audience.model_copy(update={"parts": frozenset(parts), "kinds": frozenset(kinds)})


def units_screen(
    broadcast: Broadcast, options: AudienceChoices, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    audience = current(broadcast)
    units = options.units
    pages = max(1, -(-len(units) // UNIT_PAGE))
    page = min(max(page, 0), pages - 1)
    b = broadcast.id
    kb = InlineKeyboardBuilder()
    for unit_id, name in units[page * UNIT_PAGE : (page + 1) * UNIT_PAGE]:
        label = _mark(unit_id in audience.unit_ids) + " " + short(name, 58)
        kb.row(_button(label, AudCb(b=b, a=AudAct.UNIT, unit=unit_id, p=page).pack()))
    nav = []
    if page > 0:
        nav.append(_button(t("people.prev"), AudCb(b=b, a=AudAct.UNITS, p=page - 1).pack()))
    if page < pages - 1:
        nav.append(_button(t("people.next"), AudCb(b=b, a=AudAct.UNITS, p=page + 1).pack()))
    if nav:
        kb.row(*nav)
    kb.row(_button(t("bcui.button.done"), AudCb(b=b, a=AudAct.BACK).pack()))
    text = t("bcui.units.title", page=page + 1, pages=pages, n=len(audience.unit_ids))
    return text, kb.as_markup()


def kinds_screen(
    broadcast: Broadcast, options: AudienceChoices
) -> tuple[str, InlineKeyboardMarkup]:
    audience = current(broadcast)
    b = broadcast.id
    rows = [
        [
            _button(
                f"{_mark(kind in audience.kinds)} {t(f'people.kind.{kind}')}",
                AudCb(b=b, a=AudAct.KIND, kind=kind).pack(),
            )
        ]
        for kind in options.kinds
    ]
    rows.append([_button(t("bcui.button.done"), AudCb(b=b, a=AudAct.BACK).pack())])
    return t("bcui.kinds.title"), InlineKeyboardMarkup(inline_keyboard=rows)


# Options ----------------------------------------------------------------------------------------


def local_day(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


def at_local(day: date, at: dtime, tz: tzinfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def deadline_for(start: datetime, days: int, tz: tzinfo) -> datetime:
    """`days` after the sending day, at the end of the office day."""
    return at_local(local_day(start, tz) + timedelta(days=days), DEADLINE_TIME, tz)


def deadline_days(broadcast: Broadcast, now: datetime, tz: tzinfo) -> int | None:
    """The deadline as days after the sending day (what its buttons say), None without one."""
    if broadcast.ack_deadline is None:
        return None
    start = broadcast.send_at or now
    return (local_day(broadcast.ack_deadline, tz) - local_day(start, tz)).days


def options_text(broadcast: Broadcast, tz: tzinfo) -> str:
    """The options as chosen: acknowledgement (by when), pin, when it goes."""
    if broadcast.ack_required and broadcast.ack_deadline is not None:
        ack = t("bcui.options.ack_by", deadline=when(broadcast.ack_deadline, tz))
    else:
        ack = t("bcui.options.ack_on" if broadcast.ack_required else "bcui.options.ack_off")
    send = (
        t("bcui.options.at", when=when(broadcast.send_at, tz))
        if broadcast.send_at
        else t("bcui.options.now")
    )
    pin = t("bcui.options.pin_on" if broadcast.pin else "bcui.options.pin_off")
    return t("bcui.options.title", ack=ack, pin=pin, send=send)


def options_screen(
    broadcast: Broadcast, now: datetime, tz: tzinfo
) -> tuple[str, InlineKeyboardMarkup]:
    b = broadcast.id
    days = deadline_days(broadcast, now, tz)
    text = options_text(broadcast, tz)
    rows = [
        [
            _button(
                f"{_mark(broadcast.ack_required)} {t('bcui.button.ack')}",
                OptCb(b=b, a=OptAct.ACK).pack(),
            )
        ]
    ]
    if broadcast.ack_required:
        rows.append(
            [
                _button(
                    ("✅ " if n == days else "") + t("bcui.button.days", n=n),
                    OptCb(b=b, a=OptAct.DAYS, v=n).pack(),
                )
                for n in DEADLINE_DAYS
            ]
        )
    rows.append(
        [_button(f"{_mark(broadcast.pin)} {t('bcui.button.pin')}", OptCb(b=b, a=OptAct.PIN).pack())]
    )
    rows.append(
        [
            _button(
                f"{_mark(broadcast.send_at is None)} {t('bcui.button.now')}",
                OptCb(b=b, a=OptAct.NOW).pack(),
            ),
            _button(
                f"{_mark(broadcast.send_at is not None)} {t('bcui.button.later')}",
                OptCb(b=b, a=OptAct.LATER).pack(),
            ),
        ]
    )
    rows.append(
        [
            _button(t("bcui.button.back"), AudCb(b=b, a=AudAct.BACK).pack()),
            _button(t("bcui.button.preview"), OptCb(b=b, a=OptAct.PREVIEW).pack()),
        ]
    )
    rows.append([cancel_button(b)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def days_screen(broadcast_id: int, today: date) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for offset in range(SCHEDULE_DAYS):
        day = today + timedelta(days=offset)
        label = (
            t("bcui.day.today")
            if offset == 0
            else f"{t(f'people.weekday.{day.weekday()}')} {day:%d/%m}"
        )
        kb.button(text=label, callback_data=OptCb(b=broadcast_id, a=OptAct.DAY, v=offset))
    kb.adjust(2)
    kb.row(_button(t("bcui.button.back"), OptCb(b=broadcast_id, a=OptAct.SHOW).pack()))
    return t("bcui.day.title"), kb.as_markup()


def hours_screen(
    broadcast_id: int, offset: int, today: date, now: datetime, tz: tzinfo
) -> tuple[str, InlineKeyboardMarkup]:
    day = today + timedelta(days=offset)
    kb = InlineKeyboardBuilder()
    for hour in HOURS:
        if at_local(day, dtime(hour), tz) <= now:
            continue  # passed already
        kb.button(
            text=f"{hour:02d}:00",
            callback_data=OptCb(b=broadcast_id, a=OptAct.HOUR, v=offset, h=hour),
        )
    kb.adjust(4)
    kb.row(_button(t("bcui.button.back"), OptCb(b=broadcast_id, a=OptAct.LATER).pack()))
    return t("bcui.hour.title", day=day_text(day)), kb.as_markup()


# Preview ----------------------------------------------------------------------------------------


def reach_lines(reason_text: Sequence[tuple[str, str]]) -> list[str]:
    """(name, why) of the unreachable ones, the first `UNREACHABLE_SHOWN`, then how many more."""
    lines = [f"• {escape(name)} — {why}" for name, why in reason_text[:UNREACHABLE_SHOWN]]
    if len(reason_text) > UNREACHABLE_SHOWN:
        lines.append(t("bcui.preview.more", n=len(reason_text) - UNREACHABLE_SHOWN))
    return lines


def preview_markup(broadcast_id: int, version: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(t("bcui.button.send"), SendCb(b=broadcast_id, version=version).pack())],
            [
                _button(t("bcui.button.edit"), OptCb(b=broadcast_id, a=OptAct.SHOW).pack()),
                cancel_button(broadcast_id),
            ],
        ]
    )
