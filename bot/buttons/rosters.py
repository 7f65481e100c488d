"""The roster buttons' callback data: one definition for the outbox messages that carry them
(built by the services) and the handlers that take the press. Ids are bounded; actions enums.

A press carries no authority: the handler's service checks that the person pressing is the
visitor, the offered member, the secretary asked or the group's leader, every time.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.inputs import RowId as Id
from bot.inputs import SmallInt as Small


class RosterAct(enum.Enum):
    VIEW = "v"
    REGENERATE = "r"
    PUBLISH = "p"  # the check's confirm: publishes
    ASK_PUBLISH = "a"  # Công bố on the draft: the check first (class 2, it tells a group)
    MOVE = "m"  # ask a branch to take the suggested move number `i`


class RosterCb(CallbackData, prefix="ros"):
    """The leader's review screen; `version` refuses a press on an older screen."""

    roster_id: Id
    version: Id
    a: RosterAct
    i: Small = 0


class ConfirmCb(CallbackData, prefix="rcf"):
    """The visitor's Xác nhận under their private list: confirms their visits of the roster."""

    roster_id: Id


class ConfirmVisitCb(CallbackData, prefix="rcf1"):
    """Xác nhận under a nudge: confirms exactly that one visit (never the visitor's others)."""

    visit_id: Id


class OfferAct(enum.Enum):
    ACCEPT = "a"
    DECLINE = "d"


class OfferCb(CallbackData, prefix="rof"):
    """The offered member's answer to "take my visit"."""

    visit_id: Id
    a: OfferAct


class HandbackCb(CallbackData, prefix="rhb"):
    """The leader confirming the member the solver proposes for a handed-back visit."""

    visit_id: Id
    member_id: Id


class MoveAct(enum.Enum):
    ACCEPT = "a"
    DECLINE = "d"


class MoveCb(CallbackData, prefix="rmv"):
    """The secretary's answer to a roster's request to move their meeting."""

    request_id: Id
    a: MoveAct
