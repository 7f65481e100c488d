"""Feature jobs for the scheduler registry (`bot.scheduler`): each module has `register`."""

from __future__ import annotations

from bot.app.jobs import broadcasts, feedback, meetings, nudges, rosters
from bot.scheduler import JobRegistry


def register_all(registry: JobRegistry) -> None:
    feedback.register(registry)
    meetings.register(registry)
    nudges.register(registry)
    rosters.register(registry)
    broadcasts.register(registry)
