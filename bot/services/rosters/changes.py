"""Changes to a published roster a visitor starts: offering a visit to a group mate, and
handing it back for the leader to give to someone else.

Each change leaves the old visit in place as DROPPED and creates a new one that points back at
it (`replaces_visit_id`), so who was asked to go where is never lost; the roster's version
grows so screens made before the change are refused. The repair after a meeting moves and the
meeting-move requests live in `repair` and `moves`; they are re-exported here so handlers have
one module for every roster change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.rosters import HandbackCb, OfferAct, OfferCb
from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.rosters.common import Quarter, RosterError, require_leader
from bot.services.rosters.handover import (
    Scope,
    Teller,
    cannot_go,
    drop,
    member_ids,
    own_visit,
    scope_of,
    snapshot,
    successor,
)
from bot.services.rosters.inputs import HISTORY_QUARTERS
from bot.services.rosters.moves import answer_move, request_move
from bot.services.rosters.repair import Repair, repair_after_change
from storage.models import Member, RosterVisit
from storage.models.rosters import VisitStatus
from storage.repositories.rosters import RosterRepository

__all__ = [
    "Proposal",
    "Repair",
    "answer_move",
    "answer_offer",
    "confirm_handback",
    "hand_back",
    "offer_visit",
    "repair_after_change",
    "request_move",
]


@dataclass(frozen=True)
class Proposal:
    """A handed-back visit and the member proposed to take it (None: nobody in the group can)."""

    visit: RosterVisit
    member_id: int | None


async def _record(
    session: AsyncSession, scope: Scope, actor: Actor, action: str, before: Any, after: Any
) -> None:
    scope.roster.version += 1
    await session.flush()
    await audit.record(
        session,
        action=action,
        entity_type="roster_visit",
        entity_id=scope.visit.id,
        before=before,
        after=after,
        actor_id=actor.telegram_id,
        district_id=scope.roster.district_id,
    )


async def _group_member(session: AsyncSession, scope: Scope, member_id: int) -> Member:
    members = await RosterRepository(session).group_members(scope.group.id)
    found = next((m for m in members if m.id == member_id), None)
    if found is None:
        raise RosterError("roster.not_in_group")
    return found


async def offer_visit(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int, to_member_id: int
) -> RosterVisit:
    """The visitor asks a group mate to go instead; the visit waits for their answer."""
    scope = await own_visit(session, ctx, actor, visit_id)
    visit = scope.visit
    if to_member_id == visit.visitor_member_id:
        raise RosterError("roster.offer_self")
    receiver = await _group_member(session, scope, to_member_id)
    tell = Teller(session, ctx)
    name = await tell.name(receiver.id)
    if await cannot_go(session, ctx, scope, receiver) is not None:
        raise RosterError("roster.offer_cannot_go", name=name)
    # An offer nobody can read would hold the visit forever: refuse it before writing.
    if not await tell.reachable(receiver):
        raise RosterError("roster.offer_unreachable", name=name)
    before = snapshot(visit)
    visit.status = VisitStatus.OFFERED
    visit.offer_to_member_id = receiver.id
    visit.offered_at = ctx.now()
    await _record(session, scope, actor, "roster_visit.offer", before, snapshot(visit))
    i18n = ctx.i18n

    def buttons(locale: str) -> dict[str, Any]:
        row = [
            {
                "text": i18n.t(key, locale),
                "callback_data": OfferCb(visit_id=visit.id, a=act).pack(),
            }
            for key, act in (
                ("roster.offer.button_accept", OfferAct.ACCEPT),
                ("roster.offer.button_decline", OfferAct.DECLINE),
            )
        ]
        return {"inline_keyboard": [row]}

    await tell.tell(
        receiver.id,
        "roster.offer.ask",
        f"visit:{visit.id}:offer:{receiver.id}:{visit.offered_at.timestamp():.0f}",
        params_for=await tell.about(visit),
        markup_for=buttons,
        origin_id=visit.id,
        name=await tell.name(visit.visitor_member_id),
    )
    return visit


async def answer_offer(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int, accept: bool
) -> RosterVisit:
    """The offered member takes the visit (a new visit is theirs, confirmed) or says no (it
    stays the visitor's). Returns the visit that now stands."""
    repo = RosterRepository(session)
    visit = await repo.visit(visit_id, for_update=True)
    if visit is None or visit.status != VisitStatus.OFFERED:
        raise RosterError("roster.offer_gone")
    if visit.offer_to_member_id not in member_ids(actor):
        raise RosterError("roster.not_offered_to_you")
    scope = await scope_of(session, visit)
    now = ctx.now()
    if visit.starts_at <= now:
        raise RosterError("roster.visit_started")
    tell = Teller(session, ctx)
    receiver = await tell.member(visit.offer_to_member_id)
    assert receiver is not None
    name = await tell.name(receiver.id)
    before = snapshot(visit)
    if accept:
        if await cannot_go(session, ctx, scope, receiver) is not None:
            raise RosterError("roster.offer_cannot_go", name=name)
        drop(visit, "swapped")
        standing = successor(visit, receiver.id, VisitStatus.CONFIRMED, now)
        session.add(standing)
        await session.flush()
        after = {**snapshot(visit), "new_visit": standing.id}
        action, key = "roster_visit.swap", "roster.offer.taken"
    else:
        visit.status = VisitStatus.CONFIRMED if visit.confirmed_at else VisitStatus.ASSIGNED
        visit.offer_to_member_id = visit.offered_at = None
        standing, after = visit, snapshot(visit)
        action, key = "roster_visit.offer_declined", "roster.offer.refused"
    await _record(session, scope, actor, action, before, after)
    await tell.tell(
        visit.visitor_member_id,
        key,
        f"visit:{visit.id}:offer:{receiver.id}:{before['status']}:{action}",
        params_for=await tell.about(visit),
        origin_id=visit.id,
        name=name,
    )
    leader = scope.group.leader_member_id
    if accept and leader not in (None, visit.visitor_member_id, receiver.id):
        # The group's plan changed hands: its leader hears who goes now (and who no longer).
        await tell.tell(
            leader,
            "roster.offer.leader_told",
            f"visit:{visit.id}:swap:leader",
            params_for=await tell.about(visit),
            origin_id=standing.id,
            name=name,
            was=await tell.name(visit.visitor_member_id),
        )
    return standing


async def _propose(session: AsyncSession, ctx: ServiceContext, scope: Scope) -> Member | None:
    """The group mate who should take a handed-back visit: able to go by the hard rules, then
    the fewest visits this quarter, then the fewest recent visits to that branch (so branches
    see different faces), then the member code (a stable choice)."""
    repo = RosterRepository(session)
    visit = scope.visit
    load: dict[int, int] = {}
    for v in await repo.visits(scope.roster.id):
        load[v.visitor_member_id] = load.get(v.visitor_member_id, 0) + 1
    since, _ = (
        Quarter(scope.roster.year, scope.roster.quarter).shift(-HISTORY_QUARTERS).bounds(ctx.tz)
    )
    recent: dict[int, int] = {}
    for v in await repo.published_visits(branch_ids=[visit.branch_id], since=since):
        if v.starts_at < visit.starts_at and v.id != visit.id:
            recent[v.visitor_member_id] = recent.get(v.visitor_member_id, 0) + 1
    able = [
        m
        for m in await repo.group_members(scope.group.id)
        if m.id != visit.visitor_member_id and await cannot_go(session, ctx, scope, m) is None
    ]
    return min(able, key=lambda m: (load.get(m.id, 0), recent.get(m.id, 0), m.code), default=None)


async def hand_back(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int
) -> Proposal:
    """The visitor cannot go: the visit waits (RETURNED) for the leader to confirm who
    takes it, and the leader is told whom the rules propose (or that nobody can go)."""
    scope = await own_visit(session, ctx, actor, visit_id)
    visit = scope.visit
    before = snapshot(visit)
    visit.status = VisitStatus.RETURNED
    proposed = await _propose(session, ctx, scope)
    after = {**snapshot(visit), "proposed": proposed.id if proposed else None}
    await _record(session, scope, actor, "roster_visit.hand_back", before, after)
    tell = Teller(session, ctx)
    about = await tell.about(visit)
    name = await tell.name(visit.visitor_member_id)
    if proposed is None:
        await tell.tell(
            scope.group.leader_member_id,
            "roster.handback.nobody_can",
            f"visit:{visit.id}:handback",
            params_for=about,
            origin_id=visit.id,
            name=name,
        )
        return Proposal(visit, None)
    i18n, proposed_name = ctx.i18n, await tell.name(proposed.id)

    def button(locale: str) -> dict[str, Any]:
        cb = HandbackCb(visit_id=visit.id, member_id=proposed.id)
        text = i18n.t("roster.handback.button", locale, name=proposed_name)
        return {"inline_keyboard": [[{"text": text, "callback_data": cb.pack()}]]}

    await tell.tell(
        scope.group.leader_member_id,
        "roster.handback.ask",
        f"visit:{visit.id}:handback",
        params_for=about,
        markup_for=button,
        origin_id=visit.id,
        name=name,
        proposed=proposed_name,
    )
    return Proposal(visit, proposed.id)


async def confirm_handback(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int, member_id: int
) -> RosterVisit:
    """The leader gives a handed-back visit to `member_id` (the proposal or their own pick)."""
    repo = RosterRepository(session)
    visit = await repo.visit(visit_id, for_update=True)
    if visit is None:
        raise RosterError("roster.handback_gone")
    scope = await scope_of(session, visit)
    require_leader(actor, scope.group)
    if visit.status != VisitStatus.RETURNED:
        raise RosterError("roster.handback_gone")
    now = ctx.now()
    if visit.starts_at <= now:
        raise RosterError("roster.visit_started")
    member = await _group_member(session, scope, member_id)
    tell = Teller(session, ctx)
    name = await tell.name(member.id)
    if member.id == visit.visitor_member_id or await cannot_go(session, ctx, scope, member):
        raise RosterError("roster.member_cannot_go", name=name)
    before = snapshot(visit)
    drop(visit, "handed_back")
    new = successor(visit, member.id, VisitStatus.ASSIGNED, now)
    session.add(new)
    await session.flush()
    await _record(
        session,
        scope,
        actor,
        "roster_visit.handed_over",
        before,
        {**snapshot(visit), "new_visit": new.id},
    )
    about = await tell.about(new)
    await tell.tell(
        member.id,
        "roster.visit.given",
        f"visit:{new.id}:given",
        params_for=about,
        origin_id=new.id,
    )
    await tell.tell(
        visit.visitor_member_id,
        "roster.handback.done",
        f"visit:{visit.id}:handed_over",
        params_for=about,
        origin_id=visit.id,
        name=name,
    )
    return new
