"""What every change to a published visit shares: whose visit and roster it is, whether a
member can take it, the visit that replaces it, and the private message about it.

After publication a visit changes hands one at a time (an offer, a hand-back, a repair), so
instead of re-solving the whole roster each change checks the rules the solver enforces
against the rows as they are now: never at one's own branch, never on a day one said one is
busy, never two visits closer than the program's gap, never more visits than the quarter's
cap. The rows are the truth here (another group's roster or a busy day added since the
roster was solved count too), so a change can never make a roster the solver would refuse.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.rosters import presentation as p
from bot.services.rosters.common import RosterError
from bot.services.rosters.notices import RosterNotices
from bot.services.vn_calendar import to_local
from storage.models import Branch, Member, Roster, RosterVisit, VisitProgram, WorkingGroup
from storage.models.rosters import LIVE_VISIT_STATUSES, RosterStatus, VisitStatus
from storage.repositories.meetings import MeetingRepository
from storage.repositories.rosters import RosterRepository

# A visit its visitor may still give away: not already waiting on someone's answer.
HANDED = (VisitStatus.ASSIGNED, VisitStatus.CONFIRMED)


class Why(enum.StrEnum):
    """Why a member cannot take a visit (the solver's hard rules)."""

    OWN_BRANCH = "own_branch"
    BUSY_DAY = "busy_day"
    TOO_CLOSE = "too_close"
    TOO_MANY = "too_many"


@dataclass(frozen=True)
class Scope:
    """A visit with the roster, program and group it belongs to."""

    visit: RosterVisit
    roster: Roster
    program: VisitProgram
    group: WorkingGroup


async def scope_of(session: AsyncSession, visit: RosterVisit) -> Scope:
    repo = RosterRepository(session)
    roster = await repo.roster(visit.roster_id)
    program = await repo.program(roster.program_id) if roster else None
    group = await repo.group(program.working_group_id) if program else None
    if roster is None or program is None or group is None:
        raise RosterError("roster.not_found")
    return Scope(visit, roster, program, group)


def member_ids(actor: Actor) -> set[int]:
    return {m.member_id for m in actor.memberships}


async def own_live_visit(
    session: AsyncSession,
    actor: Actor,
    visit_id: int,
    *,
    now: datetime | None,
    statuses: Collection[VisitStatus] = LIVE_VISIT_STATUSES,
    lock: bool = False,
    unpublished: str = "roster.not_your_visit",
) -> tuple[RosterVisit, Roster]:
    """The visit behind a button, if it is the presser's own, still standing and of a
    published roster, and (given `now`) not yet started: an id from a button is never trusted.

    Every press on a visit (confirm, pass on, hand back, report, back to its roster) asks the
    same question, so it is answered here once. A visit not theirs, forged, or in another
    state than `statuses` (dropped: no longer anyone's) reads as "not yours"; the caller
    narrows `statuses` to what its act needs, and locks (`lock`) the visit it will change. A
    draft's visit is refused with `unpublished` (the pass-on says so plainly, the other acts
    treat it as not theirs)."""
    repo = RosterRepository(session)
    visit = await repo.visit(visit_id, for_update=lock)
    if visit is None or visit.visitor_member_id not in member_ids(actor):
        raise RosterError("roster.not_your_visit")
    if visit.status not in statuses:
        raise RosterError("roster.not_your_visit")
    roster = await repo.roster(visit.roster_id)
    if roster is None or roster.status != RosterStatus.PUBLISHED:
        raise RosterError(unpublished)
    if now is not None and visit.starts_at <= now:
        raise RosterError("roster.visit_started")
    return visit, roster


async def own_visit(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int
) -> Scope:
    """The actor's own live, published, not yet started visit they may give away (locked).

    One already on offer or handed back is theirs but busy: said so, not "not yours"."""
    visit, _ = await own_live_visit(
        session, actor, visit_id, now=ctx.now(), lock=True, unpublished="roster.not_published"
    )
    if visit.status not in HANDED:
        raise RosterError("roster.visit_in_change")
    return await scope_of(session, visit)


async def cannot_go(
    session: AsyncSession,
    ctx: ServiceContext,
    scope: Scope,
    member: Member,
    *,
    start: datetime | None = None,
    ignore: Iterable[int] = (),
) -> Why | None:
    """Why `member` cannot take the scope's visit (at `start`, default its own), or None.

    `ignore` names visits that do not count against them (the one being replaced)."""
    visit, program = scope.visit, scope.program
    start = start or visit.starts_at
    if member.branch_id == visit.branch_id:
        return Why.OWN_BRANCH
    repo = RosterRepository(session)
    day = to_local(start, ctx.tz).date()
    if await repo.busy_days([member.id], day, day):
        return Why.BUSY_DAY
    skip = {visit.id, *ignore}
    gap = timedelta(minutes=program.min_gap_minutes)
    near = await repo.published_visits(visitor_id=member.id, since=start - gap, before=start + gap)
    if any(abs(v.starts_at - start) < gap for v in near if v.id not in skip):
        return Why.TOO_CLOSE
    cap = program.max_visits_per_quarter
    if cap is not None:
        mine = [
            v
            for v in await repo.visits(scope.roster.id)
            if v.visitor_member_id == member.id and v.id not in skip
        ]
        if len(mine) >= cap:
            return Why.TOO_MANY
    return None


def successor(old: RosterVisit, member_id: int, status: VisitStatus, now: datetime) -> RosterVisit:
    """The visit that takes `old`'s place for another member: same meeting, a link back."""
    return RosterVisit(
        roster_id=old.roster_id,
        district_id=old.district_id,
        branch_id=old.branch_id,
        meeting_id=old.meeting_id,
        period_year=old.period_year,
        period_month=old.period_month,
        starts_at=old.starts_at,
        visitor_member_id=member_id,
        status=status,
        confirmed_at=now if status == VisitStatus.CONFIRMED else None,
        replaces_visit_id=old.id,
        created_at=now,
    )


def snapshot(visit: RosterVisit) -> dict[str, Any]:
    return {
        "visit": visit.id,
        "visitor": visit.visitor_member_id,
        "status": visit.status,
        "starts_at": visit.starts_at,
        "offer_to": visit.offer_to_member_id,
        "dropped_reason": visit.dropped_reason,
    }


def drop(visit: RosterVisit, reason: str) -> None:
    visit.status = VisitStatus.DROPPED
    visit.dropped_reason = reason


class Teller:
    """Private messages about visits, worded in each reader's language (the date's weekday
    too, so the parameters are built per locale, unlike `RosterNotices.tell`)."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session, self.ctx = session, ctx
        self.notices = RosterNotices(session, ctx)
        self.repo = RosterRepository(session)
        self._branches: dict[int, Branch] = {}
        self._members: dict[int, Member] = {}

    async def member(self, member_id: int | None) -> Member | None:
        if member_id is None:
            return None
        if member_id not in self._members:
            self._members.update(await self.repo.members([member_id]))
        return self._members.get(member_id)

    async def branch(self, branch_id: int) -> Branch:
        if branch_id not in self._branches:
            self._branches.update(await self.repo.branches([branch_id]))
        return self._branches[branch_id]

    async def name(self, member_id: int | None) -> str:
        member = await self.member(member_id)
        return escape(member.full_name) if member else "?"

    async def reachable(self, member: Member) -> bool:
        return member.id in await self.notices.reachable([member])

    async def about(self, visit: RosterVisit) -> Callable[[str], dict[str, str]]:
        """The visit's branch, time and place, rendered for a locale."""
        branch = await self.branch(visit.branch_id)
        place = branch.location or ""
        if visit.meeting_id is not None:
            meeting = await MeetingRepository(self.session).get(visit.meeting_id)
            place = (meeting.place if meeting else "") or place
        start, tz = visit.starts_at, self.ctx.tz
        return lambda locale: {
            "branch": escape(branch.name),
            "when": p.when(start, locale, tz),
            "place": escape(place or "—"),
        }

    async def tell(
        self,
        member_id: int | None,
        key: str,
        dedupe: str,
        *,
        params_for: Callable[[str], dict[str, Any]] = lambda _locale: {},
        markup_for: Callable[[str], dict[str, Any]] | None = None,
        origin_id: int | None = None,
        **params: Any,
    ) -> bool:
        """Queue `key` to the member in private; False when the bot cannot reach them."""
        member = await self.member(member_id)
        if member is None:
            return False
        chat_id = (await self.notices.reachable([member])).get(member.id)
        if chat_id is None:
            return False
        locale = (await self.notices.locales_of([chat_id]))[chat_id]
        text = self.ctx.i18n.t(key, locale, **params_for(locale), **params)
        markup = markup_for(locale) if markup_for is not None else None
        return await self.notices.send(
            chat_id, text, key=dedupe, markup=markup, origin_id=origin_id
        )
