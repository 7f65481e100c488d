"""The /report wizard's use cases: open a draft, apply a person's move, with what to show.

The draft itself and its rules are pure (`report_steps`); these functions add what needs the
database: the permission and timing checks when a draft is opened, the branch's members a
toggle is checked against, and the meeting and names every screen shows. Nothing is written
here; `reports.submit_report` / `correct_report` write (and check everything again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.access.policy import Actor, Refused
from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig, load_meeting
from bot.services.meetings.report_steps import Draft, Move, apply, new_draft
from bot.services.meetings.report_text import ReportView
from bot.services.meetings.reports import check_correctable, report_draft, report_versions
from bot.services.vn_sort import vn_sorted
from storage.models import Meeting
from storage.repositories.meetings import OPEN_STATUSES, MeetingRepository

# How far back /report looks for meetings still waiting for their report.
REPORT_LOOKBACK = timedelta(days=92)
REPORTABLE_MAX = 8


@dataclass(frozen=True)
class Reportable:
    meeting: Meeting
    branch_name: str
    reported: bool


@dataclass(frozen=True)
class WizardScreen:
    """A draft and what its screen shows besides it."""

    draft: Draft
    meeting: Meeting
    branch_name: str
    names: dict[int, str]  # the branch's active members by id, ordered by name
    correction_days: int = DEFAULT_CONFIG.correction_window.days

    def summary_view(self) -> ReportView:
        """The draft as the report will read (the first version's header)."""
        d = self.draft
        return ReportView(
            branch_name=self.branch_name,
            meeting=self.meeting,
            version=1,
            held=d.held,
            present=d.present if d.held else 0,
            members=d.members,
            absent=[(self.names.get(k, "?"), a.excused) for k, a in d.absent.items()]
            if d.held
            else [],
            minutes_kept=d.minutes,
            has_file=d.file_id is not None,
            resolution=d.resolution,
            topics=d.topics,
            proposals=d.proposals,
        )


async def start_report(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    meeting_id: int,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> WizardScreen:
    """A prefilled draft of the meeting's report (the latest version when correcting), after
    the permission and timing checks; a closed correction window is refused now, not after
    the whole walk."""
    prefill = await report_draft(session, actor, clock, meeting_id)
    versions = await report_versions(session, meeting_id)
    if versions:
        check_correctable(versions[0], clock, config)
    draft = new_draft(
        prefill.meeting.id,
        prefill.input,
        len(prefill.member_names),
        last_version=versions[-1].version if versions else 0,
    )
    return await _screen(session, draft, config)


async def report_move(session: AsyncSession, draft: Draft, move: Move) -> WizardScreen:
    """The draft after the person's move (a `Refused` when the move does not fit the step)."""
    meeting, branch = await load_meeting(session, draft.meeting_id)
    names = await _names(session, meeting.branch_id)
    return WizardScreen(apply(draft, move, names.keys()), meeting, branch.name, names)


async def _screen(session: AsyncSession, draft: Draft, config: MeetingConfig) -> WizardScreen:
    meeting, branch = await load_meeting(session, draft.meeting_id)
    names = await _names(session, meeting.branch_id)
    return WizardScreen(draft, meeting, branch.name, names, config.correction_window.days)


async def _names(session: AsyncSession, branch_id: int) -> dict[int, str]:
    """Member names in Vietnamese alphabetical order: the absent picker lists them so."""
    members = await MeetingRepository(session).active_members(branch_id)
    return {m.id: m.full_name for m in vn_sorted(members, key=lambda m: m.full_name)}


async def reportable(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> tuple[list[Reportable], Meeting | None]:
    """Meetings of the branches the person leads that have started and await a report or may
    still be corrected, newest first; and the next meeting not started yet (for "too early").
    Someone who leads no branch is refused."""
    if not actor.leads_a_branch:
        raise Refused("policy.needs_secretary")
    repo = MeetingRepository(session)
    now = clock.now()
    out: list[Reportable] = []
    upcoming: Meeting | None = None
    for branch_id in actor.led_branch_ids():
        branch = await repo.branch(branch_id)
        if branch is None or not branch.active:
            continue
        started = await repo.of_branch(
            branch.id,
            since=now - REPORT_LOOKBACK,
            until=now,
            statuses=OPEN_STATUSES,
            newest_first=True,
        )
        firsts = {m.id: await repo.report_versions(m.id) for m in started}
        for m in started:
            versions = firsts[m.id]
            if versions and now > versions[0].submitted_at + config.correction_window:
                continue
            out.append(Reportable(m, branch.name, bool(versions)))
        nxt = await repo.of_branch(branch.id, since=now, statuses=OPEN_STATUSES, limit=1)
        if nxt and (upcoming is None or nxt[0].starts_at < upcoming.starts_at):
            upcoming = nxt[0]
    out.sort(key=lambda r: r.meeting.starts_at, reverse=True)
    return out[:REPORTABLE_MAX], upcoming


@dataclass(frozen=True)
class Choices:
    """What /report offers: the one meeting's draft, or a choice, or when to come back."""

    items: list[Reportable]
    upcoming: Meeting | None  # the next meeting, when none awaits a report
    only: WizardScreen | None = None  # exactly one meeting awaits: its draft, opened


async def report_choices(
    session: AsyncSession,
    actor: Actor,
    clock: Clock,
    *,
    config: MeetingConfig = DEFAULT_CONFIG,
) -> Choices:
    """/report without a number: a secretary's meetings awaiting a report (or a correction)."""
    items, upcoming = await reportable(session, actor, clock, config=config)
    if len(items) == 1:
        only = await start_report(session, actor, clock, items[0].meeting.id, config=config)
        return Choices(items, upcoming, only)
    return Choices(items, upcoming)
