"""Meetings' handlers: the /report wizard and the views (/meetings, /meeting ID, /ics).

Scheduling and RSVP live beside them in this package (another branch); `handlers.get_routers`
orders all of them.
"""

from handlers.meetings import _legacy
from handlers.meetings.report import router as report_router
from handlers.meetings.views import router as views_router

__all__ = ["report_router", "views_router"]

# TRANSITIONAL (branch helper-m2 only; drop at merge): until the scheduling handlers move into
# this package, the old `handlers/meetings.py` module is shadowed by it; re-export its names.
globals().update(_legacy.names())
