"""A visitor's changes to a published roster: offering a visit to a group mate (accepted or
declined) and handing it back for the leader to give away. Each refusal leaves every row and
the outbox as they were."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.rosters import HandbackCb, OfferAct, OfferCb
from bot.i18n import LOCALES_DIR, load_catalog
from bot.services.rosters import changes
from bot.services.rosters.common import RosterError
from bot.services.rosters.review import confirm_visits
from bot.services.vn_calendar import to_local
from storage.models import BusyDay, RosterVisit, TelegramUser
from storage.models.rosters import VisitStatus
from tests.roster_world import (
    VISITORS,
    RosterWorld,
    callbacks,
    live_visits,
    roster_world,
    sent,
    state,
)


@pytest.fixture
async def rw(engine: AsyncEngine) -> RosterWorld:
    return await roster_world(engine)


async def _a_visit(rw: RosterWorld) -> tuple[RosterVisit, str, str]:
    """A visit, its visitor's code, and a group mate free at that time."""
    async with rw.w.factory() as s:
        visits = await live_visits(s, rw.roster_id)
    visit = visits[0]
    owner = rw.code_of(visit.visitor_member_id)
    busy_then = {rw.code_of(v.visitor_member_id) for v in visits if v.starts_at == visit.starts_at}
    mate = next(c for c in ("M9", "W1", "W2", "W3") if c not in busy_then)
    return visit, owner, mate


async def _refused(rw: RosterWorld, key: str, who: str, call: object, *args: object) -> None:
    before = await state(rw)
    with pytest.raises(RosterError) as err:
        async with rw.w.factory() as s, s.begin():
            await call(s, rw.w.ctx, await rw.actor(s, who), *args)  # type: ignore[operator]
    assert err.value.key == key
    assert await state(rw) == before


async def test_offer_accepted_swaps_the_visit_and_tells_both(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        offered = await changes.offer_visit(
            s, rw.w.ctx, await rw.actor(s, owner), visit.id, rw.members[mate]
        )
        assert offered.status == VisitStatus.OFFERED
    [ask] = await sent(rw, mate, f"visit:{visit.id}:offer")
    assert OfferCb(visit_id=visit.id, a=OfferAct.ACCEPT).pack() in callbacks(ask)
    async with rw.w.factory() as s, s.begin():
        new = await changes.answer_offer(s, rw.w.ctx, await rw.actor(s, mate), visit.id, True)
        old = await s.get(RosterVisit, visit.id)
        assert old is not None and old.status == VisitStatus.DROPPED
        assert old.dropped_reason == "swapped"
        assert (new.visitor_member_id, new.status) == (rw.members[mate], VisitStatus.CONFIRMED)
        assert (new.replaces_visit_id, new.meeting_id) == (visit.id, visit.meeting_id)
    assert await sent(rw, owner, "roster_visit.swap")


async def test_offer_declined_gives_the_confirmed_visit_back(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        await confirm_visits(s, rw.w.ctx, await rw.actor(s, owner), rw.roster_id)
        await changes.offer_visit(s, rw.w.ctx, await rw.actor(s, owner), visit.id, rw.members[mate])
    async with rw.w.factory() as s, s.begin():
        back = await changes.answer_offer(s, rw.w.ctx, await rw.actor(s, mate), visit.id, False)
        assert back.id == visit.id and back.status == VisitStatus.CONFIRMED
        assert back.offer_to_member_id is None and back.offered_at is None
    assert await sent(rw, owner, "roster_visit.offer_declined")
    await _refused(rw, "roster.offer_gone", mate, changes.answer_offer, visit.id, True)


async def test_answer_from_someone_not_asked_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        await changes.offer_visit(s, rw.w.ctx, await rw.actor(s, owner), visit.id, rw.members[mate])
    other = next(c for c in ("M9", "W1", "W2", "W3") if c not in (owner, mate))
    await _refused(rw, "roster.not_offered_to_you", other, changes.answer_offer, visit.id, True)
    await _refused(rw, "roster.offer_gone", mate, changes.answer_offer, 999_999, True)


async def test_offer_to_another_groups_member_refused(rw: RosterWorld) -> None:
    visit, owner, _ = await _a_visit(rw)
    z1 = rw.members["Z1"]
    await _refused(rw, "roster.not_in_group", owner, changes.offer_visit, visit.id, z1)
    await _refused(rw, "roster.offer_self", owner, changes.offer_visit, visit.id, rw.members[owner])


async def test_offer_of_someone_elses_visit_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    m9 = rw.members["M9"]
    await _refused(rw, "roster.not_your_visit", mate, changes.offer_visit, visit.id, m9)
    await _refused(rw, "roster.not_your_visit", owner, changes.offer_visit, 999_999, m9)


async def test_offer_to_a_member_busy_that_day_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        day = to_local(visit.starts_at, rw.w.ctx.tz).date()
        s.add(BusyDay(member_id=rw.members[mate], day=day))
    mate_id = rw.members[mate]
    await _refused(rw, "roster.offer_cannot_go", owner, changes.offer_visit, visit.id, mate_id)


async def test_offer_of_a_visit_already_offered_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        await changes.offer_visit(s, rw.w.ctx, await rw.actor(s, owner), visit.id, rw.members[mate])
    m9 = rw.members["M9"] if owner != "M9" else rw.members["W3"]
    await _refused(rw, "roster.visit_in_change", owner, changes.offer_visit, visit.id, m9)
    await _refused(rw, "roster.visit_in_change", owner, changes.hand_back, visit.id)


async def test_offer_to_someone_the_bot_cannot_reach_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        user = await s.get(TelegramUser, rw.tg[mate])
        assert user is not None
        user.reachable = False
    mate_id = rw.members[mate]
    await _refused(rw, "roster.offer_unreachable", owner, changes.offer_visit, visit.id, mate_id)


async def test_offer_on_a_draft_refused(engine: AsyncEngine) -> None:
    rw = await roster_world(engine, published=False)
    visit, owner, mate = await _a_visit(rw)
    mate_id = rw.members[mate]
    await _refused(rw, "roster.not_published", owner, changes.offer_visit, visit.id, mate_id)


async def test_handing_back_a_visit_that_already_happened_refused(rw: RosterWorld) -> None:
    visit, owner, _ = await _a_visit(rw)
    rw.w.clock.t = visit.starts_at + timedelta(hours=1)
    await _refused(rw, "roster.visit_started", owner, changes.hand_back, visit.id)


async def test_hand_back_then_the_leader_gives_it_to_the_proposed_member(rw: RosterWorld) -> None:
    visit, owner, _ = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        proposal = await changes.hand_back(s, rw.w.ctx, await rw.actor(s, owner), visit.id)
        assert proposal.visit.status == VisitStatus.RETURNED
        loads = {c: 0 for c in ("M9", "W1", "W2", "W3") if c != owner}
        for v in await live_visits(s, rw.roster_id):
            code = rw.code_of(v.visitor_member_id)
            loads[code] = loads.get(code, 0) + (code != owner)
    assert proposal.member_id is not None
    proposed = rw.code_of(proposal.member_id)
    assert loads[proposed] == min(loads[c] for c in loads if c != owner)
    [ask] = await sent(rw, "M8", f"visit:{visit.id}:handback")
    assert callbacks(ask) == [HandbackCb(visit_id=visit.id, member_id=proposal.member_id).pack()]
    async with rw.w.factory() as s, s.begin():
        leader = await rw.actor(s, "M8")
        new = await changes.confirm_handback(s, rw.w.ctx, leader, visit.id, proposal.member_id)
        old = await s.get(RosterVisit, visit.id)
        assert old is not None and (old.status, old.dropped_reason) == ("dropped", "handed_back")
        assert (new.visitor_member_id, new.status) == (proposal.member_id, VisitStatus.ASSIGNED)
        assert new.replaces_visit_id == visit.id
    assert await sent(rw, proposed, f"visit:{new.id}:given")
    assert await sent(rw, owner, f"visit:{visit.id}:handed_over")
    await _refused(
        rw, "roster.handback_gone", "M8", changes.confirm_handback, visit.id, proposal.member_id
    )


async def test_hand_back_when_nobody_can_go_tells_the_leader_so(rw: RosterWorld) -> None:
    visit, owner, _ = await _a_visit(rw)
    day = to_local(visit.starts_at, rw.w.ctx.tz).date()
    async with rw.w.factory() as s, s.begin():
        s.add_all(BusyDay(member_id=rw.members[c], day=day) for c in VISITORS if c != owner)
    async with rw.w.factory() as s, s.begin():
        proposal = await changes.hand_back(s, rw.w.ctx, await rw.actor(s, owner), visit.id)
    assert proposal.member_id is None and proposal.visit.status == VisitStatus.RETURNED
    [told] = await sent(rw, "M8", f"visit:{visit.id}:handback")
    assert callbacks(told) == []


async def test_non_leader_confirming_a_hand_back_refused(rw: RosterWorld) -> None:
    visit, owner, mate = await _a_visit(rw)
    async with rw.w.factory() as s, s.begin():
        await changes.hand_back(s, rw.w.ctx, await rw.actor(s, owner), visit.id)
    mate_id = rw.members[mate]
    await _refused(rw, "roster.needs_leader", mate, changes.confirm_handback, visit.id, mate_id)
    await _refused(
        rw, "roster.member_cannot_go", "M8", changes.confirm_handback, visit.id, rw.members[owner]
    )
    z1 = rw.members["Z1"]
    await _refused(rw, "roster.not_in_group", "M8", changes.confirm_handback, visit.id, z1)


def test_every_text_the_changes_send_is_in_both_catalogs() -> None:
    """Notices go through `tell(member, key, ...)`, which the catalog test's `.t("key"` scan
    does not see: every roster key these modules name must exist in both languages."""
    folder = Path(changes.__file__).parent
    keys: set[str] = set()
    for name in ("changes", "handover", "moves", "repair"):
        keys |= set(re.findall(r'"(roster\.[a-z_.]+)"', (folder / f"{name}.py").read_text()))
    assert len(keys) > 30
    for locale in ("vi", "en"):
        catalog = load_catalog(LOCALES_DIR / locale)
        assert catalog is not None
        assert keys <= {str(m.id) for m in catalog if m.id}, locale
