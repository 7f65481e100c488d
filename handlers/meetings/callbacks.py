"""Callback data of the meeting screens: ids bounded (`Id`, `Small`), actions as enums.

The calendar's `CalCb` is the kit's; the RSVP buttons' `RsvpCb` is the services' (the outbox
messages carry them), re-exported here so handlers find every format in one place.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.services.meetings import AbsenceReason, MeetingKind, RsvpCb, RsvpChoice
from handlers.kit import CalAction, CalCb, Id, Small

__all__ = [
    "BranchCb",
    "CalAction",
    "CalCb",
    "KindCb",
    "PickAct",
    "PickCb",
    "PlannedCb",
    "ReasonCb",
    "RsvpCb",
    "RsvpChoice",
    "StepAct",
    "StepCb",
    "TimeCb",
]


class BranchCb(CallbackData, prefix="mbr"):
    branch_id: Id


class KindCb(CallbackData, prefix="mkind"):
    kind: MeetingKind


class PlannedCb(CallbackData, prefix="mplan"):
    meeting_id: Id


class TimeCb(CallbackData, prefix="mtime"):
    h: Small
    mi: Small


class StepAct(enum.Enum):
    PLACE = "place"  # use the branch's usual place
    SKIP = "skip"  # no agenda
    OK = "ok"  # schedule it
    ABORT = "abort"  # leave the wizard ("Hủy thao tác"; /cancel cancels meetings)


class StepCb(CallbackData, prefix="mstep"):
    act: StepAct


class PickAct(enum.Enum):
    RESCHEDULE = "r"
    CANCEL = "c"


class PickCb(CallbackData, prefix="mpick"):
    act: PickAct
    meeting_id: Id


class ReasonCb(CallbackData, prefix="rsvr"):
    meeting_id: Id
    code: AbsenceReason
