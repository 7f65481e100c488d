"""Truth rule "figures that add up", in a broadcast's views: the branches directly under the
committee are grouped under the committee's own name (never a unit with no name), and a
scheduled broadcast's record says when it will go, its recipients waiting until then."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import broadcasts as bc
from bot.services.broadcasts.progress import figures, render, sync
from bot.services.broadcasts.report import WAITING
from bot.services.vn_calendar import format_datetime
from handlers.broadcasts.history import _status_line, _table
from storage.models import Branch, Broadcast, ChatBinding
from tests import orgdata as o
from tests.broadcast_world import G_B1, bc_world

G_DIRECT = -1006
COMMITTEE = "Huyện ủy Thử Nghiệm"


async def test_figures_add_up_branches_directly_under_the_committee_carry_its_name(
    engine: AsyncEngine,
) -> None:
    """The defect: the progress listed them as "• : 0/1" (a unit with no name)."""
    w = await bc_world(engine)
    async with w.factory() as s, s.begin():
        direct = Branch(
            code="T01B06",
            name="Chi bộ Cơ quan Huyện",
            unit_id=w.org.district,  # directly under the committee
            district_id=w.org.district,
            kind="agency",
            meeting_day=5,
            meeting_time=time(19, 30),
        )
        s.add(direct)
        await s.flush()
        s.add(
            ChatBinding(
                chat_id=G_DIRECT,
                target_type="branch",
                target_id=direct.id,
                district_id=w.org.district,
            )
        )
    draft = await w.draft(ack_required=True, ack_deadline=w.clock.now() + timedelta(days=2))
    await w.send(draft)
    await w.deliver([G_B1, G_DIRECT])
    async with w.factory() as s, s.begin():
        b = await s.get(Broadcast, draft)
        assert b is not None
        await sync(s, b, w.clock.now(), w.ctx)
        fig = (await figures(s, [draft]))[draft]
        text, _markup = await render(s, w.ctx, b, fig, "vi")
        detail = await bc.detail(s, await w.actor(o.ADMIN, s), draft, now=w.clock.now())
    assert f"• {COMMITTEE}: 0/1" in text
    assert "• : " not in text
    names = {u.name for u in detail.units}
    assert COMMITTEE in names and "" not in names
    line = next(r for r in detail.recipients if r.name == "Chi bộ Cơ quan Huyện")
    assert line.unit == COMMITTEE
    with w.ctx.i18n.context():
        table = _table(detail)
    assert COMMITTEE[:16] in table
    # Recipients outside any unit are the working groups, and say so.
    assert w.ctx.i18n.t("bc.unit.none", "vi") == "Tổ công tác"


async def test_figures_add_up_a_scheduled_broadcast_shows_when_it_goes_and_waits(
    engine: AsyncEngine,
) -> None:
    """The defect: its record showed the moment Gửi was pressed as "Hẹn giờ" and every
    recipient as "đang gửi"."""
    w = await bc_world(engine)
    pressed = w.clock.now()
    at = pressed + timedelta(days=2, hours=-2)  # Wednesday 25/11/2026 09:00
    draft = await w.draft(send_at=at)
    await w.send(draft)
    async with w.factory() as s:
        admin = await w.actor(o.ADMIN, s)
        detail = await bc.detail(s, admin, draft, now=w.clock.now())
    queued = [r for r in detail.recipients if r.state != "unreachable"]
    assert queued and {r.state for r in queued} == {WAITING}
    assert detail.summary.send_at == at
    with w.ctx.i18n.context():
        status = _status_line(detail.summary, w.ctx)
    assert status == "Hẹn giờ: sẽ gửi vào " + format_datetime(at, "vi", w.ctx.tz)
    assert "25/11/2026 lúc 09:00" in status
    assert format_datetime(pressed, "vi", w.ctx.tz) not in status
    labels = bc.workbook_labels(w.ctx.i18n, "vi", detail)
    assert labels.states[WAITING] == "chờ đến giờ hẹn"
    assert labels.states[WAITING] != w.ctx.i18n.t("bc.state.pending", "vi")
    # At its time the rows go out: they read as sending, no longer waiting.
    w.clock.t = at + timedelta(seconds=1)
    async with w.factory() as s:
        later = await bc.detail(s, await w.actor(o.ADMIN, s), draft, now=w.clock.now())
    assert {r.state for r in later.recipients if r.state != "unreachable"} == {"pending"}
