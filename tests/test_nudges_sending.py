"""The outbox's last-moment check (`before_send`), generic and for nudges: a thing done between
the sweep and the send withdraws its nudge (never sent, `cancelled`, not counted), while a
message that still names something owed goes out whole."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.outbox import OutboxMessage, SendChecks, Sender, enqueue
from bot.outbox.service import FailureHooks, default_checks
from bot.services.nudges import nudge_figures
from bot.services.vn_calendar import month_bounds
from sandbox.testing import SandboxHandle, run_sandbox
from storage.db import create_session_factory
from storage.models import NudgeEvent, OutboxEntry
from tests.helpers import FakeClock
from tests.nudge_world import UNIT_CHAT, evening, nudge_world
from tests.orgdata import DEP1, SEC1
from tests.test_outbox import fast_config

DONE = {"sent", "failed", "maybe_sent", "cancelled"}


async def _states(sf: async_sessionmaker[AsyncSession]) -> dict[int, tuple[str, str | None]]:
    async with sf() as s:
        rows = await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
        return {r.id: (r.state, r.error) for r in rows}


async def _deliver(
    sb: SandboxHandle,
    sf: async_sessionmaker[AsyncSession],
    clock: FakeClock | None = None,
    checks: SendChecks | None = None,
) -> dict[int, tuple[str, str | None]]:
    """Run a sender until every row has a final state."""
    bot = sb.bot()
    sender = Sender(bot, sf, config=fast_config(), clock=clock, hooks=FailureHooks(), checks=checks)
    await sender.start()
    try:
        for _ in range(400):
            states = await _states(sf)
            if all(st in DONE for st, _ in states.values()):
                return states
            await asyncio.sleep(0.05)
        raise TimeoutError(states)
    finally:
        await sender.stop()
        await bot.session.close()


async def test_a_feature_withdraws_its_rows_just_before_they_leave(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    seen: list[list[str | None]] = []

    async def stale(s: AsyncSession, rows: Sequence[OutboxEntry], now: datetime) -> dict[int, str]:
        seen.append([r.text for r in rows])
        return {r.id: "stale" for r in rows if r.text == "stale"}

    async def broken(s: AsyncSession, rows: Sequence[OutboxEntry], now: datetime) -> dict[int, str]:
        raise RuntimeError("a bug in a check")

    checks = SendChecks()
    checks.register("mine", stale)
    checks.register("buggy", broken)
    async with run_sandbox() as sb:
        sb.add_user(101, "An", started=True)
        async with sf() as s, s.begin():
            for text, origin in (("fresh", "mine"), ("stale", "mine"), ("other", None)):
                await enqueue(s, OutboxMessage(chat_id=101, text=text, origin_type=origin))
            await enqueue(s, OutboxMessage(chat_id=101, text="unchecked", origin_type="buggy"))
        states = await _deliver(sb, sf, checks=checks)
        texts = sorted(m.get("text") for m in sb.bot_messages(101))
    assert texts == ["fresh", "other", "unchecked"]  # a failing check withdraws nothing
    assert sorted(st for st, _ in states.values()) == ["cancelled", "sent", "sent", "sent"]
    assert ("cancelled", "stale") in states.values()
    assert sorted(t for batch in seen for t in batch) == ["fresh", "stale"]  # its own rows only


async def test_done_between_the_sweep_and_the_send_nothing_is_sent(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    alone = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 11, 26, 19, 30)
    assert (await nw.sweep()).nudges == 1
    [queued] = await nw.nudges(SEC1)
    nw.clock.move(seconds=30)
    await nw.report(SEC1, alone)  # done before the sender takes the row
    assert nw.clock is not None and "nudge" in default_checks.checks  # registered on import
    async with run_sandbox() as sb:
        for person in (SEC1, DEP1):
            sb.add_user(person, "x", started=True)
        sb.create_group(UNIT_CHAT, "Đảng ủy xã An", members={SEC1: "member"}, bot_status="member")
        states = await _deliver(sb, nw.factory, nw.clock)
        assert states[queued.id] == ("cancelled", "withdrawn: done meanwhile")
        assert sb.bot_messages(SEC1) == []
        assert len(sb.bot_messages(UNIT_CHAT)) == 1  # the report itself went to the unit
    async with nw.factory() as s:
        event = (await s.scalars(select(NudgeEvent))).one()
    assert event.withdrawn_at == nw.clock.now()
    start, end = month_bounds(2026, 11)
    async with nw.factory() as s:
        fig = await nudge_figures(s, nw.ctx, nw.org.district, start, end)
    assert (fig.total.nudges, fig.total.withdrawn, fig.total.outcomes.total) == (0, 1, 0)


async def test_a_message_still_naming_something_owed_goes_out_whole(engine: AsyncEngine) -> None:
    nw = await nudge_world(engine)
    first = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    await nw.meeting(nw.org.b1, evening(2026, 11, 25).replace(minute=45))
    nw.at(2026, 11, 26, 19, 45)
    assert (await nw.sweep()).nudges == 1
    [queued] = await nw.nudges(SEC1)
    await nw.report(SEC1, first)
    async with run_sandbox() as sb:
        sb.add_user(SEC1, "x", started=True)
        sb.create_group(UNIT_CHAT, "Đảng ủy xã An", members={SEC1: "member"}, bot_status="member")
        states = await _deliver(sb, nw.factory, nw.clock)
        assert states[queued.id][0] == "sent"
        [delivered] = sb.bot_messages(SEC1)
    assert "(2 việc)" in delivered["text"]
