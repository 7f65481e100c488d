"""Meeting handlers, one module per flow; `handlers.get_routers` orders their routers."""

from handlers.meetings.report import router as report_router
from handlers.meetings.reschedule import router as reschedule_router
from handlers.meetings.rsvp import router as rsvp_router
from handlers.meetings.schedule import router as schedule_router
from handlers.meetings.views import router as views_router

__all__ = [
    "report_router",
    "reschedule_router",
    "rsvp_router",
    "schedule_router",
    "views_router",
]
