"""Issue 21, class 12 (rosters), end to end: the pass-on picker says who is free that day and
has « Quay lại / Hủy; the group's leader hears of a swap; a Xác nhận, under the visitor's list
or a nudge, leaves its outcome in the message and its button goes; a nudge's Xác nhận
confirms the one visit its line names. Forged presses of the new buttons are refused with
nothing changed. Expected texts come from the catalogs.
"""

from __future__ import annotations

from datetime import timedelta

from bot.app.jobs.nudges import sweep_job
from bot.buttons.rosters import ConfirmVisitCb
from bot.services.rosters.visits import mark_busy
from bot.services.vn_calendar import VN_TZ, to_local
from handlers.rosters.callbacks import OfferToCb, VisitAct, VisitCb
from storage.models.rosters import VisitStatus
from tests.e2e import rosters_steps as st
from tests.e2e.rosters_world import Msg, RosterWorld
from tests.e2e.test_rosters_changes import Pick, _free, _offer, _pick, _screen, _visit
from tests.helpers import button, buttons


def _rows(msg: Msg) -> list[list[str]]:
    return [
        [b["text"] for b in row]
        for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
    ]


async def test_class12_pass_on_picker_shows_who_is_free(rosters: RosterWorld) -> None:
    w = rosters
    pick = await _pick(w)
    visit, chat = pick.first, w.tg[pick.visitor]
    day = to_local(visit.starts_at, VN_TZ).date()
    # One mate free at that time marks the day busy: the picker says so, with no button.
    busy = pick.mate
    async with w.env.app.session_factory() as s, s.begin():
        await mark_busy(s, w.ctx, await w.actor(busy), day, busy=True)
    screen = await _screen(w, pick)
    await st.tap(w, chat, screen, VisitCb(visit_id=visit.id, a=VisitAct.OFFER).pack())
    picker = st.shown(w, screen)
    about = await w.about(visit)
    text = picker["text"]
    assert text.startswith(w.t("roster.offer.pick", when=about["when"], branch=about["branch"]))
    ddmm = f"{day:%d/%m}"
    assert w.t("roster.offer.not_free", day=ddmm) in text
    assert (
        w.t("roster.offer.not_free_line", name=w.names[busy], why=w.t("roster.offer.why.busy_day"))
        in text
    )
    *people, last = _rows(picker)
    free = [n for (n,) in people]
    assert free and w.names[busy] not in free
    assert w.t("roster.offer.free", day=ddmm, n=len(free)) in text
    assert last == [w.t("roster.offer.back"), w.t("roster.offer.cancel")]

    before, counts = await w.snapshot(), w.counts()
    # A forged offer to the busy mate is refused (the picker never offered them).
    forged = OfferToCb(visit_id=visit.id, member_id=busy).pack()
    answer = await st.tap(w, chat, picker, forged, strict=False)
    assert answer["text"] == w.refused("roster.offer_cannot_go", name=w.names[busy])
    # Quay lại and Hủy on someone else's visit: refused.
    theirs = next(v for v in await w.visits(pick.roster.id) if v.visitor_member_id != pick.visitor)
    for act in (VisitAct.BACK, VisitAct.KEEP):
        forged = VisitCb(visit_id=theirs.id, a=act).pack()
        answer = await st.tap(w, chat, picker, forged, strict=False)
        assert answer["text"] == w.refused("roster.not_your_visit"), act
    await w.delivered()
    assert await w.snapshot() == before and w.counts() == counts

    # « Quay lại: the roster again, with its own buttons.
    await st.tap(w, chat, picker, st.key(picker, w.t("roster.offer.back")))
    again = st.shown(w, picker)
    assert again["text"] == screen["text"] and buttons(again) == buttons(screen)
    # Hủy: nothing passed on, said so; the visit is still the visitor's.
    await st.tap(w, chat, again, VisitCb(visit_id=visit.id, a=VisitAct.OFFER).pack())
    await st.tap(w, chat, again, st.key(st.shown(w, again), w.t("roster.offer.cancel")))
    kept = st.shown(w, again)
    assert kept["text"] == w.t("roster.offer.kept", when=about["when"], branch=about["branch"])
    assert not buttons(kept)
    assert (await _visit(w, visit.id)).status == VisitStatus.ASSIGNED.value


async def _pick_without_leader(w: RosterWorld) -> tuple[Pick, int]:
    """A visit whose visitor and a mate free at its time are both not the group's leader."""
    for g in w.groups:
        roster = (await w.publish([g]))[g.id]
        visits = await w.visits(roster.id)
        for v in sorted(visits, key=lambda v: v.starts_at):
            if v.visitor_member_id == g.leader:
                continue
            for m in g.members:
                if m not in (g.leader, v.visitor_member_id) and _free(visits, m, v):
                    return Pick(g, roster, v.visitor_member_id, v, v, m, m), m
    raise AssertionError("no visit and mate without the leader in dan-phuong's rosters")


async def test_class12_leader_is_told_of_a_swap(rosters: RosterWorld) -> None:
    w = rosters
    pick, mate = await _pick_without_leader(w)
    visit, leader = pick.first, pick.group.leader
    ask = await _offer(w, pick, visit, mate)
    told = w.env.last_bot_id(w.tg[leader])
    await st.tap(w, w.tg[mate], ask, button(ask, w.t("roster.offer.button_accept")))
    await w.delivered()
    about = await w.about(visit)
    (news,) = w.sent(w.tg[leader], told)
    assert news["text"] == w.t(
        "roster.offer.leader_told",
        name=w.names[mate],
        was=w.names[pick.visitor],
        branch=about["branch"],
        when=about["when"],
    )
    # The offer's own message lost its buttons: it reads the outcome.
    assert not buttons(st.shown(w, ask))


async def test_class12_confirm_leaves_the_outcome_and_loses_its_button(
    rosters: RosterWorld,
) -> None:
    w = rosters
    g = w.groups[0]
    roster = (await w.publish([g]))[g.id]
    visits = await w.visits(roster.id)
    visitor = visits[0].visitor_member_id
    chat = w.tg[visitor]
    (own,) = [m for m in w.sent(chat) if m.get("reply_markup")]
    n = len([v for v in visits if v.visitor_member_id == visitor])
    await st.tap(w, chat, own, button(own, w.t("roster.button.confirm")))
    now = st.shown(w, own)
    assert now["text"] == own["text"] + "\n\n" + w.t("roster.confirmed", n=n)
    assert not buttons(now)


async def test_class12_nudge_confirm_confirms_one_visit(rosters: RosterWorld) -> None:
    w = rosters
    made = await w.publish()
    visits = [v for r in made.values() for v in await w.visits(r.id)]
    per: dict[int, list[int]] = {}
    for v in visits:
        per.setdefault(v.visitor_member_id, []).append(v.id)
    visitor = max(per, key=lambda m: len(per[m]))
    assert len(per[visitor]) >= 2
    chat = w.tg[visitor]
    seen = w.env.last_bot_id(chat)
    w.env.app.scheduler.pause()
    # The first nudge to confirm: three days after publication, in waking hours.
    w.move_to(to_local(w.ctx.now(), VN_TZ).replace(hour=11, minute=0) + timedelta(days=3))
    await sweep_job(w.jobs)
    await w.delivered()
    (nudge,) = [
        m
        for m in w.sent(chat, seen)
        if any(b["callback_data"].startswith("rcf1:") for b in buttons(m))
    ]
    confirms = [b for b in buttons(nudge) if b["callback_data"].startswith("rcf1:")]
    # One Xác nhận per visit, each naming its branch and day.
    assert sorted(ConfirmVisitCb.unpack(b["callback_data"]).visit_id for b in confirms) == sorted(
        per[visitor]
    )
    first = confirms[0]
    chosen = ConfirmVisitCb.unpack(first["callback_data"]).visit_id
    assert first["text"].startswith(w.t("nudge.btn.confirm") + " · ")
    # A forged Xác nhận of someone else's visit: refused, nothing changed.
    other = next(v for v in visits if v.visitor_member_id != visitor)
    before = await w.snapshot()
    forged = ConfirmVisitCb(visit_id=other.id).pack()
    answer = await st.tap(w, chat, nudge, forged, strict=False)
    assert answer["text"] == w.refused("roster.not_your_visit")
    assert await w.snapshot() == before
    # Pressed: that visit confirmed, the others not; the line's button gone, the outcome said.
    await st.tap(w, chat, nudge, first["callback_data"])
    status = {v.id: v.status for v in visits}
    for vid in per[visitor]:
        now = (await _visit(w, vid)).status
        expected = VisitStatus.CONFIRMED.value if vid == chosen else status[vid]
        assert now == expected, vid
    after = st.shown(w, nudge)
    done = await _visit(w, chosen)
    about = await w.about(done)
    outcome = w.t("roster.confirmed_one", branch=about["branch"], when=about["when"])
    assert after["text"] == nudge["text"] + "\n\n" + outcome
    left = [b["callback_data"] for b in buttons(after)]
    assert first["callback_data"] not in left
    assert [b["callback_data"] for b in confirms[1:]] == [d for d in left if d.startswith("rcf1:")]
    w.env.app.scheduler.resume()
