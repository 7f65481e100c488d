"""Nudges (issue 15): remind people of what they owe, at a decent hour, with the one-tap way
to do it, and tell the level above when reminders are ignored.

- `obligations` (+ `providers`, `providers_fb`, listed in `registry`): what is owed,
  derived from the features' tables each time, never stored twice;
- `policies`: each policy's timing per district, the waking hours, holidays;
- `engine.sweep`: one pass of the scheduler job (`bot/app/jobs/nudges.py`);
- `sendcheck`: the outbox's last-moment check (a thing done meanwhile withdraws its nudge);
- `actions`: snooze, action presses, people switched off; `figures`: `/nudges`.
"""

from bot.buttons.nudges import NudgeAct, NudgeCb, SnoozeCb
from bot.services.nudges import sendcheck as _sendcheck  # noqa: F401  (registers the check)
from bot.services.nudges.actions import SnoozeResult, check_press, snooze, switch_person
from bot.services.nudges.common import DEFAULT_CONFIG, NudgeConfig, NudgeError
from bot.services.nudges.engine import SweepResult, open_obligations, sweep
from bot.services.nudges.figures import NudgeFigures, figures_for, nudge_figures
from bot.services.nudges.obligations import Obligation, Status
from bot.services.nudges.policies import (
    DEFAULTS,
    Change,
    DistrictSettings,
    change_setting,
    district_settings,
    load_policies,
    parse_policy,
    set_policy,
    set_waking,
    settings_of,
    tune,
    tune_waking,
)
from bot.services.nudges.registry import statuses
from storage.models.nudges import NudgePolicy

__all__ = [
    "DEFAULTS",
    "DEFAULT_CONFIG",
    "Change",
    "DistrictSettings",
    "NudgeAct",
    "NudgeCb",
    "NudgeConfig",
    "NudgeError",
    "NudgeFigures",
    "NudgePolicy",
    "Obligation",
    "SnoozeCb",
    "SnoozeResult",
    "Status",
    "SweepResult",
    "change_setting",
    "check_press",
    "district_settings",
    "figures_for",
    "load_policies",
    "nudge_figures",
    "open_obligations",
    "parse_policy",
    "set_policy",
    "set_waking",
    "settings_of",
    "snooze",
    "statuses",
    "switch_person",
    "sweep",
    "tune",
    "tune_waking",
]
