"""An .ics calendar of a branch's meetings that phones import.

Times carry TZID=Asia/Ho_Chi_Minh with its VTIMEZONE, so every phone shows the local hour
whatever its own zone. Cancelled meetings stay in with STATUS:CANCELLED and a higher SEQUENCE,
so a phone that imported the file before removes them on re-import instead of keeping a ghost.
A row whose time cannot be written (stored before dates were bounded) is left out, never an
error: one bad row must not cost every member their calendar.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig, MeetingError
from bot.services.vn_calendar import VN_TZ
from storage.models.meetings import MeetingStatus
from storage.repositories.meetings import MeetingRepository

log = logging.getLogger("bot.meetings.ics")
PRODID = "-//chibo-bot//meetings//VI"
# Years a calendar entry may carry; far beyond anything `bot.inputs.date_in_window` lets in.
MIN_YEAR, MAX_YEAR = 1900, 9000
_STATUS = {
    MeetingStatus.PLANNED: "TENTATIVE",
    MeetingStatus.SCHEDULED: "CONFIRMED",
    MeetingStatus.CANCELLED: "CANCELLED",
}


async def branch_ics(
    session: AsyncSession,
    branch_id: int,
    i18n: CatalogI18n,
    locale: str,
    now: datetime,
    *,
    since: datetime | None = None,
    config: MeetingConfig = DEFAULT_CONFIG,
    tz: ZoneInfo = VN_TZ,
) -> bytes:
    """The branch's meetings (from `since`, default all) as an iCalendar file."""
    repo = MeetingRepository(session)
    branch = await repo.branch(branch_id)
    if branch is None:
        raise MeetingError("meetings.error.not_found")
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", branch.name)
    cal.add("x-wr-timezone", str(tz))
    for meeting in await repo.of_branch(branch.id, since=since):
        try:
            start = meeting.starts_at.astimezone(tz)
            end = start + config.duration
        except (OverflowError, ValueError):
            log.warning(
                "meeting %s: start %r out of range, left out", meeting.id, meeting.starts_at
            )
            continue
        if not MIN_YEAR <= start.year <= MAX_YEAR or end.year > MAX_YEAR:
            log.warning("meeting %s: start %s out of range, left out", meeting.id, start)
            continue
        event = icalendar.Event()
        event.add("uid", f"meeting-{meeting.id}@chibo-bot")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", end)
        kind = i18n.t(f"meetings.kind.{meeting.kind}", locale)
        summary = f"{kind}: {meeting.title}" if meeting.title else kind
        event.add("summary", f"{summary} — {branch.name}")
        if meeting.place:
            event.add("location", meeting.place)
        if meeting.agenda:
            event.add("description", meeting.agenda)
        event.add("status", _STATUS.get(meeting.status, "CONFIRMED"))
        event.add("sequence", meeting.version - 1)
        event.add("last-modified", meeting.updated_at)
        cal.add_component(event)
    first = date(now.year - 5, 1, 1)
    cal.add_missing_timezones(first_date=first, last_date=date(now.year + 5, 12, 31))
    ical: bytes = cal.to_ical()
    return ical
