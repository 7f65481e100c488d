"""Issue 21, class 9 "Periods people must guess": /roster and /coverage without a period offer
it as buttons (this quarter, the coming one; for coverage also the last quarter and the year);
a past quarter is never offered, and a forged period button is refused with nothing changed.
Typed periods stay optional and checked.

The world is `tests/e2e/rosters_world.py` (Đan Phượng, 10 days before 2027-Q1); texts come
from the catalogs.
"""

from __future__ import annotations

from sqlalchemy import select

from handlers.rosters.callbacks import CoverageCb, PeriodCb
from storage.models import CommitteeAdmin, WorkingGroup
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import RosterWorld

ADMIN = 7_000_002  # a committee admin's Telegram account (no member row)


async def test_class9_roster_offers_this_and_the_coming_quarter_never_a_past_one(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g = w.groups[0]
    leader = w.leader_tg(g)
    picker = await w.env.ask(leader, "/roster")
    assert picker["text"] == w.t("roster.pick")
    coming = w.quarter(1)
    # In December this quarter's visits (October's meetings) are over: only the coming one is
    # offered (the trust issue's class 5: nothing drafted for a quarter whose visits began).
    assert st.labels(picker) == [w.t("roster.pick.next", quarter=coming)]
    # A forged press for a quarter that began, is over or is far ahead drafts nothing.
    before = await w.snapshot()
    for y, q in ((2026, 4), (2026, 3), (2027, 3), (2026, 9)):
        forged = PeriodCb(y=y, q=q).pack()
        answer = await st.tap(w, leader, picker, forged, strict=False)
        assert answer["text"] == w.refused("roster.quarter_not_offered")
    assert await w.snapshot() == before
    assert st.shown(w, picker)["text"] == w.t("roster.pick")
    # The coming quarter pressed: the picker says which, the group's draft follows below it.
    (screen,) = await st.roster(w, leader)
    assert screen["text"].startswith(w.t("roster.review.draft", group=g.name, quarter=coming))
    # A typed quarter still opens at once; a malformed one is answered, not guessed.
    typed = await w.env.ask(leader, "/roster 2027-Q1")
    assert typed["text"].startswith(w.t("roster.review.draft", group=g.name, quarter=coming))
    bad = await w.env.ask(leader, "/roster 2027-Q5")
    assert bad["text"] == st.refusal(w, "roster.bad_quarter", text="2027-Q5")


async def test_class9_roster_for_someone_in_no_group_offers_nothing(rosters: RosterWorld) -> None:
    w = rosters
    nobody = await st.stranger(w, 7_000_003)
    reply = await w.env.ask(nobody, "/roster")
    assert not st.labels(reply)


async def test_class9_coverage_offers_the_period_and_refuses_forged_presses(
    rosters: RosterWorld,
) -> None:
    w = rosters
    async with w.env.app.session_factory() as s, s.begin():
        district = await s.scalar(select(WorkingGroup.district_id).limit(1))
        s.add(CommitteeAdmin(district_id=district, telegram_id=ADMIN))
    admin = await st.stranger(w, ADMIN)
    picker = await w.env.ask(admin, "/coverage")
    assert picker["text"] == w.t("roster.cov.pick")
    assert st.labels(picker) == [
        w.t("roster.cov.pick.this", quarter=w.quarter(4, 2026)),
        w.t("roster.cov.pick.last", quarter=w.quarter(3, 2026)),
        w.t("roster.cov.pick.year", year=2026),
    ]
    # A plain member is offered nothing, and pressing the admin's button is refused.
    g = w.groups[0]
    member = w.tg[w.plain_member(g)]
    refused = await w.env.ask(member, "/coverage")
    assert refused["text"] == st.refusal(w, "roster.coverage_not_allowed")
    assert not st.labels(refused)
    answer = await st.tap(w, member, picker, CoverageCb(y=2026, q=4).pack(), strict=False)
    assert answer["text"] == w.refused("roster.coverage_not_allowed")
    bad = await st.tap(w, admin, picker, CoverageCb(y=1900, q=4).pack(), strict=False)
    assert bad["text"] == w.refused("roster.bad_period", text="1900-Q4")
    assert st.shown(w, picker)["text"] == w.t("roster.cov.pick")
    # The year pressed: the picker names it and the figures follow.
    year = w.t("fbr.period.year", year=2026)
    await st.tap(w, admin, picker, st.key(picker, w.t("roster.cov.pick.year", year=2026)))
    assert st.shown(w, picker)["text"] == w.t("roster.cov.pick.chosen", period=year)
    (figures,) = [
        m for m in w.env.world.bot_messages(admin) if m["message_id"] > picker["message_id"]
    ]
    head = w.t("roster.cov.head", period=year, visited=0, due=0, visits=0, reports=0)
    assert figures["text"].split(":")[0] == head.split(":")[0]
