"""Callback data of the roster screens. The buttons the outbox carries (`RosterCb`,
`ConfirmCb`, `OfferCb`, `HandbackCb`, `MoveCb`) are the services'; re-exported here so the
handlers find every format in one place."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.buttons.rosters import (
    ConfirmCb,
    ConfirmVisitCb,
    HandbackCb,
    MoveAct,
    MoveCb,
    OfferAct,
    OfferCb,
    RosterAct,
    RosterCb,
)
from handlers.kit import Id, Small

__all__ = [
    "ConfirmCb",
    "ConfirmVisitCb",
    "CoverageCb",
    "HandbackCb",
    "MoveAct",
    "MoveCb",
    "OfferAct",
    "OfferCb",
    "OfferToCb",
    "PeriodCb",
    "RosterAct",
    "RosterCb",
    "VisitAct",
    "VisitCb",
]


class VisitAct(enum.Enum):
    OFFER = "o"  # pass it on to a group mate (who accepts or declines)
    HANDBACK = "h"  # give it back; the leader confirms who goes instead
    BACK = "b"  # from the pass-on picker, back to the roster
    KEEP = "k"  # Hủy on the pass-on picker: nothing passed on, the visit stays one's own


class VisitCb(CallbackData, prefix="rvi"):
    visit_id: Id
    a: VisitAct


class OfferToCb(CallbackData, prefix="rot"):
    visit_id: Id
    member_id: Id


class PeriodCb(CallbackData, prefix="rqp"):
    """A quarter offered by /roster (this one or the coming one; re-checked on press)."""

    y: Small
    q: Small


class CoverageCb(CallbackData, prefix="rcv"):
    """A period offered by /coverage: a quarter, or the whole year when `q` is 0."""

    y: Small
    q: Small = 0
