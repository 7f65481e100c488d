"""Conversation states and the drafts they carry (pydantic, stored with `model_dump`).

A screen's state is set only after the screen was shown: when Telegram fails the edit (a 5xx),
the conversation stays where it was and the same press works again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime
from typing import Any, TypeVar

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from pydantic import BaseModel, ValidationError

from bot.services.access.policy import Refused
from bot.services.meetings import MeetingKind
from handlers.kit import advance
from handlers.meetings.callbacks import PickAct


class Schedule(StatesGroup):
    BRANCH = State()
    KIND = State()
    DATE = State()
    TIME = State()
    PLACE = State()
    AGENDA = State()
    CONFIRM = State()


class Change(StatesGroup):
    PICK = State()  # /reschedule or /cancel: which open meeting
    NEW_TIME = State()  # /reschedule without arguments: the new date and time, typed
    CONFIRM = State()  # the change shown, nothing told yet


class Absence(StatesGroup):
    REASON = State()


class ScheduleDraft(BaseModel):
    branch_id: int
    kind: MeetingKind | None = None
    day: date | None = None
    starts_at: datetime | None = None
    place: str = ""
    agenda: str = ""
    # The check screen said this month's cancelled regular meeting comes back.
    reinstate: bool = False

    def chosen_day(self) -> date:
        if self.day is None:
            raise Refused("kit.expired")
        return self.day

    def details(self) -> tuple[MeetingKind, datetime]:
        """Kind and start, which every step after the time has (else the draft is stale)."""
        if self.kind is None or self.starts_at is None:
            raise Refused("kit.expired")
        return self.kind, self.starts_at


class ChangeDraft(BaseModel):
    op: PickAct
    text: str = ""  # /reschedule: the new "date time [place]"; /cancel: the reason
    meeting_id: int | None = None


class AbsenceDraft(BaseModel):
    meeting_id: int


Draft = TypeVar("Draft", bound=BaseModel)


async def load(state: FSMContext, model: type[Draft]) -> Draft:
    """The draft of this conversation; a missing or stale one is "expired, start again"."""
    try:
        return model.model_validate(await state.get_data())
    except ValidationError:
        raise Refused("kit.expired") from None


async def enter(state: FSMContext, step: State, draft: BaseModel, screen: Awaitable[Any]) -> None:
    """Move to `step` with `draft` and show its screen (`kit.advance`: if the screen cannot be
    shown, the conversation stays at the step the person still sees)."""
    await advance(state, step, draft.model_dump(mode="json"), screen)
