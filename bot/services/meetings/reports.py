"""The secretary's meeting report: prefilled from RSVPs, corrected within 7 days, versioned.

Every submission is a new `meeting_reports` row; the highest version is the current one and
the older ones stay for the record. The first version is refused before the meeting starts or
when one exists already; a correction is refused once the window since the first version closed.
A submission and a correction are one call each: policy, write, and the post to the unit's
group (the report, then its minutes file) queued through the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.i18n import CatalogI18n
from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.meetings.common import (
    DEFAULT_CONFIG,
    FILE_ID_MAX,
    LIST_ITEMS_MAX,
    PROPOSAL_MAX,
    RESOLUTION_MAX,
    TOPIC_MAX,
    MeetingConfig,
    MeetingError,
    check_length,
    managed_meeting,
)
from bot.services.meetings.report_text import minutes_caption, report_text, stored_view
from bot.services.meetings.rsvp import ABSENCE_CODES
from bot.services.vn_sort import vn_key
from storage.models import Branch, Meeting, MeetingReport
from storage.models.meetings import MeetingStatus, MinutesKind, RsvpAnswer
from storage.models.org import TargetType
from storage.repositories.access import AccessRepository
from storage.repositories.meetings import MeetingRepository

ORIGIN = "meeting_report"
# Meetings, branches and units have INTEGER keys: a larger id (a forged button, a typed number)
# is "not found" here, never a query the database driver rejects.
ROW_ID_MAX = 2**31 - 1


def row_id(value: int) -> int:
    """`value` if it can be a meeting's, branch's or unit's id, else not found."""
    if not 0 < value <= ROW_ID_MAX:
        raise MeetingError("meetings.error.not_found")
    return value


@dataclass(frozen=True)
class AbsentEntry:
    member_id: int
    reason_code: str | None = None
    reason_text: str = ""
    excused: bool = False


@dataclass(frozen=True)
class ReportInput:
    held: bool = True
    present_count: int = 0
    absent: tuple[AbsentEntry, ...] = ()
    minutes_kept: bool = False
    minutes_file_id: str | None = None
    minutes_file_kind: str | None = None
    resolution: str = ""
    topics: tuple[str, ...] = ()
    proposals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportDraft:
    meeting: Meeting
    input: ReportInput
    member_names: dict[int, str] = field(default_factory=dict)  # active members, by id


async def report_draft(
    session: AsyncSession, actor: Actor, clock: Clock, meeting_id: int
) -> ReportDraft:
    """The common case in a few taps: the latest report if any, else present = the "Có mặt"
    answers and absent = the "Vắng mặt" answers (excused when they gave a reason)."""
    meeting, _branch = await managed_meeting(session, actor, row_id(meeting_id), for_update=False)
    _check_reportable(meeting, clock)
    repo = MeetingRepository(session)
    members = await repo.active_members(meeting.branch_id)
    names = {m.id: m.full_name for m in members}
    versions = await repo.report_versions(meeting.id)
    if versions:
        return ReportDraft(meeting, _as_input(versions[-1]), names)
    rsvps = [r for r in await repo.rsvps(meeting.id) if r.member_id in names]
    present = sum(1 for r in rsvps if r.answer == RsvpAnswer.YES)
    absent = tuple(
        AbsentEntry(
            member_id=r.member_id,
            reason_code=r.reason_code,
            reason_text=r.reason_text or "",
            excused=r.reason_code is not None,
        )
        for r in sorted(rsvps, key=lambda r: vn_key(names[r.member_id]))
        if r.answer == RsvpAnswer.NO
    )
    return ReportDraft(meeting, ReportInput(present_count=present, absent=absent), names)


def _as_input(report: MeetingReport) -> ReportInput:
    return ReportInput(
        held=report.held,
        present_count=report.present_count,
        absent=tuple(AbsentEntry(**a) for a in report.absent),
        minutes_kept=report.minutes_kept,
        minutes_file_id=report.minutes_file_id,
        minutes_file_kind=report.minutes_file_kind,
        resolution=report.resolution,
        topics=tuple(report.topics),
        proposals=tuple(report.proposals),
    )


def _check_reportable(meeting: Meeting, clock: Clock) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise MeetingError("meetings.error.cancelled")
    if clock.now() < meeting.starts_at:
        raise MeetingError("meetings.error.report_too_early")


def _clean_list(items: tuple[str, ...], limit: int) -> list[str]:
    cleaned = [i.strip() for i in items if i.strip()]
    if len(cleaned) > LIST_ITEMS_MAX:
        raise MeetingError("meetings.error.too_many_items", max=LIST_ITEMS_MAX)
    for item in cleaned:
        check_length(item, limit, "meetings.error.item_too_long")
    return cleaned


async def _validated(session: AsyncSession, branch: Branch, data: ReportInput) -> dict[str, object]:
    repo = MeetingRepository(session)
    members = {m.id for m in await repo.active_members(branch.id)}
    absent_ids = [a.member_id for a in data.absent]
    if len(set(absent_ids)) != len(absent_ids) or not set(absent_ids) <= members:
        raise MeetingError("meetings.error.absent_not_member")
    for entry in data.absent:
        if entry.reason_code is not None and entry.reason_code not in ABSENCE_CODES:
            raise MeetingError("meetings.error.bad_reason")
        check_length(entry.reason_text, 256, "meetings.error.reason_too_long")
    present = data.present_count if data.held else 0
    if present < 0 or present + len(absent_ids) > len(members):
        raise MeetingError("meetings.error.bad_present_count", members=len(members))
    file_id, file_kind = data.minutes_file_id, data.minutes_file_kind
    if (file_id is None) != (file_kind is None) or (
        file_kind is not None and file_kind not in MinutesKind.__members__.values()
    ):
        raise MeetingError("meetings.error.bad_minutes_file")
    if file_id is not None and not (0 < len(file_id) <= FILE_ID_MAX):
        raise MeetingError("meetings.error.bad_minutes_file")
    return {
        "held": data.held,
        "present_count": present,
        "absent": [
            {
                "member_id": a.member_id,
                "reason_code": a.reason_code,
                "reason_text": a.reason_text.strip(),
                "excused": a.excused,
            }
            for a in data.absent
        ],
        # A file of the minutes means minutes were kept.
        "minutes_kept": data.minutes_kept or file_id is not None,
        "minutes_file_id": file_id,
        "minutes_file_kind": file_kind,
        "resolution": check_length(
            data.resolution, RESOLUTION_MAX, "meetings.error.resolution_too_long"
        ),
        "topics": _clean_list(data.topics, TOPIC_MAX),
        "proposals": _clean_list(data.proposals, PROPOSAL_MAX),
    }


async def _add_version(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    meeting: Meeting,
    branch: Branch,
    version: int,
    values: dict[str, object],
) -> MeetingReport:
    report = MeetingReport(
        meeting_id=meeting.id,
        version=version,
        submitted_by=actor.telegram_id,
        submitted_at=clock.now(),
        **values,
    )
    try:
        async with session.begin_nested():
            session.add(report)
            await session.flush()
    except IntegrityError:
        # Two submissions raced for the same version: the other one won.
        raise MeetingError("meetings.error.report_exists") from None
    await audit.record(
        session,
        action="meeting.report" if version == 1 else "meeting.report_correct",
        entity_type="meeting",
        entity_id=meeting.id,
        before=None,
        after={"version": version, **values},
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    return report


@dataclass(frozen=True)
class ReportSent:
    """A stored version, and the group its post was queued for (None: the unit has none)."""

    report: MeetingReport
    group_chat_id: int | None
    starts_at: datetime  # the meeting's: people name a meeting by its date, never its id


async def submit_report(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    meeting_id: int,
    data: ReportInput,
    *,
    i18n: CatalogI18n,
) -> ReportSent:
    """The first report of a meeting that has started, posted to the unit's group; a second
    "new" report is refused."""
    meeting, branch = await managed_meeting(session, actor, meeting_id)
    _check_reportable(meeting, clock)
    if await MeetingRepository(session).report_versions(meeting.id):
        raise MeetingError("meetings.error.report_exists")
    values = await _validated(session, branch, data)
    report = await _add_version(session, actor, clock, meeting, branch, 1, values)
    posted = await _post(session, clock, i18n, meeting, branch, report)
    return ReportSent(report, posted, meeting.starts_at)


async def correct_report(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    meeting_id: int,
    data: ReportInput,
    *,
    i18n: CatalogI18n,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> ReportSent:
    """A corrected version, within the window after the first submission, posted to the unit's
    group like the first; all versions kept."""
    meeting, branch = await managed_meeting(session, actor, meeting_id)
    versions = await MeetingRepository(session).report_versions(meeting.id)
    if not versions:
        raise MeetingError("meetings.error.no_report")
    check_correctable(versions[0], clock, config)
    values = await _validated(session, branch, data)
    report = await _add_version(
        session, actor, clock, meeting, branch, versions[-1].version + 1, values
    )
    posted = await _post(session, clock, i18n, meeting, branch, report)
    return ReportSent(report, posted, meeting.starts_at)


def check_correctable(
    first: MeetingReport, clock: Clock, config: MeetingConfig = DEFAULT_CONFIG
) -> None:
    """Refused once the correction window since the first version has closed."""
    if clock.now() > first.submitted_at + config.correction_window:
        raise MeetingError("meetings.error.correction_closed", days=config.correction_window.days)


async def report_versions(session: AsyncSession, meeting_id: int) -> list[MeetingReport]:
    return await MeetingRepository(session).report_versions(meeting_id)


async def report_target(session: AsyncSession, branch: Branch) -> int | None:
    """The chat a branch's reports go to: its unit's linked group (or the committee's, for a
    branch directly under the district committee)."""
    repo = AccessRepository(session)
    unit = await repo.unit(branch.unit_id)
    if unit is None:
        return None
    kind = TargetType.COMMITTEE if unit.id == unit.district_id else TargetType.UNIT
    binding = await repo.binding_for_target(kind, unit.id)
    return binding.chat_id if binding is not None else None


async def _post(
    session: AsyncSession,
    clock: Clock,
    i18n: CatalogI18n,
    meeting: Meeting,
    branch: Branch,
    report: MeetingReport,
) -> int | None:
    """The report (and its minutes file) to the unit's group, in the bot's default language."""
    chat_id = await report_target(session, branch)
    if chat_id is None:
        return None
    locale = i18n.default_locale
    members = await MeetingRepository(session).active_members(branch.id)
    view = stored_view(
        i18n,
        locale,
        report,
        branch_name=branch.name,
        meeting=meeting,
        members=len(members),
        names={m.id: m.full_name for m in members},
    )
    await post_report(
        session,
        clock,
        chat_id,
        report,
        report_text(i18n, locale, view),
        minutes_caption(i18n, locale, branch.name),
    )
    return chat_id


async def post_report(
    session: AsyncSession,
    clock: Clock,
    chat_id: int,
    report: MeetingReport,
    text: str,
    caption: str,
) -> None:
    """Queue a report version (and its minutes file) for a group, once per version."""
    key = f"meeting:{report.meeting_id}:report:{report.version}:{chat_id}"
    await enqueue(
        session,
        OutboxMessage(
            chat_id=chat_id,
            kind=OutboxKind.ANSWER,
            text=text,
            dedupe_key=key,
            origin_type=ORIGIN,
            origin_id=report.id,
        ),
        clock=clock,
    )
    if report.minutes_file_id is None:
        return
    photo = report.minutes_file_kind == MinutesKind.PHOTO
    file_msg = OutboxMessage(
        chat_id=chat_id,
        kind=OutboxKind.ANSWER,
        caption=caption,
        dedupe_key=f"{key}:minutes",
        document=None if photo else report.minutes_file_id,
        photo=report.minutes_file_id if photo else None,
        origin_type=ORIGIN,
        origin_id=report.id,
    )
    await enqueue(session, file_msg, clock=clock)
