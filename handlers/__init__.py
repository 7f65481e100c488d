"""Routers in priority order: specific features first, the error handler on the dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    admins,
    broadcasts,
    common,
    feedback,
    language,
    link_codes,
    linking,
    meetings,
    nudges,
    org,
    people,
    rosters,
)


def detached(router: Router) -> Router:
    """Module-level routers can belong to one dispatcher at a time; the factory builds a new
    dispatcher per app (tests build many), so the router leaves the previous, stopped one."""
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
    return router


def get_routers() -> list[Router]:
    return [
        language.router,
        # `people` answers invite /start links and unknown people's /start, so it comes before
        # `common` (/start, /help). Both go first: they are the commands people send most, and
        # every router an update passes costs its filters' checks. No later router handles
        # /start or /help (tests/test_routing.py checks that).
        detached(people.router),
        common.router,
        # Access features (issue 3).
        detached(org.router),
        detached(linking.router),
        detached(link_codes.router),
        detached(admins.router),
        # Meeting reports and views (issue 5, part B): /report, /meetings, /meeting, /ics.
        detached(meetings.report_router),
        detached(meetings.views_router),
        # Meetings (issue 5): scheduling, then /reschedule and /cancel (the wizard's abort button
        # is the schedule router's), then the RSVP buttons and absence reasons.
        detached(meetings.schedule_router),
        detached(meetings.reschedule_router),
        detached(meetings.rsvp_router),
        # Visiting rosters (issue 12): /roster, /busy, /visit, /coverage and their buttons.
        *(detached(r) for r in rosters.routers()),
        # Branch feedback (issue 13): /feedback, the cards' buttons, /inbox, /feedback_stats.
        *(detached(r) for r in feedback.routers()),
        # Nudges (issue 15): /nudges, "Nhắc lại sau" and the nudges' action buttons.
        *(detached(r) for r in nudges.routers()),
        # Guidance broadcasts (issue 14): /broadcast, /broadcasts, Đã nhận, the progress buttons.
        *(detached(r) for r in broadcasts.routers()),
    ]
