"""What every nudge service shares: the typed refusal and the rules an operator may tune."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from bot.services.access.policy import Refused


class NudgeError(Refused):
    """A nudge request refused for a reason the person can read (catalog key + fields)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key, **params)


@dataclass(frozen=True)
class NudgeConfig:
    """Manners and limits; each district may change the waking hours (`nudge_settings`)."""

    wake_from: time = time(7, 0)  # local time: nothing goes out before...
    wake_until: time = time(21, 0)  # ...or from this time on
    # A second nudge at least this long after the first (so never twice a day), and a
    # snooze puts the next one (and the escalation) off by as much.
    repeat_after: timedelta = timedelta(days=1)
    snooze_for: timedelta = timedelta(days=1)
    max_snoozes: int = 2  # per person and obligation; then the escalation proceeds anyway
    # An obligation still owed this long after its moment is given up as lapsed.
    give_up_after: timedelta = timedelta(days=30)
    # Candidates are read up to this long past the latest nudge or escalation time.
    lookback_slack: timedelta = timedelta(days=2)


DEFAULT_CONFIG = NudgeConfig()
