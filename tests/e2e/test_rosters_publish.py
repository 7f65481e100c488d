"""Issue 12 end to end, drafts and publication: the drafts job sends each of dan-phuong's 8
working-group leaders the coming quarter's draft (once), /roster shows it to the leader with its
coverage and shortfall but not to the members, publishing posts the table and the .xlsx in the
group's chat and each visitor's own list with Xác nhận and an .ics, and every replayed or forged
press is refused with nothing changed or sent.

The world is `tests/e2e/rosters_world.py`: the clock 10 days before 2027-Q1, ticking. Expected
texts come from the catalogs.
"""

from __future__ import annotations

from datetime import date, datetime, time
from io import BytesIO
from typing import Any

import icalendar
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app.jobs.rosters import drafts_job
from bot.buttons.rosters import ConfirmCb, RosterAct, RosterCb
from bot.services.vn_calendar import VN_TZ, to_local
from storage.models import Branch, Roster
from storage.models.rosters import VisitStatus
from storage.repositories.rosters import RosterRepository
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import Group, Msg, RosterWorld
from tests.helpers import button, buttons

Q1 = "2027-Q1"


async def _drafts(w: RosterWorld) -> dict[int, Msg]:
    """The drafts job run and delivered: group id -> the draft in its leader's chat."""
    await drafts_job(w.jobs)
    await w.delivered()
    out = {}
    for g in w.groups:
        head = w.t("roster.review.draft", group=g.name, quarter=w.quarter())
        found = [m for m in w.sent(w.leader_tg(g)) if m.get("text", "").startswith(head)]
        assert len(found) == 1, (g.code, found)
        out[g.id] = found[0]
    return out


async def _confirmed(w: RosterWorld, leader: int, msg: Msg) -> dict[str, Any]:
    """Công bố pressed on `msg`, then the check's confirm (class 2): the confirm's answer."""
    await st.tap(w, leader, msg, button(msg, w.t("roster.button.publish")))
    check = st.shown(w, msg)
    return await w.env.press(leader, check, button(check, w.t("roster.button.publish_ok")))


async def _publish(w: RosterWorld, drafts: dict[int, Msg], groups: list[Group]) -> None:
    """Each group's leader presses Công bố on the draft the job sent, and confirms."""
    for g in groups:
        answer = await _confirmed(w, w.leader_tg(g), drafts[g.id])
        assert answer.get("text") == w.t("roster.published.done"), answer
    await w.delivered()


def _docs(w: RosterWorld, chat: int, ext: str) -> list[Msg]:
    return [
        m for m in w.sent(chat) if m.get("document", {}).get("file_name", "").endswith(f".{ext}")
    ]


async def test_drafts_job_sends_each_leader_the_draft_once(rosters: RosterWorld) -> None:
    w = rosters
    before = w.counts()
    drafts = await _drafts(w)
    made = await w.rosters()
    assert len(made) == 8 and {r.status for r in made.values()} == {"draft"}
    for g in w.groups:
        msg = drafts[g.id]
        assert w.t("roster.draft.auto", quarter=w.quarter(1)) in msg["text"]
        texts = [b["text"] for b in buttons(msg)]
        assert texts[:2] == [w.t("roster.button.publish"), w.t("roster.button.regenerate")]
        cb = RosterCb.unpack(button(msg, w.t("roster.button.publish")))
        assert (cb.roster_id, cb.version, cb.a) == (
            made[g.id].id,
            made[g.id].version,
            RosterAct.ASK_PUBLISH,
        )
    # Only the leaders were told: no group chat, no other member.
    after = w.counts()
    assert {c for c in after if after[c] != before[c]} == {w.leader_tg(g) for g in w.groups}
    assert all(after[w.leader_tg(g)] == before[w.leader_tg(g)] + 1 for g in w.groups)

    # Run again (the scheduler does, every 6 h): nothing new made, queued or sent.
    outbox = await w.outbox_rows()
    await drafts_job(w.jobs)
    await w.delivered()
    assert w.counts() == after and await w.outbox_rows() == outbox
    assert {r.id: r.version for r in (await w.rosters()).values()} == {
        r.id: r.version for r in made.values()
    }


async def test_a_draft_the_leader_made_while_the_job_ran_is_left_alone(
    rosters: RosterWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job looks for an existing draft, then solves: a draft made in between (the leader's
    /roster) is kept as the leader saw it, not regenerated and sent again."""
    w = rosters
    g = w.groups[0]
    (screen,) = await st.roster(w, w.leader_tg(g))
    made = (await w.rosters())[g.id]
    assert made.version == 1
    real = RosterRepository.roster_for

    async def late(self: RosterRepository, *args: Any, for_update: bool = False) -> Any:
        # The job's first look comes before the leader's transaction commits.
        return None if not for_update else await real(self, *args, for_update=True)

    counts = w.counts()
    with monkeypatch.context() as patch:
        patch.setattr(RosterRepository, "roster_for", late)
        await drafts_job(w.jobs)
    await w.delivered()
    assert (await w.rosters())[g.id].version == 1
    assert w.counts()[w.leader_tg(g)] == counts[w.leader_tg(g)]
    assert all(w.counts()[w.leader_tg(o)] == counts[w.leader_tg(o)] + 1 for o in w.groups[1:])
    answer = await _confirmed(w, w.leader_tg(g), screen)
    assert answer.get("text") == w.t("roster.published.done")


async def test_leader_roster_shows_the_draft_with_coverage_and_shortfall(
    rosters: RosterWorld,
) -> None:
    w = rosters
    await _drafts(w)
    made = await w.rosters()
    short = 0
    for g in w.groups:
        roster = made[g.id]
        (screen,) = await st.roster(w, w.leader_tg(g))
        text = screen["text"]
        assert text.startswith(w.t("roster.review.draft", group=g.name, quarter=w.quarter()))
        visits = await w.visits(roster.id)
        load: dict[int, int] = {}
        for v in visits:
            load[v.visitor_member_id] = load.get(v.visitor_member_id, 0) + 1
        due = len(visits) + len(roster.uncovered)  # one visitor per meeting, one meeting each
        figures = w.t(
            "roster.figures",
            covered=len(visits),
            due=due,
            visits=len(visits),
            people=len(load),
            most=max(load.values()),
        )
        assert figures in text, (figures, text)
        assert w.t("roster.draft_hint") in text
        assert button(screen, w.t("roster.button.publish"))
        if not roster.uncovered:
            assert w.t("roster.shortfall") not in text
            continue
        short += 1
        assert w.t("roster.shortfall") in text
        async with w.env.app.session_factory() as s:
            for item in roster.uncovered:
                at = to_local(datetime.fromisoformat(item["start"]), VN_TZ)
                branch = await s.get(Branch, item["branch_id"])
                assert branch is not None
                reason = w.t(
                    f"roster.reason.{item['reason']}",
                    group=g.name,
                    branch=branch.name,
                    date=at.strftime("%d/%m"),
                    time=at.strftime("%H:%M"),
                    meetings=item["meetings"],
                    people=item["people"],
                )
                assert reason in text, (reason, text)
    assert short > 0  # dan-phuong's evenings are crowded: some groups cannot cover every branch


async def test_a_plain_member_does_not_see_the_draft(rosters: RosterWorld) -> None:
    w = rosters
    drafts = await _drafts(w)
    g = w.groups[0]
    member = w.tg[w.plain_member(g)]
    (reply,) = await st.roster(w, member)
    label = w.t("roster.quarter_short", quarter=w.quarter(1))
    assert reply["text"] == w.t("roster.none_yet", group=g.name, quarter=label)
    assert not buttons(reply)
    # Nor may they publish it with the leader's button data.
    before = await w.snapshot()
    data = button(drafts[g.id], w.t("roster.button.publish"))
    answer = await w.env.press(member, reply, data, strict=False)
    assert answer["text"] == w.refused("roster.needs_leader", group=g.name)
    assert await w.snapshot() == before


async def test_publish_posts_table_and_workbook_and_each_visitor_list(
    rosters: RosterWorld,
) -> None:
    w = rosters
    drafts = await _drafts(w)
    before = w.counts()
    await _publish(w, drafts, w.groups)
    published = await w.rosters()
    async with w.env.app.session_factory() as s:
        all_branches = {b.id: b for b in await s.scalars(select(Branch))}
    visitors_told = set()
    for g in w.groups:
        roster = published[g.id]
        assert roster.status == "published"
        visits = await w.visits(roster.id)
        assert visits and all(v.meeting_id is not None for v in visits)
        # The group's chat: the table, then the workbook.
        new = w.sent(g.chat_id)
        assert before[g.chat_id] == 0 and len(new) == 2
        table, doc = new
        head = w.t("roster.published.group", group=g.name, quarter=w.quarter())
        assert table["text"].startswith(head)
        for v in visits:
            branch = all_branches[v.branch_id]
            row = w.t(
                "roster.row",
                when=w.when(v.starts_at),
                branch=branch.name,
                place=branch.location or "—",
                visitor=w.names[v.visitor_member_id],
            )
            assert row in table["text"].split("\n"), (row, table["text"])
        file = doc["document"]
        assert file["file_name"] == f"lich-du-sinh-hoat-2027-q1-{g.code.lower()}.xlsx"
        assert doc["caption"] == w.t("roster.file.caption", group=g.name)
        _check_workbook(w, g, w.env.world.file_content(file["file_id"]), visits, all_branches)
        # Each visitor: their own list with Xác nhận, and an .ics of exactly their visits.
        mine: dict[int, list[int]] = {}
        for v in visits:
            mine.setdefault(v.visitor_member_id, []).append(v.id)
        for member_id, ids in mine.items():
            chat = w.tg[member_id]
            lists = [
                m
                for m in w.sent(chat)
                if m.get("text", "").startswith(
                    w.t("roster.visitor.list", group=g.name, quarter=w.quarter())
                )
            ]
            assert len(lists) == 1
            assert (
                button(lists[0], w.t("roster.button.confirm"))
                == ConfirmCb(roster_id=roster.id).pack()
            )
            (ics,) = _docs(w, chat, "ics")
            cal = icalendar.Calendar.from_ical(w.env.world.file_content(ics["document"]["file_id"]))
            uids = sorted(str(e["uid"]) for e in cal.walk("VEVENT"))
            assert uids == sorted(f"visit-{i}@chibo-bot" for i in ids)
            visitors_told.add(member_id)
        # The leader's draft screen became the published roster.
        screen = w.env.world.bot_messages(w.leader_tg(g))[0]
        assert screen["message_id"] == drafts[g.id]["message_id"]
        assert screen["text"].startswith(
            w.t("roster.review.published", group=g.name, quarter=w.quarter())
        )
    # Members with no visit got nothing in private.
    for member_id, chat in w.tg.items():
        if member_id not in visitors_told:
            assert w.counts([chat])[chat] == before[chat], member_id


def _check_workbook(
    w: RosterWorld, g: Group, data: bytes, visits: list[Any], branches: dict[int, Branch]
) -> None:
    """A real workbook: Vietnamese intact, date and time cells, header frozen, one row a visit."""
    ws = load_workbook(BytesIO(data)).active
    assert ws is not None and ws.title == Q1
    assert ws["A1"].value == w.raw("roster.sheet.title", quarter=w.quarter(), group=g.name)
    keys = ["number", "branch", "weekday", "date", "time", "place", "visitor"]
    assert [c.value for c in ws[2]] == [w.raw(f"roster.sheet.{k}") for k in keys]
    assert ws.freeze_panes == "A3"
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert len(rows) == len(visits)
    assert [r[0] for r in rows] == list(range(1, len(visits) + 1))
    expected = sorted(
        (
            to_local(v.starts_at, VN_TZ).replace(tzinfo=None),
            branches[v.branch_id].name,
            w.names[v.visitor_member_id],
        )
        for v in visits
    )
    got = []
    for r in rows:
        assert isinstance(r[3], datetime) and isinstance(r[4], time), r  # real date/time cells
        got.append((datetime.combine(r[3].date(), r[4]), r[1], r[6]))
    assert sorted(got) == expected
    assert ws.cell(row=3, column=4).number_format == "DD/MM/YYYY"
    assert all(isinstance(r[3].date(), date) for r in rows)


async def test_publish_twice_is_refused_and_nothing_is_sent_twice(rosters: RosterWorld) -> None:
    w = rosters
    drafts = await _drafts(w)
    g = w.groups[0]
    await _publish(w, drafts, [g])
    roster = (await w.rosters())[g.id]
    before, counts = await w.snapshot(), w.counts()
    leader = w.leader_tg(g)
    old = drafts[g.id]  # the screen as the job sent it (since edited into the roster)
    stale = await w.env.press(leader, old, button(old, w.t("roster.button.publish")), strict=False)
    assert stale["text"] == w.refused("roster.stale")
    again = RosterCb(roster_id=roster.id, version=roster.version, a=RosterAct.PUBLISH).pack()
    answer = await w.env.press(leader, old, again, strict=False)
    assert answer["text"] == w.refused(
        "roster.already_published", quarter=w.quarter(1), group=g.name
    )
    regen = RosterCb(roster_id=roster.id, version=roster.version, a=RosterAct.REGENERATE).pack()
    answer = await w.env.press(leader, old, regen, strict=False)
    assert answer["text"] == w.refused(
        "roster.already_published", quarter=w.quarter(1), group=g.name
    )
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts


async def test_confirm_marks_own_visits_and_a_forged_confirm_is_refused(
    rosters: RosterWorld,
) -> None:
    w = rosters
    drafts = await _drafts(w)
    g1, g2, g3 = w.groups[:3]
    await _publish(w, drafts, [g1, g2])
    made = await w.rosters()
    visits = await w.visits(made[g1.id].id)
    visitor = visits[0].visitor_member_id
    chat = w.tg[visitor]
    (own,) = [m for m in w.sent(chat) if m.get("reply_markup")]
    answer = await w.env.press(chat, own, button(own, w.t("roster.button.confirm")))
    mine = [v for v in visits if v.visitor_member_id == visitor]
    assert answer["text"] == w.t("roster.confirmed", n=len(mine))  # also said in the message
    await w.env.settle()
    after = await w.visits(made[g1.id].id)
    for v in after:
        expected = VisitStatus.CONFIRMED if v.visitor_member_id == visitor else VisitStatus.ASSIGNED
        assert v.status == expected.value, v.id
        assert (v.confirmed_at is not None) == (v.visitor_member_id == visitor)

    # Group 2's roster, where this person has no visit; group 3's, still a draft.
    before, counts = await w.snapshot(), w.counts()
    forged = ConfirmCb(roster_id=made[g2.id].id).pack()
    answer = await w.env.press(chat, own, forged, strict=False)
    assert answer["text"] == w.refused("roster.not_your_visit")
    answer = await w.env.press(chat, own, ConfirmCb(roster_id=made[g3.id].id).pack(), strict=False)
    assert answer["text"] == w.refused("roster.not_found")
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts


async def test_a_leader_cannot_regenerate_or_publish_another_groups_roster(
    rosters: RosterWorld,
) -> None:
    w = rosters
    drafts = await _drafts(w)
    g1, g2 = w.groups[:2]
    other: Roster = (await w.rosters())[g2.id]
    before, counts = await w.snapshot(), w.counts()
    own = drafts[g1.id]
    for act in (RosterAct.REGENERATE, RosterAct.PUBLISH, RosterAct.VIEW):
        forged = RosterCb(roster_id=other.id, version=other.version, a=act).pack()
        answer = await w.env.press(w.leader_tg(g1), own, forged, strict=False)
        assert answer["text"] == w.refused("roster.needs_leader", group=g2.name), act
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts
    assert w.env.world.bot_messages(w.leader_tg(g1))[0]["text"] == own["text"]


async def test_class2_publish_asks_before_it_tells_the_group(rosters: RosterWorld) -> None:
    """Công bố shows what publishing does, with a confirm and a way back; nothing is sent or
    changed before the confirm (found by issue 21's working-group leader story)."""
    w = rosters
    drafts = await _drafts(w)
    g = w.groups[0]
    leader, draft = w.leader_tg(g), drafts[g.id]
    before, counts = await w.snapshot(), w.counts()
    await st.tap(w, leader, draft, button(draft, w.t("roster.button.publish")))
    check = st.shown(w, draft)
    said = w.t("roster.publish.check", quarter=w.quarter(1), group=g.name)
    assert check["text"].endswith(said)
    assert st.labels(check) == [
        w.t("roster.button.publish_ok"),
        w.t("roster.button.publish_back"),
    ]
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts
    # Quay lại: the draft as it was, its buttons back.
    await st.tap(w, leader, check, button(check, w.t("roster.button.publish_back")))
    back = st.shown(w, draft)
    assert w.t("roster.draft_hint") in back["text"] and said not in back["text"]
    assert st.labels(back)[:2] == [w.t("roster.button.publish"), w.t("roster.button.regenerate")]
    assert await w.snapshot() == before
    # Then Công bố and the confirm: published, the group told.
    answer = await _confirmed(w, leader, back)
    assert answer.get("text") == w.t("roster.published.done")
    await w.delivered()
    assert (await w.rosters())[g.id].status == "published"
    table = w.t("roster.published.group", group=g.name, quarter=w.quarter())
    assert any(m.get("text", "").startswith(table) for m in w.sent(g.chat_id))
