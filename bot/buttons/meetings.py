"""The RSVP buttons' callback data: one definition for the outbox messages that carry the
buttons (built by `presentation`) and the handler that takes the press."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.inputs import RowId as Id
from storage.models.meetings import RsvpAnswer


class RsvpChoice(enum.Enum):
    YES = "y"
    NO = "n"

    @property
    def answer(self) -> RsvpAnswer:
        return RsvpAnswer.YES if self is RsvpChoice.YES else RsvpAnswer.NO


class RsvpCb(CallbackData, prefix="rsvp"):
    meeting_id: Id
    a: RsvpChoice
