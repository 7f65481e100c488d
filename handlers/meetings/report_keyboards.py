"""What each step of the /report wizard shows: its text and its buttons, from the draft.

The callback data carry the meeting id of the draft they were shown for (a button of another
draft is stale), an `Act` enum, and bounded numbers; nothing in them is trusted beyond that:
the draft's rules and, on submission, the report service check every value again.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import CatalogI18n
from bot.services.meetings.common import LIST_ITEMS_MAX, RESOLUTION_MAX
from bot.services.meetings.report_steps import Act, Mode, Step
from bot.services.meetings.report_text import clip, kind_label, report_text
from bot.services.meetings.report_wizard import Reportable, WizardScreen
from bot.services.vn_calendar import format_datetime
from handlers.kit import Id, Small, locale, pager, t

ABSENT_PAGE = 8
LIST_PREVIEW = 10


class RepPick(CallbackData, prefix="mrp"):
    """Start (or correct) the report of one meeting: the id is re-checked by the services."""

    mid: Id


class RepCb(CallbackData, prefix="mrw"):
    """A wizard button of the draft of meeting `mid`; `v` is a page of the absent list."""

    mid: Id
    act: Act
    v: Small = 0


class RepMember(CallbackData, prefix="mrm"):
    """Toggle one member between present, absent excused and absent not excused."""

    mid: Id
    member: Id


class RepEdit(CallbackData, prefix="mre"):
    """From the summary: go back to one part of the draft."""

    mid: Id
    step: Step


def _btn(text: str, mid: int, act: Act, value: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RepCb(mid=mid, act=act, v=value).pack())


def _edit(text: str, mid: int, step: Step) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=RepEdit(mid=mid, step=step).pack())


def _nav(mid: int, keep_key: str = "mrep.w.next") -> list[InlineKeyboardButton]:
    return [_btn(t(keep_key), mid, Act.NEXT), _btn(t("mrep.w.cancel"), mid, Act.QUIT)]


def pick_keyboard(items: Sequence[Reportable]) -> InlineKeyboardMarkup:
    """One button per meeting awaiting (or open to the correction of) a report."""
    kb = InlineKeyboardBuilder()
    for item in items:
        key = "mrep.pick.reported" if item.reported else "mrep.pick.unreported"
        text = t(
            key,
            when=format_datetime(item.meeting.starts_at, locale()),
            kind=t(f"meetings.kind.{item.meeting.kind}"),
        )
        kb.button(text=text, callback_data=RepPick(mid=item.meeting.id))
    kb.adjust(1)
    return kb.as_markup()


def screen(i18n: CatalogI18n, s: WizardScreen) -> tuple[str, InlineKeyboardMarkup]:
    """The current step's text and buttons."""
    d, mid = s.draft, s.draft.meeting_id
    if d.step is Step.CONFIRM:
        return _summary(i18n, s)
    head = t(
        "mrep.w.head",
        kind=kind_label(i18n, locale(), s.meeting),
        when=format_datetime(s.meeting.starts_at, locale()),
    )
    if d.mode is Mode.CORRECT:
        head += "\n" + t("mrep.w.correcting")
    rows: list[list[InlineKeyboardButton]]
    if d.step is Step.HELD:
        body = t("mrep.w.held")
        rows = [
            [
                _btn(t("mrep.w.held_yes"), mid, Act.HELD_YES),
                _btn(t("mrep.w.held_no"), mid, Act.HELD_NO),
            ],
            [_btn(t("mrep.w.cancel"), mid, Act.QUIT)],
        ]
    elif d.step is Step.PRESENT:
        body = t("mrep.w.present", present=d.present, members=d.members)
        rows = [
            [
                _btn("−1", mid, Act.PRESENT_DEC),
                _btn("+1", mid, Act.PRESENT_INC),
                _btn(t("mrep.w.present_all", n=d.max_present), mid, Act.PRESENT_ALL),
            ],
            _nav(mid),
        ]
    elif d.step is Step.ABSENT:
        return f"{head}\n\n{_absent_body(s)}", _absent_keyboard(s)
    elif d.step is Step.MINUTES:
        if d.file_id and d.file_kind:
            current = t("mrep.w.minutes_has_file", kind=t(f"mrep.minutes.{d.file_kind.value}"))
        else:
            current = t("mrep.w.minutes_yes" if d.minutes else "mrep.w.minutes_no")
        body = t("mrep.w.minutes", current=current)
        rows = [
            [
                _btn(t("mrep.w.minutes_kept"), mid, Act.MINUTES_KEPT),
                _btn(t("mrep.w.minutes_none"), mid, Act.MINUTES_NONE),
            ],
            _nav(mid),
        ]
    elif d.step is Step.RESOLUTION:
        current = html.quote(clip(d.resolution, 500)) if d.resolution else t("mrep.w.empty")
        body = t("mrep.w.resolution", max=RESOLUTION_MAX, current=current)
        rows = [_nav(mid, "mrep.w.keep" if d.resolution else "mrep.w.skip")]
    elif d.step is Step.TOPICS:
        body = t("mrep.w.topics", max=LIST_ITEMS_MAX, current=_preview(d.topics))
        rows = [_nav(mid, "mrep.w.keep" if d.topics else "mrep.w.skip")]
    else:
        body = t("mrep.w.proposals", max=LIST_ITEMS_MAX, current=_preview(d.proposals))
        rows = [_nav(mid, "mrep.w.keep" if d.proposals else "mrep.w.skip")]
    return f"{head}\n\n{body}", InlineKeyboardMarkup(inline_keyboard=rows)


def _pages(s: WizardScreen) -> tuple[int, int]:
    pages = max(1, -(-len(s.names) // ABSENT_PAGE))
    return min(s.draft.page, pages - 1), pages


def _absent_body(s: WizardScreen) -> str:
    page, pages = _pages(s)
    d = s.draft
    return t("mrep.w.absent", absent=len(d.absent), present=d.present, page=page + 1, pages=pages)


def _absent_keyboard(s: WizardScreen) -> InlineKeyboardMarkup:
    """Every member with their mark, a page at a time; ◀/▶, then Next / Cancel."""
    d, mid = s.draft, s.draft.meeting_id
    page, pages = _pages(s)
    kb = InlineKeyboardBuilder()
    for member_id in list(s.names)[page * ABSENT_PAGE : (page + 1) * ABSENT_PAGE]:
        entry = d.absent.get(member_id)
        if entry is None:
            mark = t("mrep.w.mark_present")
        else:
            mark = t("mrep.w.mark_excused" if entry.excused else "mrep.w.mark_unexcused")
        kb.button(
            text=f"{mark} {clip(s.names[member_id], 40)}",
            callback_data=RepMember(mid=mid, member=member_id),
        )
    markup = pager(kb, page, pages, lambda p: RepCb(mid=mid, act=Act.ABSENT_PAGE, v=p))
    markup.inline_keyboard.append(_nav(mid))
    return markup


def _preview(items: Sequence[str]) -> str:
    if not items:
        return t("mrep.w.empty")
    shown = [f"• {html.quote(clip(i, 100))}" for i in items[:LIST_PREVIEW]]
    if len(items) > LIST_PREVIEW:
        shown.append(t("mrep.report.more", n=len(items) - LIST_PREVIEW))
    return "\n".join(shown)


def _summary(i18n: CatalogI18n, s: WizardScreen) -> tuple[str, InlineKeyboardMarkup]:
    """The draft as the report will read, Send, and a way back to every part."""
    d, mid = s.draft, s.draft.meeting_id
    text = report_text(i18n, locale(), s.summary_view())
    send_key = "mrep.w.send_correction" if d.mode is Mode.CORRECT else "mrep.w.send"
    rows = [
        [_btn(t(send_key), mid, Act.SEND)],
        [
            _edit(t("mrep.w.edit_held"), mid, Step.HELD),
            _edit(t("mrep.w.edit_present"), mid, Step.PRESENT),
        ],
        [
            _edit(t("mrep.w.edit_absent"), mid, Step.ABSENT),
            _edit(t("mrep.w.edit_minutes"), mid, Step.MINUTES),
        ],
        [
            _edit(t("mrep.w.edit_resolution"), mid, Step.RESOLUTION),
            _edit(t("mrep.w.edit_topics"), mid, Step.TOPICS),
        ],
        [
            _edit(t("mrep.w.edit_proposals"), mid, Step.PROPOSALS),
            _btn(t("mrep.w.cancel"), mid, Act.QUIT),
        ],
    ]
    title = t("mrep.w.summary")
    if d.mode is Mode.CORRECT:
        title = f"{t('mrep.w.correcting')}\n{title}"
    return f"{title}\n\n{text}", InlineKeyboardMarkup(inline_keyboard=rows)
