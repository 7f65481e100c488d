"""Callback data of the feedback screens. The buttons the outbox carries (cards, answers, the
"turn into an item" buttons on report summaries) are the services'; re-exported here so the
handlers find every format in one place. The /feedback wizard's and the typed-text prompts'
buttons are the handlers' own."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.buttons.feedback import (
    CardAct,
    CardCb,
    ConvertCb,
    ForwardCb,
    ReplyAct,
    ReplyCb,
)
from handlers.kit import Small

__all__ = [
    "CardAct",
    "CardCb",
    "ConvertCb",
    "ForwardCb",
    "PromptCb",
    "RaiseCb",
    "RaiseStep",
    "ReplyAct",
    "ReplyCb",
]


class RaiseStep(enum.Enum):
    BRANCH = "b"  # v: the index of the branch among the choices
    CATEGORY = "c"  # v: the index of the category among the choices
    FILES_DONE = "d"  # no (more) files
    AS_SELF = "m"  # in my own name
    AS_BRANCH = "o"  # on behalf of the branch
    PRIVATE = "p"  # toggle "private matter"
    SEND = "s"
    CANCEL = "x"


class RaiseCb(CallbackData, prefix="fbw"):
    """A button of the /feedback draft; `v` indexes the choices the draft keeps, so a forged
    value is out of range (expired) and never names a row."""

    s: RaiseStep
    v: Small = 0


class PromptCb(CallbackData, prefix="fbp"):
    """The "Cancel" under a question the bot asked in private (an answer's text, a reason)."""

    cancel: Small = 1
