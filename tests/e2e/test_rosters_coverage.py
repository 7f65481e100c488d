"""Issue 12 end to end, /coverage: a committee admin sees the district's figures for a quarter
or a year, a working group's leader their group's, anyone else is refused; the figures are the
coverage service's, checked against the roster rows.

The world is `tests/e2e/rosters_world.py`; expected texts come from the catalogs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services.rosters import coverage as cov
from storage.models import CommitteeAdmin, WorkingGroup
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import RosterWorld

Q1 = "2027-Q1"
ADMIN = 7_000_001  # a committee admin's Telegram account (no member row)


def _coverage_text(w: RosterWorld, figures: cov.Coverage, period: str) -> str:
    lines = [
        w.t(
            "roster.cov.head",
            period=period,
            visited=figures.visited,
            due=figures.due,
            visits=figures.visits,
            reports=figures.reports,
        )
    ]
    for g in figures.groups:
        lines.append(
            w.t(
                "roster.cov.group",
                group=g.name,
                visited=g.visited,
                due=g.due,
                visits=g.visits,
                reports=g.reports,
            )
        )
    unvisited = figures.unvisited
    if unvisited:
        lines += ["", w.t("roster.cov.unvisited", n=len(unvisited))]
        for b in unvisited[:30]:
            planned = (
                st.said_when(w, b.next_planned) if b.next_planned else w.t("roster.cov.not_planned")
            )
            lines.append(w.t("roster.cov.branch", branch=b.name, planned=planned))
        if len(unvisited) > 30:
            lines.append(w.t("roster.cov.more", n=len(unvisited) - 30))
    return "\n".join(lines)


async def _figures(
    w: RosterWorld, year: int, quarter: int | None, groups: set[int] | None = None
) -> cov.Coverage:
    async with w.env.app.session_factory() as s:
        district = await s.scalar(select(WorkingGroup.district_id).limit(1))
        assert district is not None
        now = w.ctx.now()
        return await cov.coverage(s, district, year, quarter, now, group_ids=groups)


async def test_coverage_for_a_committee_admin_counts_the_district_by_quarter_and_year(
    rosters: RosterWorld,
) -> None:
    w = rosters
    published = await w.publish()
    visits = [v for r in published.values() for v in await w.visits(r.id)]
    first = min(visits, key=lambda v: (v.starts_at, v.id))
    w.move_to(first.starts_at + timedelta(hours=2))
    chat = w.tg[first.visitor_member_id]
    screen = await st.ask_visit(w, chat)
    await st.file_report(w, chat, screen, st.key(screen, st.labels(screen)[0]), quality="weak")
    await w.delivered()
    async with w.env.app.session_factory() as s, s.begin():
        district = await s.scalar(select(WorkingGroup.district_id).limit(1))
        s.add(CommitteeAdmin(district_id=district, telegram_id=ADMIN))
    admin = await st.stranger(w, ADMIN)

    reply = await w.env.ask(admin, f"/coverage {Q1}")
    figures = await _figures(w, 2027, 1)
    assert reply["text"] == _coverage_text(w, figures, w.quarter(1))
    assert len(figures.unvisited) > 30  # the list ends "and N more branches"
    # The figures themselves, from the rows: every started visit counts, one report.
    now = w.ctx.now()
    started = [v for v in visits if v.starts_at <= now]
    assert (figures.visits, figures.reports) == (len(started), 1)
    assert figures.visited == len({(v.roster_id, v.branch_id) for v in started}) > 0
    assert len(figures.groups) == len(w.groups)
    due = 0  # each roster's branches, the ones it could not cover among them
    for r in published.values():
        planned = {v.branch_id for v in await w.visits(r.id, live=False)}
        due += len(planned | {int(u["branch_id"]) for u in r.uncovered})
    assert figures.due == due
    for b in figures.unvisited:
        later = [v.starts_at for v in visits if v.branch_id == b.branch_id and v.starts_at > now]
        assert b.next_planned == (min(later) if later else None), b.name

    reply = await w.env.ask(admin, "/coverage 2027")
    year = await _figures(w, 2027, None)
    assert reply["text"] == _coverage_text(w, year, w.t("fbr.period.year", year=2027))
    assert year.due >= figures.due and year.reports == 1


async def test_coverage_for_a_leader_is_their_group_and_refused_to_a_plain_member(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g = w.groups[1]
    await w.publish([g])
    leader = w.leader_tg(g)
    reply = await w.env.ask(leader, f"/coverage {Q1}")
    figures = await _figures(w, 2027, 1, {g.id})
    assert [x.group_id for x in figures.groups] == [g.id]
    assert reply["text"] == _coverage_text(w, figures, w.quarter(1))
    assert all(o.name not in reply["text"] for o in w.groups if o.id != g.id)
    member = w.tg[w.plain_member(g)]
    reply = await w.env.ask(member, f"/coverage {Q1}")
    assert reply["text"] == st.refusal(w, "roster.coverage_not_allowed")
    reply = await w.env.ask(leader, "/coverage nonsense")
    assert reply["text"] == st.refusal(w, "roster.bad_period", text="nonsense")
