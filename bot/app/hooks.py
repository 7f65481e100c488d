"""The features' reactions to each other's domain events, wired once at start-up.

Part of the composition root: it imports the features so that they need not import each
other. `create_app` and the command line call `subscribe_features`; the tests call it too, so
a use case run alone has every consequence it has in production.
"""

from __future__ import annotations

from bot.services.meetings import notices as meeting_notices
from bot.services.nudges import follow as nudges_follow
from bot.services.rosters import repair as roster_repair


def subscribe_features() -> None:
    """The meeting-changed hook, in its order: stale reminders withdrawn, the announcement and
    corrections queued, the rosters repaired (their notices after the meeting's), the nudge
    tracks closed last (they read the repaired visits)."""
    meeting_notices.subscribe_meeting_changes()
    roster_repair.subscribe_meeting_changes()
    nudges_follow.subscribe_meeting_changes()
