"""Callback data of the broadcast screens. The buttons the outbox carries (`AckCb` under each
copy, `ProgressCb` on the sender's progress message) are the services'; re-exported here so the
handlers find every format in one place.

Every press names the draft it is about; the services check each time that the person may act
on it (a forged or old id reads as "not found"), so nothing here is trusted.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData

from bot.services.broadcasts import AckCb, AudiencePart, ProgressAct, ProgressCb
from handlers.kit import Id, Small

__all__ = [
    "AckCb",
    "AudAct",
    "AudCb",
    "CancelCb",
    "HistAct",
    "HistCb",
    "OptAct",
    "OptCb",
    "PreviewCb",
    "ProgressAct",
    "ProgressCb",
    "SendCb",
]


class AudAct(enum.Enum):
    TOGGLE = "t"  # a part on or off (`part`)
    UNITS = "u"  # the unit list, page `p`
    UNIT = "n"  # a unit on or off (`unit`), the list stays on page `p`
    KINDS = "k"  # the branch kinds
    KIND = "d"  # a kind on or off (`kind`)
    BACK = "b"  # the audience screen
    NEXT = "x"  # on to the options


class AudCb(CallbackData, prefix="bcua"):
    b: Id
    a: AudAct
    part: AudiencePart | None = None
    kind: str = ""
    unit: Id | None = None
    p: Small = 0


class OptAct(enum.Enum):
    ACK = "a"  # acknowledgement asked or not
    DAYS = "d"  # its deadline: `v` days after the sending day
    PIN = "p"
    NOW = "n"  # send at once
    LATER = "l"  # pick a day
    DAY = "y"  # day `v` (days from today) picked: pick the hour
    HOUR = "h"  # day `v`, hour `h`
    SHOW = "s"  # the options screen
    PREVIEW = "v"


class OptCb(CallbackData, prefix="bcuo"):
    b: Id
    a: OptAct
    v: Small = 0
    h: Small = 0


class SendCb(CallbackData, prefix="bcus"):
    """Gửi, under a preview: the version that preview showed."""

    b: Id
    version: Id


class CancelCb(CallbackData, prefix="bcux"):
    b: Id


class PreviewCb(CallbackData, prefix="bcun"):
    """The Đã nhận button as the preview shows it: it only explains itself."""

    b: Id


class HistAct(enum.Enum):
    PAGE = "p"  # the list, page `p`
    OPEN = "o"  # one broadcast's figures
    XLSX = "x"  # its .xlsx


class HistCb(CallbackData, prefix="bcuh"):
    a: HistAct
    b: Id | None = None
    p: Small = 0
