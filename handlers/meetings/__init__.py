"""Meeting handlers, one module per flow; `handlers.get_routers` orders their routers."""

from handlers.meetings.reschedule import router as reschedule_router
from handlers.meetings.rsvp import router as rsvp_router
from handlers.meetings.schedule import router as schedule_router

__all__ = ["reschedule_router", "rsvp_router", "schedule_router"]
