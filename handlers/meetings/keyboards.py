"""Keyboards of the meeting screens (texts from the person's catalog via the kit's `t`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, time

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services.meetings import AbsenceReason, Branch, Meeting, MeetingKind
from handlers.kit import button_label, month_grid, one_column, t
from handlers.meetings.callbacks import (
    BranchCb,
    ChangeCb,
    KindCb,
    PickAct,
    PickCb,
    PlannedCb,
    ReasonCb,
    StepAct,
    StepCb,
    TimeCb,
)

KINDS = (MeetingKind.REGULAR, MeetingKind.THEMATIC, MeetingKind.EXTRAORDINARY)
COMMON_TIMES = (time(7, 30), time(8), time(14), time(19), time(19, 30), time(20))
PICK_LIMIT = 8  # meetings offered as buttons when the branch has several open ones
PLANNED_LIMIT = 3  # planned meetings offered for a one-tap confirmation


def abort_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=t("mtg.sched.abort"), callback_data=StepCb(act=StepAct.ABORT).pack()
    )


def step_keyboard(act: StepAct, text: str) -> InlineKeyboardMarkup:
    """One step's own button, then the abort button."""
    return one_column(
        InlineKeyboardButton(text=text, callback_data=StepCb(act=act).pack()), abort_button()
    )


def abort_only() -> InlineKeyboardMarkup:
    return one_column(abort_button())


def check_keyboard() -> InlineKeyboardMarkup:
    """The last look before anybody is told: Xác nhận, Sửa, Hủy."""
    return one_column(
        InlineKeyboardButton(text=t("mtg.sched.ok"), callback_data=StepCb(act=StepAct.OK).pack()),
        InlineKeyboardButton(
            text=t("mtg.sched.edit"), callback_data=StepCb(act=StepAct.EDIT).pack()
        ),
        abort_button(),
    )


def change_keyboard(act: PickAct, meeting_id: int) -> InlineKeyboardMarkup:
    """Confirm a reschedule or a cancel of this meeting, or leave it as it is. The cancel's
    way out says "Giữ nguyên" so that no button on that screen reads "Hủy" but the act."""
    ok = "mtg.change.ok_cancel" if act is PickAct.CANCEL else "mtg.change.ok_resched"
    back = (
        InlineKeyboardButton(
            text=t("mtg.change.keep"), callback_data=StepCb(act=StepAct.ABORT).pack()
        )
        if act is PickAct.CANCEL
        else abort_button()
    )
    return one_column(
        InlineKeyboardButton(
            text=t(ok), callback_data=ChangeCb(act=act, meeting_id=meeting_id).pack()
        ),
        back,
    )


def branch_keyboard(branches: Sequence[Branch]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for b in branches:
        kb.button(text=b.name, callback_data=BranchCb(branch_id=b.id))
    kb.adjust(1)
    kb.row(abort_button())
    return kb.as_markup()


def kind_keyboard(
    planned: Sequence[Meeting], when: Callable[[Meeting], str]
) -> InlineKeyboardMarkup:
    """Confirm a planned meeting in one tap, or choose the kind of a new one."""
    kb = InlineKeyboardBuilder()
    for m in planned[:PLANNED_LIMIT]:
        kb.button(
            text=t("mtg.sched.confirm_planned", when=when(m)),
            callback_data=PlannedCb(meeting_id=m.id),
        )
    for kind in KINDS:
        kb.button(text=t(f"meetings.kind.{kind.value}"), callback_data=KindCb(kind=kind))
    kb.adjust(1)
    kb.row(abort_button())
    return kb.as_markup()


def calendar(year: int, month: int, today: date) -> InlineKeyboardMarkup:
    return month_grid(year, month, today, footer=[abort_button()])


def time_keyboard(usual: time | None) -> InlineKeyboardMarkup:
    """The usual times (and the branch's own), three a row."""
    times = set(COMMON_TIMES)
    if usual is not None:
        times.add(usual.replace(second=0, microsecond=0))
    kb = InlineKeyboardBuilder()
    for at in sorted(times):
        kb.button(text=f"{at:%H:%M}", callback_data=TimeCb(h=at.hour, mi=at.minute))
    kb.adjust(3)
    kb.row(abort_button())
    return kb.as_markup()


def pick_keyboard(
    meetings: Sequence[Meeting], act: PickAct, when: Callable[[Meeting], str]
) -> InlineKeyboardMarkup:
    """Which open meeting /reschedule or /cancel is about."""
    kb = InlineKeyboardBuilder()
    for m in meetings[:PICK_LIMIT]:
        status = t(f"mtg.status.{m.status}")
        text = button_label(when(m), f"{t(f'meetings.kind.{m.kind}')} ({status})", limit=64)
        kb.button(text=text, callback_data=PickCb(act=act, meeting_id=m.id))
    kb.adjust(1)
    kb.row(abort_button())
    return kb.as_markup()


def reason_keyboard(meeting_id: int) -> InlineKeyboardMarkup:
    """Why absent: one tap from the short list ("other" asks for a few words)."""
    kb = InlineKeyboardBuilder()
    for code in AbsenceReason:
        kb.button(
            text=t(f"meetings.reason.{code.value}"),
            callback_data=ReasonCb(meeting_id=meeting_id, code=code),
        )
    kb.adjust(2)
    return kb.as_markup()
