"""/nudges figures equal the scripted run: nudges and escalations sent, who could not be
reminded, which step each obligation was met after, the median time to action, per unit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.nudges import figures_for
from handlers.nudges import figures_text
from tests.nudge_world import evening, nudge_world
from tests.orgdata import ADMIN, SEC1, SEC3


async def test_figures_equal_the_scripted_events(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    org = nw.org
    second = await nw.meeting(org.b1, evening(2026, 11, 24))  # met after the second nudge
    first = await nw.meeting(org.b1, evening(2026, 11, 25))  # met after the first
    escalated = await nw.meeting(org.b3, evening(2026, 11, 25))  # SEC3 unreachable: escalated
    await nw.meeting(org.b2, evening(2026, 11, 25))  # SEC2 unreachable, never reported
    nw.at(2026, 11, 25, 19, 30)
    await nw.sweep()
    nw.at(2026, 11, 26, 19, 30)
    await nw.sweep()
    nw.at(2026, 11, 27, 10, 0)
    for who, meeting in ((SEC1, second), (SEC1, first), (SEC3, escalated)):
        await nw.report(who, meeting)
    nw.at(2026, 11, 27, 10, 5)
    assert (await nw.sweep()).met == 3
    async with nw.factory() as s:
        [fig] = await figures_for(s, nw.ctx, await nw.actor(s, ADMIN), 2026, 11)
    total = fig.total
    assert (total.nudges, total.escalations, total.unreachable, total.no_target) == (3, 2, 2, 0)
    o = total.outcomes
    assert (o.after_first, o.after_second, o.after_escalation, o.never) == (1, 1, 1, 1)
    # Met when the sweep saw it done (10:05), 14 h 35 after the nudges of 26/11 19:30.
    assert o.median == timedelta(hours=14, minutes=35)
    assert dict(total.open) == {"meeting_report": 1}
    units = {u.name: u.figures for u in fig.units}
    u1, u2 = units["Đảng ủy xã An"], units["Đảng ủy xã Bình"]
    assert (u1.nudges, u1.escalations, dict(u1.open)) == (3, 1, {"meeting_report": 1})
    assert (u1.outcomes.after_first, u1.outcomes.after_second, u1.outcomes.never) == (1, 1, 1)
    assert (u2.nudges, u2.escalations, u2.outcomes.after_escalation) == (0, 1, 1)
    with nw.ctx.i18n.context():
        text = figures_text(fig, "11/2026")
    assert "Việc đang chờ: <b>1</b>" in text
    assert "đã nhắc 3 lần, báo cấp trên 2 lần" in text
    assert "Xong sau lần nhắc đầu: 1 (25%)" in text
    assert "0 ngày 15 giờ" in text
    # Another month: nothing happened then.
    async with nw.factory() as s:
        [dec] = await figures_for(s, nw.ctx, await nw.actor(s, ADMIN), 2026, 12)
    assert (dec.total.nudges, dec.total.escalations, dec.total.outcomes.total) == (0, 0, 0)
