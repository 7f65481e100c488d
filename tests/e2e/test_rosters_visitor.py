"""Issue 12 end to end, the visitor's side: /busy (the days a visitor cannot go, which the next
draft respects; a forged day refused, a published visit that day pointed out) and /visit (the
visit report in a few taps, the leader told in one line; someone else's visit refused at submit,
a stale press expired). /coverage is `test_rosters_coverage.py`.

The world is `tests/e2e/rosters_world.py`: the clock 10 days before 2027-Q1, ticking. Expected
texts come from the catalogs.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from bot.app.jobs.rosters import drafts_job
from bot.services.rosters.review import regenerate
from bot.services.vn_calendar import format_date
from handlers.rosters.visits import BusyCb, Step, VrCb
from storage.models import (
    AuditLog,
    BusyDay,
    HeardProposal,
    Member,
    RosterVisit,
    VisitReport,
    WorkingGroupMember,
)
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import TG_BASE, Group, Msg, RosterWorld
from tests.helpers import buttons

Q1 = "2027-Q1"
PROPOSALS = ("Sửa đường vào nhà văn hóa thôn", "Thăm hỏi đảng viên cao tuổi dịp Tết")


async def _busy_rows(w: RosterWorld) -> set[tuple[int, date]]:
    await w.env.settle()
    async with w.env.app.session_factory() as s:
        return {(b.member_id, b.day) for b in await s.scalars(select(BusyDay))}


async def _audits(w: RosterWorld, action: str) -> int:
    async with w.env.app.session_factory() as s:
        stmt = select(func.count()).where(AuditLog.action == action)
        return int(await s.scalar(stmt) or 0)


# /busy --------------------------------------------------------------------------------------


async def _busy(w: RosterWorld, chat: int, month: int = 1) -> Msg:
    """/busy, turned to `month` of 2027."""
    screen = await w.env.ask(chat, "/busy")
    if month != 1:
        await st.tap(w, chat, screen, st.key(screen, f"{month:02d}/2027"))
    return st.shown(w, screen)


async def test_busy_marks_and_unmarks_a_day_of_the_coming_quarter(rosters: RosterWorld) -> None:
    w = rosters
    member = w.plain_member(w.groups[0])
    chat = w.tg[member]
    screen = await w.env.ask(chat, "/busy")
    assert screen["text"] == w.t("roster.busy.title", quarter=w.quarter(1), n=0)
    assert st.labels(screen)[:3] == ["[01/2027]", "02/2027", "03/2027"]
    assert "31" in st.labels(screen) and not any("✖" in b for b in st.labels(screen))

    await st.tap(w, chat, screen, st.key(screen, "02/2027"))
    feb = st.shown(w, screen)
    assert "[02/2027]" in st.labels(feb) and "29" not in st.labels(feb)
    answer = await st.tap(w, chat, feb, st.key(feb, "14"))
    assert answer["text"] == w.t("roster.busy.on", day="14/02") and not answer.get("show_alert")
    marked = st.shown(w, screen)
    assert marked["text"] == w.t("roster.busy.title", quarter=w.quarter(1), n=1)
    assert "✖14" in st.labels(marked) and "14" not in st.labels(marked)
    assert await _busy_rows(w) == {(member, date(2027, 2, 14))}

    answer = await st.tap(w, chat, marked, st.key(marked, "✖14"))
    assert answer["text"] == w.t("roster.busy.off", day="14/02")
    unmarked = st.shown(w, screen)
    assert unmarked["text"] == w.t("roster.busy.title", quarter=w.quarter(1), n=0)
    assert "14" in st.labels(unmarked) and "✖14" not in st.labels(unmarked)
    assert await _busy_rows(w) == set()
    assert await _audits(w, "roster.busy") == 2


async def test_busy_refuses_a_day_out_of_range_and_expires_an_impossible_date(
    rosters: RosterWorld,
) -> None:
    w = rosters
    chat = w.tg[w.plain_member(w.groups[0])]
    screen = await w.env.ask(chat, "/busy")
    before = await _busy_rows(w), await _audits(w, "roster.busy"), await w.outbox_rows()
    out = w.refused(
        "roster.busy.out_of_range",
        first=format_date(date(2026, 12, 22)),
        last=format_date(date(2027, 3, 31)),
    )
    # Past days, and quarters too far for anyone to know.
    for y, m, d in [(2026, 12, 21), (2026, 10, 1), (2027, 4, 1), (2027, 8, 15), (2030, 1, 1)]:
        answer = await st.tap(w, chat, screen, BusyCb(y=y, m=m, d=d).pack(), strict=False)
        assert (answer["text"], answer["show_alert"]) == (out, True), (y, m, d)
    for y, m, d in [(2027, 2, 31), (2027, 2, 29), (2027, 13, 1), (2027, 13, 0), (2027, 0, 5)]:
        answer = await st.tap(w, chat, screen, BusyCb(y=y, m=m, d=d).pack(), strict=False)
        assert answer["text"] == w.refused("kit.expired"), (y, m, d)
    assert (await _busy_rows(w), await _audits(w, "roster.busy"), await w.outbox_rows()) == before
    assert st.shown(w, screen) == screen


async def test_busy_is_refused_to_a_person_in_no_working_group(rosters: RosterWorld) -> None:
    w = rosters
    async with w.env.app.session_factory() as s:
        seated = select(WorkingGroupMember.member_id)
        code = await s.scalar(
            select(Member.code).where(Member.id.not_in(seated), Member.active).order_by(Member.id)
        )
    outsider = await st.stranger(w, TG_BASE + 900_000, code=code)
    reply = await w.env.ask(outsider, "/busy")
    assert reply["text"] == st.refusal(w, "roster.not_a_visitor")
    forged = BusyCb(y=2027, m=1, d=5).pack()
    answer = await st.tap(w, outsider, reply, forged, strict=False)
    assert answer["text"] == w.refused("roster.not_a_visitor")
    assert await _busy_rows(w) == set()


async def test_marking_a_day_of_a_published_visit_warns_and_leaves_the_visit(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g = w.groups[0]
    roster = (await w.publish([g]))[g.id]
    visit = max(await w.visits(roster.id), key=lambda v: (v.starts_at, v.id))
    day = st.local_day(visit.starts_at)
    chat = w.tg[visit.visitor_member_id]
    screen = await _busy(w, chat, day.month)
    before = await w.snapshot()
    answer = await st.tap(w, chat, screen, st.key(screen, str(day.day)))
    assert answer["text"] == w.t("roster.busy.has_visit", day=f"{day:%d/%m}")
    assert f"✖{day.day}" in st.labels(st.shown(w, screen))
    assert await _busy_rows(w) == {(visit.visitor_member_id, day)}
    # The published visit stays (the visitor hands it back with the button now on the
    # screen); the one thing queued is the leader's notice of the conflict.
    assert "↩️" in " ".join(st.labels(st.shown(w, screen)))
    after = await w.snapshot()
    assert after == {**before, "outbox": before["outbox"] + 1}


async def test_the_next_draft_gives_a_busy_visitor_no_visit_that_day(rosters: RosterWorld) -> None:
    w = rosters
    g = w.groups[0]
    await drafts_job(w.jobs)
    await w.delivered()
    roster = (await w.rosters())[g.id]
    visit = (await w.visits(roster.id))[0]
    member, day = visit.visitor_member_id, st.local_day(visit.starts_at)
    chat = w.tg[member]
    screen = await _busy(w, chat, day.month)
    answer = await st.tap(w, chat, screen, st.key(screen, str(day.day)))
    assert answer["text"] == w.t("roster.busy.on", day=f"{day:%d/%m}")  # a draft: no warning
    async with w.env.app.session_factory() as s, s.begin():
        await regenerate(s, w.ctx, None, roster.id, roster.version)
    after = await w.visits(roster.id)
    assert after and (await w.rosters())[g.id].version > roster.version
    assert not [
        v for v in after if v.visitor_member_id == member and st.local_day(v.starts_at) == day
    ]


# /visit -------------------------------------------------------------------------------------


async def _first_visit(w: RosterWorld) -> tuple[Group, list[RosterVisit], RosterVisit]:
    """Group 1's roster published; its first visit by someone other than the leader (so the
    leader's summary is a message of its own)."""
    g = w.groups[0]
    visits = await w.visits((await w.publish([g]))[g.id].id)
    first = min(
        (v for v in visits if v.visitor_member_id != g.leader), key=lambda v: (v.starts_at, v.id)
    )
    return g, visits, first


async def _written(w: RosterWorld) -> tuple[list[VisitReport], list[HeardProposal]]:
    await w.env.settle()
    async with w.env.app.session_factory() as s:
        reports = list(await s.scalars(select(VisitReport)))
        heard = list(await s.scalars(select(HeardProposal).order_by(HeardProposal.id)))
    return reports, heard


async def _summaries(w: RosterWorld, g: Group, after: int) -> list[str]:
    """The visit report lines the leader got since message `after`."""
    await w.delivered()
    outcomes = ("good", "fair", "weak", "absent")
    blank = {"visitor": "\x00", "branch": "", "date": "", "proposals": 0}
    heads = tuple(
        w.t(f"roster.visit_report.leader.{o}", **blank).split("\x00")[0] for o in outcomes
    )
    return [m["text"] for m in w.sent(w.leader_tg(g), after) if m.get("text", "").startswith(heads)]


async def test_a_visit_report_in_a_few_taps_is_written_and_the_leader_told(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g, _, visit = await _first_visit(w)
    chat = w.tg[visit.visitor_member_id]
    w.move_to(visit.starts_at - timedelta(minutes=5))
    assert (await st.ask_visit(w, chat))["text"] == w.t("roster.visit.none")  # not started yet

    w.move_to(visit.starts_at + timedelta(hours=2))
    screen = await st.ask_visit(w, chat)
    about = await w.about(visit)
    (only,) = buttons(screen)
    assert only["text"] == f"{st.said_when(w, visit.starts_at)} · {about['branch']}"[:60]
    mark = w.env.last_bot_id(w.leader_tg(g))
    answer, note = await st.file_report(
        w, chat, screen, only["callback_data"], quality="good", proposals=PROPOSALS
    )
    assert not answer.get("show_alert")
    thanks = st.shown(w, note)
    # Each heard proposal one tap from becoming a feedback item (issue 13).
    assert thanks["text"] == w.t("roster.visit.thanks", n=2) + "\n\n" + w.t("fbui.convert.hint")
    assert [b["text"] for b in buttons(thanks)] == [f"📌 {p}" for p in PROPOSALS]

    (report,), heard = await _written(w)
    assert (report.visit_id, report.attended, report.quality, report.note) == (
        visit.id,
        True,
        "good",
        "",
    )
    assert report.submitted_by == chat
    assert [(h.visit_id, h.branch_id, h.text) for h in heard] == [
        (visit.id, visit.branch_id, text) for text in PROPOSALS
    ]
    summary = w.t(
        "roster.visit_report.leader.good",
        visitor=w.names[visit.visitor_member_id],
        branch=about["branch"],
        date=f"{st.local_day(visit.starts_at):%d/%m/%Y}",
        proposals=2,
    )
    assert await _summaries(w, g, mark) == [summary]
    assert (await st.ask_visit(w, chat))["text"] == w.t(
        "roster.visit.none"
    )  # reported: nothing left


async def test_could_not_attend_is_written_without_a_quality(rosters: RosterWorld) -> None:
    w = rosters
    g, _, visit = await _first_visit(w)
    chat = w.tg[visit.visitor_member_id]
    w.move_to(visit.starts_at + timedelta(hours=2))
    screen = await st.ask_visit(w, chat)
    mark = w.env.last_bot_id(w.leader_tg(g))
    await st.file_report(w, chat, screen, st.key(screen, st.labels(screen)[0]), quality=None)
    assert st.shown(w, screen)["text"] == w.t("roster.visit.thanks", n=0)
    (report,), heard = await _written(w)
    assert (report.visit_id, report.attended, report.quality) == (visit.id, False, None)
    assert heard == []
    about = await w.about(visit)
    summary = w.t(
        "roster.visit_report.leader.absent",
        visitor=w.names[visit.visitor_member_id],
        branch=about["branch"],
        date=f"{st.local_day(visit.starts_at):%d/%m/%Y}",
        proposals=0,
    )
    assert await _summaries(w, g, mark) == [summary]


async def test_a_forged_pick_of_someone_elses_visit_is_refused_at_submit(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g, visits, visit = await _first_visit(w)
    other = min(
        (v for v in visits if v.visitor_member_id != visit.visitor_member_id),
        key=lambda v: (v.starts_at, v.id),
    )
    w.move_to(max(visit.starts_at, other.starts_at) + timedelta(hours=2))
    chat = w.tg[visit.visitor_member_id]
    screen = await st.ask_visit(w, chat)
    mark = w.env.last_bot_id(w.leader_tg(g))
    forged = VrCb(visit_id=other.id, s=Step.PICK).pack()
    answer, _ = await st.file_report(
        w, chat, screen, forged, quality="fair", proposals=PROPOSALS[:1], strict=False
    )
    assert (answer["text"], answer["show_alert"]) == (w.refused("roster.not_your_visit"), True)
    assert await _written(w) == ([], [])
    assert await _audits(w, "roster.visit_report") == 0
    assert await _summaries(w, g, mark) == []


async def test_a_stale_report_press_is_answered_as_expired(rosters: RosterWorld) -> None:
    w = rosters
    chat = w.tg[w.plain_member(w.groups[0])]
    screen = await st.ask_visit(w, chat)
    # No conversation to go on with: nothing takes the press.
    for step in (Step.NO_PROPOSALS, Step.SKIP_NOTE):
        answer = await st.tap(w, chat, screen, VrCb(visit_id=1, s=step).pack(), strict=False)
        assert answer["text"] == w.t("kit.expired"), step
    # A quality step without the quality.
    bare = VrCb(visit_id=1, s=Step.QUALITY).pack()
    answer = await st.tap(w, chat, screen, bare, strict=False)
    assert answer["text"] == w.refused("kit.expired")
    assert await _written(w) == ([], [])
