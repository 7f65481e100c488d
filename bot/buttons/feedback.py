"""The feedback buttons' callback data: one definition for the outbox messages that carry them
(built by the services) and the handlers that take the press. Ids are bounded; actions enums.

A press carries no authority: the service checks, every time, that the person pressing may act
at the item's level (or is its submitter), and `version` refuses a press on an older card, so a
button pressed twice quickly records one act.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.inputs import RowId as Id
from bot.inputs import SmallInt as Small
from storage.models.feedback import FeedbackSource, LevelType


class CardAct(enum.Enum):
    TAKE = "t"
    FORWARD = "f"  # opens the list of targets (ForwardCb)
    ASK = "q"
    ANSWER = "a"
    CLOSE = "c"
    REJECT = "r"


class CardCb(CallbackData, prefix="fbc"):
    """A button on a level's card of an item."""

    item_id: Id
    version: Id
    a: CardAct


class ForwardCb(CallbackData, prefix="fbf"):
    """A chosen forward target: a unit, the district or a department (an option id)."""

    item_id: Id
    version: Id
    level: LevelType
    level_id: Id


class ReplyAct(enum.Enum):
    ACCEPT = "a"
    REOPEN = "o"
    INFO = "i"  # the submitter types the details asked for


class ReplyCb(CallbackData, prefix="fbr"):
    """A button on the answer (or the question) the submitter gets."""

    item_id: Id
    version: Id
    a: ReplyAct


class ConvertCb(CallbackData, prefix="fbx"):
    """ "Chuyển thành kiến nghị" under a report's summary.

    Meeting report: `source_id` is the meeting's id and `index` the proposal's place in the
    current report. Visit report: `source_id` is the heard proposal's id, `index` 0."""

    source: FeedbackSource
    source_id: Id
    index: Small
