"""The roster follows its meetings: a moved or cancelled meeting repairs the published roster
with the fewest changes; a draft's suggested move is asked of the branch's secretary, whose
answer moves the meeting and remakes the draft. Each refusal leaves every row as it was."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.rosters import MoveAct, MoveCb
from bot.services import meetings as mtg
from bot.services.rosters import changes
from bot.services.rosters.common import RosterError
from storage.models import Meeting, MoveRequest, Roster, RosterVisit, TelegramUser
from storage.models.rosters import MoveStatus, VisitStatus
from tests.helpers import local
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


def _pairs(visits: list[RosterVisit]) -> dict[int, tuple[int, int]]:
    return {v.id: (v.branch_id, v.visitor_member_id) for v in visits}


async def test_a_clash_after_a_reschedule_changes_exactly_one_visit(rw: RosterWorld) -> None:
    async with rw.w.factory() as s:
        before = await live_visits(s, rw.roster_id)
    [owner] = [
        c for c, n in Counter(rw.code_of(v.visitor_member_id) for v in before).items() if n == 2
    ]
    first, second = [v for v in before if v.visitor_member_id == rw.members[owner]]
    async with rw.w.factory() as s, s.begin():
        admin = await rw.actor(s, "ADMIN")
        assert first.meeting_id is not None
        await mtg.reschedule_meeting(
            s, admin, rw.w.ctx, first.meeting_id, starts_at=second.starts_at
        )
    async with rw.w.factory() as s:
        after = await live_visits(s, rw.roster_id)
        gone = [await s.get(RosterVisit, i) for i in _pairs(before).keys() - _pairs(after).keys()]
    [dropped] = gone
    assert dropped is not None and dropped.id in (first.id, second.id)
    assert (dropped.status, dropped.dropped_reason) == (VisitStatus.DROPPED, "repair")
    [added] = [v for v in after if v.id not in _pairs(before)]
    assert added.branch_id == dropped.branch_id and added.replaces_visit_id == dropped.id
    assert added.visitor_member_id != rw.members[owner]
    assert all(_pairs(after)[i] == p for i, p in _pairs(before).items() if i != dropped.id)
    assert all(v.starts_at == second.starts_at for v in after if v.meeting_id == first.meeting_id)
    assert await sent(rw, owner, f"visit:{dropped.id}:dropped")
    assert await sent(rw, rw.code_of(added.visitor_member_id), f"visit:{added.id}:given")
    assert await sent(rw, "M8", f"roster:{rw.roster_id}:repair")


async def test_repair_reports_what_it_kept_moved_dropped_and_added(rw: RosterWorld) -> None:
    """Called directly after a meeting moved onto another visit of the same visitor."""
    async with rw.w.factory() as s:
        before = await live_visits(s, rw.roster_id)
    [owner] = [
        c for c, n in Counter(rw.code_of(v.visitor_member_id) for v in before).items() if n == 2
    ]
    first, second = [v for v in before if v.visitor_member_id == rw.members[owner]]
    async with rw.w.factory() as s, s.begin():
        meeting = await s.get(Meeting, first.meeting_id)
        assert meeting is not None
        meeting.starts_at = second.starts_at
        await s.flush()
        repair = await changes.repair_after_change(s, rw.w.ctx, meeting.id)
    assert repair is not None and repair.kept == len(before) - 1
    assert [(v.id, v.status) for v in repair.dropped] in (
        [(first.id, "dropped")],
        [(second.id, "dropped")],
    )
    assert [v.replaces_visit_id for v in repair.added] == [repair.dropped[0].id]
    assert [v.id for v in repair.moved] == ([first.id] if repair.dropped[0].id == second.id else [])


async def test_a_moved_meeting_takes_its_visit_along(rw: RosterWorld) -> None:
    async with rw.w.factory() as s:
        before = await live_visits(s, rw.roster_id)
    visit, new_start = before[0], local(2027, 1, 12, 8, 0)
    async with rw.w.factory() as s, s.begin():
        admin = await rw.actor(s, "ADMIN")
        assert visit.meeting_id is not None
        await mtg.reschedule_meeting(s, admin, rw.w.ctx, visit.meeting_id, starts_at=new_start)
    async with rw.w.factory() as s:
        after = await live_visits(s, rw.roster_id)
        moved = await s.get(RosterVisit, visit.id)
    assert _pairs(after) == _pairs(before)
    assert moved is not None and moved.starts_at == new_start
    assert await sent(rw, rw.code_of(visit.visitor_member_id), f"visit:{visit.id}:moved")


async def test_a_cancelled_meeting_drops_its_visit(rw: RosterWorld) -> None:
    async with rw.w.factory() as s:
        before = await live_visits(s, rw.roster_id)
    visit = before[0]
    async with rw.w.factory() as s, s.begin():
        admin = await rw.actor(s, "ADMIN")
        assert visit.meeting_id is not None
        await mtg.cancel_meeting(s, admin, rw.w.ctx, visit.meeting_id, "Bão lớn")
    async with rw.w.factory() as s:
        after = await live_visits(s, rw.roster_id)
        gone = await s.get(RosterVisit, visit.id)
    assert gone is not None and (gone.status, gone.dropped_reason) == (
        "dropped",
        "meeting_cancelled",
    )
    assert _pairs(after) == {i: p for i, p in _pairs(before).items() if i != visit.id}
    assert await sent(rw, rw.code_of(visit.visitor_member_id), f"visit:{visit.id}:dropped")


async def test_repair_of_a_meeting_nobody_visits_does_nothing(rw: RosterWorld) -> None:
    async with rw.w.factory() as s, s.begin():
        assert await changes.repair_after_change(s, rw.w.ctx, 999_999) is None


# Meeting-move requests on a draft -------------------------------------------------------------

JAN5 = date(2027, 1, 5)


@pytest.fixture
async def draft(engine: AsyncEngine) -> RosterWorld:
    """Everyone is busy on 5 January, so V1's meeting that day is left out and moving it is
    the suggestion."""
    return await roster_world(engine, busy={c: [JAN5] for c in VISITORS}, published=False)


async def _roster(rw: RosterWorld) -> Roster:
    async with rw.w.factory() as s:
        roster = await s.get(Roster, rw.roster_id)
        assert roster is not None
        return roster


async def _ask(rw: RosterWorld) -> MoveRequest:
    roster = await _roster(rw)
    assert roster.suggestions["moves"][0]["branch_id"] == rw.branches["V1"]
    async with rw.w.factory() as s, s.begin():
        leader = await rw.actor(s, "M8")
        return await changes.request_move(s, rw.w.ctx, leader, rw.roster_id, roster.version, 0)


async def _refused(rw: RosterWorld, key: str, who: str, call: object, *args: object) -> None:
    before = await state(rw)
    with pytest.raises(RosterError) as err:
        async with rw.w.factory() as s, s.begin():
            await call(s, rw.w.ctx, await rw.actor(s, who), *args)  # type: ignore[operator]
    assert err.value.key == key
    assert await state(rw) == before


async def test_accepted_move_moves_the_meeting_and_the_new_draft_covers_it(
    draft: RosterWorld,
) -> None:
    version = (await _roster(draft)).version
    req = await _ask(draft)
    assert req.status == MoveStatus.PENDING and req.meeting_id is not None
    [ask] = await sent(draft, "S1", f"move:{req.id}:ask")
    assert MoveCb(request_id=req.id, a=MoveAct.ACCEPT).pack() in callbacks(ask)
    async with draft.w.factory() as s, s.begin():
        secretary = await draft.actor(s, "S1")
        done = await changes.answer_move(s, draft.w.ctx, secretary, req.id, True)
        assert done.status == MoveStatus.ACCEPTED
    async with draft.w.factory() as s:
        meeting = await s.get(Meeting, req.meeting_id)
        visits = await live_visits(s, draft.roster_id)
    assert meeting is not None and meeting.starts_at == req.to_start
    assert [v.starts_at for v in visits if v.branch_id == draft.branches["V1"]] == [req.to_start]
    roster = await _roster(draft)
    assert roster.version > version and roster.uncovered == []
    assert await sent(draft, "M8", f"move:{req.id}:answer")


async def test_declined_move_leaves_the_meeting_and_tells_the_leader(draft: RosterWorld) -> None:
    req = await _ask(draft)
    async with draft.w.factory() as s, s.begin():
        await changes.answer_move(s, draft.w.ctx, await draft.actor(s, "S1"), req.id, False)
    async with draft.w.factory() as s:
        meeting = await s.get(Meeting, req.meeting_id)
        stored = await s.get(MoveRequest, req.id)
    assert meeting is not None and meeting.starts_at == req.from_start
    assert stored is not None and stored.status == MoveStatus.DECLINED
    assert await sent(draft, "M8", f"move:{req.id}:answer")
    await _refused(draft, "roster.move_gone", "S1", changes.answer_move, req.id, True)


async def test_move_request_from_a_stale_screen_refused(draft: RosterWorld) -> None:
    version = (await _roster(draft)).version
    await _refused(
        draft, "roster.stale", "M8", changes.request_move, draft.roster_id, version - 1, 0
    )


async def test_bad_move_requests_refused(draft: RosterWorld) -> None:
    version = (await _roster(draft)).version
    args = (draft.roster_id, version)
    await _refused(draft, "roster.move_gone", "M8", changes.request_move, *args, 7)
    await _refused(draft, "roster.needs_leader", "W1", changes.request_move, *args, 0)
    await _ask(draft)
    await _refused(draft, "roster.move_pending", "M8", changes.request_move, *args, 0)


async def test_move_request_with_no_secretary_to_ask_refused(draft: RosterWorld) -> None:
    async with draft.w.factory() as s, s.begin():
        user = await s.get(TelegramUser, draft.tg["S1"])
        assert user is not None
        user.reachable = False
    version = (await _roster(draft)).version
    await _refused(
        draft, "roster.move_no_secretary", "M8", changes.request_move, draft.roster_id, version, 0
    )


async def test_someone_not_of_the_branch_answering_refused(draft: RosterWorld) -> None:
    req = await _ask(draft)
    for who in ("W1", "S2"):
        await _refused(draft, "roster.not_your_branch", who, changes.answer_move, req.id, True)


async def test_move_request_on_a_published_roster_refused(rw: RosterWorld) -> None:
    version = (await _roster(rw)).version
    await _refused(
        rw, "roster.already_published", "M8", changes.request_move, rw.roster_id, version, 0
    )
    async with rw.w.factory() as s:
        assert not (await s.scalars(select(MoveRequest))).all()
