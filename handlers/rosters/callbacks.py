"""Callback data of the roster screens. The buttons the outbox carries (`RosterCb`,
`ConfirmCb`, `OfferCb`, `HandbackCb`, `MoveCb`) are the services'; re-exported here so the
handlers find every format in one place."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.buttons.rosters import (
    ConfirmCb,
    HandbackCb,
    MoveAct,
    MoveCb,
    OfferAct,
    OfferCb,
    RosterAct,
    RosterCb,
)
from handlers.kit import Id

__all__ = [
    "ConfirmCb",
    "HandbackCb",
    "MoveAct",
    "MoveCb",
    "OfferAct",
    "OfferCb",
    "OfferToCb",
    "RosterAct",
    "RosterCb",
    "VisitAct",
    "VisitCb",
]


class VisitAct(enum.Enum):
    OFFER = "o"  # pass it on to a group mate (who accepts or declines)
    HANDBACK = "h"  # give it back; the leader confirms who goes instead


class VisitCb(CallbackData, prefix="rvi"):
    visit_id: Id
    a: VisitAct


class OfferToCb(CallbackData, prefix="rot"):
    visit_id: Id
    member_id: Id
