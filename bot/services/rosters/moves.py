"""Asking a branch to move its meeting so the draft roster can cover it.

When the draft leaves a branch out, the solver suggests the fewest meetings to move within
their month's rule window. The leader presses one; the branch's secretary (or deputy) is asked
in private and answers with a button. Agreeing moves the meeting the ordinary way (the
branch's members are told by the meeting use case) and makes the draft again, so the moved
meeting is covered; either way the leader is told. Only drafts: after publication the
roster follows the meetings by itself (`repair`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.rosters import MoveAct, MoveCb
from bot.services import audit
from bot.services.access.policy import LEADER_ROLES, Actor
from bot.services.context import ServiceContext
from bot.services.meetings.plan import new_regular, rule_slot
from bot.services.meetings.schedule import reschedule_meeting
from bot.services.rosters import presentation as p
from bot.services.rosters.common import Quarter, RosterError, require_leader
from bot.services.rosters.handover import Teller
from bot.services.rosters.notices import RosterNotices
from bot.services.rosters.planning import make_draft
from bot.services.rosters.review import group_of, load_view, locked, review_text
from bot.services.vn_calendar import to_local
from storage.models import Branch, MoveRequest, Roster, WorkingGroup
from storage.models.meetings import MeetingOrigin
from storage.models.rosters import MoveStatus, RosterStatus
from storage.repositories.meetings import MeetingRepository
from storage.repositories.rosters import RosterRepository


def _snapshot(req: MoveRequest) -> dict[str, Any]:
    return {
        "roster": req.roster_id,
        "branch": req.branch_id,
        "meeting": req.meeting_id,
        "from": req.from_start,
        "to": req.to_start,
        "status": req.status,
    }


async def request_move(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    roster_id: int,
    version: int,
    index: int,
) -> MoveRequest:
    """The leader asks the branch of suggested move number `index` to move its meeting."""
    roster = await locked(session, roster_id, version)
    group = await group_of(session, roster)
    require_leader(actor, group)
    if roster.status != RosterStatus.DRAFT:
        raise RosterError(
            "roster.already_published",
            quarter=Quarter(roster.year, roster.quarter),
            group=group.name,
        )
    moves = roster.suggestions.get("moves", [])
    if not 0 <= index < len(moves):
        raise RosterError("roster.move_gone")
    move = moves[index]
    from_start = datetime.fromisoformat(move["from"])
    to_start = datetime.fromisoformat(move["to"])
    now = ctx.now()
    if to_start <= now or from_start <= now:
        raise RosterError("roster.move_gone")
    local = to_local(from_start, ctx.tz)
    year, month, branch_id = local.year, local.month, int(move["branch_id"])
    repo = RosterRepository(session)
    for req in await repo.pending_moves(roster.id):
        if (req.branch_id, req.period_year, req.period_month) == (branch_id, year, month):
            raise RosterError("roster.move_pending")
    branch = (await repo.branches([branch_id]))[branch_id]
    notices = RosterNotices(session, ctx)
    secretaries = (await repo.secretaries([branch_id])).get(branch_id, [])
    chats = await notices.reachable(secretaries)
    secretary = next((m for m in secretaries if m.id in chats), None)
    if secretary is None:
        raise RosterError("roster.move_no_secretary", branch=p.escape(branch.name))
    meeting = (await repo.regular_meetings([branch_id], [(year, month)])).get(
        (branch_id, year, month)
    )
    req = MoveRequest(
        roster_id=roster.id,
        branch_id=branch_id,
        meeting_id=meeting.id if meeting is not None else None,
        period_year=year,
        period_month=month,
        from_start=from_start,
        to_start=to_start,
        status=MoveStatus.PENDING,
        asked_by=actor.telegram_id,
        created_at=now,
    )
    session.add(req)
    await session.flush()
    await audit.record(
        session,
        action="roster_move.ask",
        entity_type="roster_move",
        entity_id=req.id,
        before=None,
        after=_snapshot(req),
        actor_id=actor.telegram_id,
        district_id=roster.district_id,
    )
    await _ask(ctx, Teller(session, ctx), req, group, branch, secretary.id)
    return req


async def _ask(
    ctx: ServiceContext,
    tell: Teller,
    req: MoveRequest,
    group: WorkingGroup,
    branch: Branch,
    secretary_id: int,
) -> None:
    i18n, tz = ctx.i18n, ctx.tz

    def buttons(locale: str) -> dict[str, Any]:
        row = [
            {"text": i18n.t(key, locale), "callback_data": MoveCb(request_id=req.id, a=act).pack()}
            for key, act in (
                ("roster.move.button_accept", MoveAct.ACCEPT),
                ("roster.move.button_decline", MoveAct.DECLINE),
            )
        ]
        return {"inline_keyboard": [row]}

    await tell.tell(
        secretary_id,
        "roster.move.ask",
        f"move:{req.id}:ask",
        params_for=lambda locale: {
            "from_when": p.when(req.from_start, locale, tz),
            "to_when": p.when(req.to_start, locale, tz),
        },
        markup_for=buttons,
        origin_id=req.id,
        group=p.escape(group.name),
        branch=p.escape(branch.name),
    )


def _answers_for(actor: Actor, branch: Branch) -> bool:
    return actor.is_admin_of(branch.district_id) or any(
        m.branch_id == branch.id and m.role in LEADER_ROLES for m in actor.memberships
    )


async def answer_move(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, request_id: int, accept: bool
) -> MoveRequest:
    """The branch's secretary agrees (the meeting moves, the draft is made again) or not."""
    repo = RosterRepository(session)
    req = await repo.move_request(request_id, for_update=True)
    if req is None:
        raise RosterError("roster.move_gone")
    branch = (await repo.branches([req.branch_id]))[req.branch_id]
    if not _answers_for(actor, branch):
        raise RosterError("roster.not_your_branch")
    roster = await repo.roster(req.roster_id, for_update=True)
    if req.status != MoveStatus.PENDING or roster is None or roster.status != RosterStatus.DRAFT:
        raise RosterError("roster.move_gone")
    group = await group_of(session, roster)
    before = _snapshot(req)
    if accept:
        await _move_meeting(session, ctx, actor, req, branch)
    now = ctx.now()
    req.status = MoveStatus.ACCEPTED if accept else MoveStatus.DECLINED
    req.decided_by, req.decided_at = actor.telegram_id, now
    await session.flush()
    await audit.record(
        session,
        action="roster_move.accept" if accept else "roster_move.decline",
        entity_type="roster_move",
        entity_id=req.id,
        before=before,
        after=_snapshot(req),
        actor_id=actor.telegram_id,
        district_id=roster.district_id,
    )
    if accept:
        program = await repo.program(roster.program_id)
        assert program is not None
        await make_draft(session, ctx, program, Quarter(roster.year, roster.quarter))
    tell = Teller(session, ctx)
    await tell.tell(
        group.leader_member_id,
        "roster.move.agreed" if accept else "roster.move.kept",
        f"move:{req.id}:answer",
        params_for=lambda locale: {"when": p.when(req.to_start, locale, ctx.tz)},
        origin_id=req.id,
        branch=p.escape(branch.name),
    )
    if accept:
        await _redraft_to_leader(session, ctx, roster, group)
    return req


async def _move_meeting(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, req: MoveRequest, branch: Branch
) -> None:
    """Move the month's meeting the ordinary way, or plan it at the new time if the plan job
    has not reached that month (the secretary keeps it: not the rule's, so a rule change
    does not move it back)."""
    meeting = None
    if req.meeting_id is not None:
        meeting = await MeetingRepository(session).get(req.meeting_id)
    if meeting is None:  # perhaps planned since the request was made
        existing = await RosterRepository(session).regular_meetings(
            [branch.id], [(req.period_year, req.period_month)]
        )
        meeting = existing.get((branch.id, req.period_year, req.period_month))
    if meeting is not None:
        req.meeting_id = meeting.id
        if meeting.starts_at != req.to_start:
            await reschedule_meeting(session, actor, ctx, meeting.id, starts_at=req.to_start)
        return
    meeting = new_regular(
        branch, rule_slot(branch.meeting_day, req.period_year, req.period_month), ctx.tz
    )
    meeting.starts_at = req.to_start
    meeting.origin = MeetingOrigin.SECRETARY
    meeting.created_by = actor.telegram_id
    session.add(meeting)
    await session.flush()
    req.meeting_id = meeting.id
    await audit.record(
        session,
        action="meeting.plan_for_roster",
        entity_type="meeting",
        entity_id=meeting.id,
        before=None,
        after={"starts_at": meeting.starts_at, "move_request": req.id},
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )


async def _redraft_to_leader(
    session: AsyncSession, ctx: ServiceContext, roster: Roster, group: WorkingGroup
) -> None:
    view = await load_view(session, roster)
    await RosterNotices(session, ctx).draft_to_leader(
        roster, group, lambda locale: review_text(ctx, locale, view)
    )
