"""Issue 12 end to end, a published roster living with its meetings: a branch's secretary moves
a visited meeting onto the morning of the visitor's other visit and the roster is repaired with
the fewest changes, everyone affected told; and 24 h before a visited meeting the visitor is
reminded of the place and agenda, once.

Each test publishes one group's 2027-Q1 draft as it is and acts on what the solver made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app.jobs.meetings import reminders_job
from bot.services.meetings.schedule import reschedule_meeting
from storage.models import Branch, Meeting, Roster, RosterVisit
from storage.models.rosters import VisitStatus
from tests.e2e.rosters_world import Group, RosterWorld

GAP = timedelta(hours=3)  # the default program's minimum gap between one person's visits
AGENDA = "Học tập Nghị quyết Đại hội XIV; kết nạp đảng viên <mới>"


def _busy(visits: list[RosterVisit], member: int, at: datetime) -> bool:
    return any(v.visitor_member_id == member and abs(v.starts_at - at) < GAP for v in visits)


@dataclass
class Collision:
    group: Group
    roster: Roster
    visits: list[RosterVisit]
    visitor: int
    a: RosterVisit  # the visit that stays where it is
    b: RosterVisit  # the visit whose meeting moves to half an hour after `a`'s
    to: datetime


async def _collision(w: RosterWorld) -> Collision:
    """A visitor (not the leader, so the leader's summary is a message of its own) with visits
    on two days, and a mate free at the first: publishing one group at a time until found."""
    for g in w.groups:
        roster = (await w.publish([g]))[g.id]
        visits = await w.visits(roster.id)
        for visitor in (m for m in g.members if m != g.leader):
            mine = sorted(
                (v for v in visits if v.visitor_member_id == visitor), key=lambda v: v.starts_at
            )
            for a in mine:
                for b in mine:
                    to = a.starts_at + timedelta(minutes=30)
                    if b.starts_at - a.starts_at < timedelta(hours=12):
                        continue
                    if any(
                        m != visitor
                        and not _busy(visits, m, a.starts_at)
                        and not _busy(visits, m, to)
                        for m in g.members
                    ):
                        return Collision(g, roster, visits, visitor, a, b, to)
    raise AssertionError("no visitor with visits on two days in dan-phuong's rosters")


async def test_a_moved_meeting_colliding_with_another_visit_is_repaired_with_one_change(
    rosters: RosterWorld,
) -> None:
    w = rosters
    c = await _collision(w)
    before = {v.id: v for v in c.visits}
    leader = w.tg[c.group.leader]
    marks = {chat: w.env.last_bot_id(chat) for chat in [*w.tg.values(), *w.chats]}

    # The secretary of b's branch moves its meeting to half an hour after a's.
    secretary = await w.secretary(c.b.branch_id)
    async with w.env.app.session_factory() as s, s.begin():
        await reschedule_meeting(s, secretary, w.ctx, c.b.meeting_id, starts_at=c.to)
    await w.delivered()

    # The fewest changes: one of the two visits goes to a mate free then, nothing else moves.
    after = await w.visits(c.roster.id, live=False)
    dropped = [v for v in after if v.status == VisitStatus.DROPPED.value]
    added = [v for v in after if v.id not in before]
    assert len(dropped) == 1 and len(added) == 1, (dropped, added)
    lost, new = dropped[0], added[0]
    assert lost.id in (c.a.id, c.b.id) and lost.dropped_reason == "repair"
    kept = c.b if lost.id == c.a.id else c.a
    assert (new.branch_id, new.meeting_id, new.replaces_visit_id) == (
        lost.branch_id,
        lost.meeting_id,
        lost.id,
    )
    assert new.visitor_member_id != c.visitor and new.status == VisitStatus.ASSIGNED.value
    for v in after:
        if v.id in before and v.id != lost.id:
            old = before[v.id]
            moved = c.to if v.id == c.b.id else old.starts_at
            assert (v.visitor_member_id, v.branch_id, v.status, v.starts_at) == (
                old.visitor_member_id,
                old.branch_id,
                old.status,
                moved,
            ), v.id
    live = [v for v in after if v.status != VisitStatus.DROPPED.value]
    for v in live:  # a valid roster again: nobody has two visits closer than the gap
        assert not _busy([x for x in live if x.id != v.id], v.visitor_member_id, v.starts_at)

    # Told: the visitor (what they keep at its new time, what they lose), the newcomer, the
    # leader (the change in lines); nobody else.
    lost_about, new_about = await w.about(lost), await w.about(new)
    expected: dict[int, set[str]] = {w.tg[c.visitor]: {w.t("roster.visit.dropped", **lost_about)}}
    if kept.id == c.b.id:
        expected[w.tg[c.visitor]].add(w.t("roster.visit.moved", **await w.about(kept)))
    newcomer = w.tg[new.visitor_member_id]
    expected.setdefault(newcomer, set()).add(w.t("roster.visit.given", **new_about))
    async with w.env.app.session_factory() as s:
        moved_branch = await s.get(Branch, c.b.branch_id)
    assert moved_branch is not None
    lines = [
        w.t("roster.repair.line_dropped", name=w.names[c.visitor], **lost_about),
        w.t("roster.repair.line_added", name=w.names[new.visitor_member_id], **new_about),
    ]
    summary = w.t(
        "roster.repair.moved",
        branch=moved_branch.name,
        when=w.when(c.to),
        place=(await w.about(c.b))["place"],
        changes="\n".join(lines),
    )
    expected.setdefault(leader, set()).add(summary)
    told = {chat: {m.get("text") for m in w.sent(chat, mark)} for chat, mark in marks.items()}
    assert {chat: texts for chat, texts in told.items() if texts} == expected


async def _meeting(w: RosterWorld, meeting_id: int | None) -> Meeting:
    async with w.env.app.session_factory() as s:
        found = await s.get(Meeting, meeting_id)
    assert found is not None
    return found


def _reminded(w: RosterWorld, chat: int, after: int) -> list[str]:
    head = w.t("mtg.remind.visitor_24h")
    return [m["text"] for m in w.sent(chat, after) if head in m.get("text", "")]


async def test_the_visitor_is_reminded_24h_before_with_place_and_agenda_once(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g = w.groups[0]
    roster = (await w.publish([g]))[g.id]
    visits = await w.visits(roster.id)
    visit = min(visits, key=lambda v: (v.starts_at, v.id))
    # The secretary writes the agenda (the time stays: nothing to repair).
    secretary = await w.secretary(visit.branch_id)
    async with w.env.app.session_factory() as s, s.begin():
        await reschedule_meeting(s, secretary, w.ctx, visit.meeting_id, agenda=AGENDA)
    meeting = await _meeting(w, visit.meeting_id)
    assert meeting.starts_at == visit.starts_at and meeting.agenda == AGENDA
    await w.delivered()

    w.move_to(meeting.starts_at - timedelta(hours=23))
    marks = {chat: w.env.last_bot_id(chat) for chat in w.tg.values()}
    await reminders_job(w.jobs)
    await w.delivered()
    chat = w.tg[visit.visitor_member_id]
    (text,) = _reminded(w, chat, marks[chat])
    async with w.env.app.session_factory() as s:
        branch = await s.get(Branch, visit.branch_id)
    assert branch is not None and branch.name in text
    assert w.t("mtg.body.place", place=meeting.place) in text
    assert w.t("mtg.body.agenda", agenda=AGENDA) in text
    assert w.t("roster.remind.report") in text
    # Visitors whose visits are all more than 24 h away are not reminded yet.
    soon = {v.visitor_member_id for v in visits if v.starts_at <= meeting.starts_at + GAP}
    for member, other in w.tg.items():
        if member not in soon:
            assert not _reminded(w, other, marks[other]), member

    # The job again (the scheduler runs it every minute): nothing new.
    counts, outbox = w.counts(), await w.outbox_rows()
    await reminders_job(w.jobs)
    await w.delivered()
    assert w.counts() == counts and await w.outbox_rows() == outbox
