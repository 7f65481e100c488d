"""Issue 12 end to end, changes to a published roster a visitor starts from /roster: passing a
visit on to a group mate (accepted, or declined), handing one back for the leader to give to
the member the rules propose, and the forged or late presses that are refused with nothing
changed.

Each test starts from the drafts of 2027-Q1, publishes one group's as drafted and picks, from
what the solver made, a visitor with two visits and group mates free at their times; expected
texts come from the catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.services.vn_calendar import VN_TZ, to_local
from handlers.rosters.callbacks import (
    HandbackCb,
    OfferAct,
    OfferCb,
    OfferToCb,
    VisitAct,
    VisitCb,
)
from storage.models import Roster, RosterVisit
from storage.models.rosters import VisitStatus
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import Group, Msg, RosterWorld
from tests.helpers import button, buttons

GAP = timedelta(hours=3)  # the default program's minimum gap between one person's visits


@dataclass
class Pick:
    group: Group
    roster: Roster
    visitor: int  # member id, two visits or more
    first: RosterVisit  # the visitor's earliest visit
    second: RosterVisit  # a later one
    mate: int  # a group mate free at `first`'s time
    other: int  # another mate free at `second`'s time


def _free(visits: list[RosterVisit], member: int, at: RosterVisit) -> bool:
    return all(
        abs(v.starts_at - at.starts_at) >= GAP for v in visits if v.visitor_member_id == member
    )


async def _pick(w: RosterWorld) -> Pick:
    for g in w.groups:  # published one group at a time, until one has what the tests need
        roster = (await w.publish([g]))[g.id]
        visits = await w.visits(roster.id)
        for visitor in g.members:
            mine = sorted(
                (v for v in visits if v.visitor_member_id == visitor), key=lambda v: v.starts_at
            )
            if len(mine) < 2:
                continue
            first, second = mine[0], mine[-1]
            mates = [m for m in g.members if m != visitor]
            free1 = [m for m in mates if _free(visits, m, first)]
            free2 = [m for m in mates if _free(visits, m, second) and m not in free1[:1]]
            if free1 and free2:
                return Pick(g, roster, visitor, first, second, free1[0], free2[0])
    raise AssertionError("no visitor with two visits and free mates in dan-phuong's rosters")


async def _screen(w: RosterWorld, pick: Pick) -> Msg:
    """The visitor's /roster: the group's published roster, a row of buttons per own visit."""
    head = w.t("roster.review.published", group=pick.group.name, quarter=w.quarter())
    # Only the roster screen: a notice the outbox delivers meanwhile (the leader told of a
    # mate's busy day on their own visit, class 14) is not part of it.
    (reply,) = [m for m in await st.roster(w, w.tg[pick.visitor]) if m["text"].startswith(head)]
    mine = [v for v in await w.visits(pick.roster.id) if v.visitor_member_id == pick.visitor]
    assert len(buttons(reply)) == 2 * len(mine)
    return reply


async def _offer(w: RosterWorld, pick: Pick, visit: RosterVisit, to: int) -> Msg:
    """The visitor picks Nhường on the visit, then the mate: the mate's question."""
    chat = w.tg[pick.visitor]
    screen = await _screen(w, pick)
    await w.env.press(chat, screen, VisitCb(visit_id=visit.id, a=VisitAct.OFFER).pack())
    offer_to = OfferToCb(visit_id=visit.id, member_id=to).pack()
    mates = await w.env.world.wait_for_bot_message(
        chat, lambda m: offer_to in [b["callback_data"] for b in buttons(m)]
    )
    # The free mates by name (`to` among them), then « Quay lại and Hủy (issue 21, class 12).
    names = {w.names[m] for m in pick.group.members if m != pick.visitor}
    *people, (back, cancel) = [
        [b["text"] for b in row] for row in mates["reply_markup"]["inline_keyboard"]
    ]
    assert {n for (n,) in people} <= names and w.names[to] in {n for (n,) in people}
    assert (back, cancel) == (w.t("roster.offer.back"), w.t("roster.offer.cancel"))
    about = await w.about(visit)
    at = to_local(visit.starts_at, VN_TZ)
    day = w.t(f"people.weekday.{at.weekday()}")
    at_text = w.t("people.when", weekday=day, date=f"{at:%d/%m/%Y}", time=f"{at:%H:%M}")
    assert mates["text"].startswith(w.t("roster.offer.pick", when=at_text, branch=about["branch"]))
    after = w.env.last_bot_id(w.tg[to])
    await w.env.press(chat, mates, offer_to)
    await w.env.world.wait_for_bot_message(
        chat,
        lambda m: (
            m["message_id"] == mates["message_id"] and m.get("text") == w.t("roster.offer.sent")
        ),
    )
    await w.delivered()
    (ask,) = w.sent(w.tg[to], after)
    assert ask["text"] == w.t("roster.offer.ask", name=w.names[pick.visitor], **about)
    return ask


async def _visit(w: RosterWorld, visit_id: int) -> RosterVisit:
    async with w.env.app.session_factory() as s:
        found = await s.get(RosterVisit, visit_id)
    assert found is not None
    return found


async def test_a_visit_passed_to_a_mate_who_accepts_changes_hands(rosters: RosterWorld) -> None:
    w = rosters
    pick = await _pick(w)
    visit, mate = pick.first, pick.mate
    start = {(v.branch_id, v.visitor_member_id) for v in await w.visits(pick.roster.id)}
    ask = await _offer(w, pick, visit, mate)
    assert (await _visit(w, visit.id)).status == VisitStatus.OFFERED.value
    told = w.env.last_bot_id(w.tg[pick.visitor])
    answer = await w.env.press(w.tg[mate], ask, button(ask, w.t("roster.offer.button_accept")))
    assert answer.get("show_alert") is not True
    await w.env.world.wait_for_bot_message(
        w.tg[mate], lambda m: m.get("text") == w.t("roster.ui.offer_taken")
    )
    await w.delivered()
    about = await w.about(visit)
    (news,) = w.sent(w.tg[pick.visitor], told)
    assert news["text"] == w.t(
        "roster.offer.taken", name=w.names[mate], branch=about["branch"], when=about["when"]
    )
    old = await _visit(w, visit.id)
    assert (old.status, old.dropped_reason) == (VisitStatus.DROPPED.value, "swapped")
    async with w.env.app.session_factory() as s:
        (new,) = await s.scalars(
            select(RosterVisit).where(RosterVisit.replaces_visit_id == visit.id)
        )
    assert (new.visitor_member_id, new.status, new.meeting_id, new.starts_at) == (
        mate,
        VisitStatus.CONFIRMED.value,
        visit.meeting_id,
        visit.starts_at,
    )
    # The roster reads the same otherwise; its version grew (older screens are refused).
    live = {(v.branch_id, v.visitor_member_id) for v in await w.visits(pick.roster.id)}
    assert live == start - {(visit.branch_id, pick.visitor)} | {(visit.branch_id, mate)}
    assert (await w.rosters())[pick.group.id].version > pick.roster.version


async def test_a_declined_offer_leaves_the_visit_with_its_visitor(rosters: RosterWorld) -> None:
    w = rosters
    pick = await _pick(w)
    visit, mate = pick.second, pick.other
    ask = await _offer(w, pick, visit, mate)
    told = w.env.last_bot_id(w.tg[pick.visitor])
    await w.env.press(w.tg[mate], ask, button(ask, w.t("roster.offer.button_decline")))
    await w.env.world.wait_for_bot_message(
        w.tg[mate], lambda m: m.get("text") == w.t("roster.ui.offer_refused")
    )
    await w.delivered()
    about = await w.about(visit)
    (news,) = w.sent(w.tg[pick.visitor], told)
    assert news["text"] == w.t(
        "roster.offer.refused", name=w.names[mate], branch=about["branch"], when=about["when"]
    )
    back = await _visit(w, visit.id)
    assert (back.status, back.visitor_member_id, back.offer_to_member_id) == (
        VisitStatus.ASSIGNED.value,
        pick.visitor,
        None,
    )
    assert len(await w.visits(pick.roster.id, live=False)) == len(await w.visits(pick.roster.id))
    # The answer again (a double tap): the offer is gone.
    before = await w.snapshot()
    again = await w.env.press(
        w.tg[mate], ask, OfferCb(visit_id=visit.id, a=OfferAct.ACCEPT).pack(), strict=False
    )
    assert again["text"] == w.refused("roster.offer_gone")
    assert await w.snapshot() == before


async def test_forged_offers_are_refused(rosters: RosterWorld) -> None:
    w = rosters
    pick = await _pick(w)
    stranger = next(m for g in w.groups if g != pick.group for m in g.members)
    chat = w.tg[pick.visitor]
    screen = await _screen(w, pick)
    before, counts = await w.snapshot(), w.counts()
    # Offered to a member of another group.
    forged = OfferToCb(visit_id=pick.first.id, member_id=stranger).pack()
    answer = await w.env.press(chat, screen, forged, strict=False)
    assert answer["text"] == w.refused("roster.not_in_group")
    # Someone else's visit, offered by this visitor to their own mate.
    theirs = next(v for v in await w.visits(pick.roster.id) if v.visitor_member_id != pick.visitor)
    forged = OfferToCb(visit_id=theirs.id, member_id=pick.mate).pack()
    answer = await w.env.press(chat, screen, forged, strict=False)
    assert answer["text"] == w.refused("roster.not_your_visit")
    # Accepting an offer nobody made.
    forged = OfferCb(visit_id=pick.first.id, a=OfferAct.ACCEPT).pack()
    answer = await w.env.press(w.tg[pick.mate], screen, forged, strict=False)
    assert answer["text"] == w.refused("roster.offer_gone")
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts


async def test_hand_back_goes_to_the_proposed_mate_and_a_started_one_is_refused(
    rosters: RosterWorld,
) -> None:
    w = rosters
    pick = await _pick(w)
    g, chat = pick.group, w.tg[pick.visitor]
    leader = w.tg[g.leader]
    screen = await _screen(w, pick)
    asked = w.env.last_bot_id(leader)
    answer = await w.env.press(
        chat, screen, VisitCb(visit_id=pick.second.id, a=VisitAct.HANDBACK).pack()
    )
    assert answer["text"] == w.t("roster.handback.sent")
    await w.delivered()
    (ask,) = w.sent(leader, asked)
    (data,) = [b["callback_data"] for b in buttons(ask)]
    proposed = HandbackCb.unpack(data).member_id
    assert proposed != pick.visitor and proposed in g.members
    about = await w.about(pick.second)
    assert ask["text"] == w.t(
        "roster.handback.ask",
        name=w.names[pick.visitor],
        branch=about["branch"],
        when=about["when"],
        proposed=w.names[proposed],
    )
    given = w.env.last_bot_id(w.tg[proposed])
    told = w.env.last_bot_id(chat)
    await w.env.press(leader, ask, data)
    await w.env.world.wait_for_bot_message(
        leader, lambda m: m.get("text") == w.t("roster.handback.confirmed")
    )
    await w.delivered()
    assert w.sent(w.tg[proposed], given)[-1]["text"] == w.t("roster.visit.given", **about)
    assert w.sent(chat, told)[-1]["text"] == w.t(
        "roster.handback.done", name=w.names[proposed], branch=about["branch"], when=about["when"]
    )
    assert (await _visit(w, pick.second.id)).dropped_reason == "handed_back"

    # Once the first visit's meeting has begun, it can no longer be handed back. The jobs wait:
    # what the jump makes due (reminders) is not what a refused press may write.
    w.env.app.scheduler.pause()
    w.move_to(pick.first.starts_at + timedelta(minutes=5))
    before, counts = await w.snapshot(), w.counts()
    late = VisitCb(visit_id=pick.first.id, a=VisitAct.HANDBACK).pack()
    answer = await w.env.press(chat, screen, late, strict=False)
    assert answer["text"] == w.refused("roster.visit_started")
    offer = OfferToCb(visit_id=pick.first.id, member_id=pick.mate).pack()
    answer = await w.env.press(chat, screen, offer, strict=False)
    assert answer["text"] == w.refused("roster.visit_started")
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts
    w.env.app.scheduler.resume()
