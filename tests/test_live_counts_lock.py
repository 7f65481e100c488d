"""The live-count pass never holds SQLite's write lock while it reads.

Found by `python -m bench broadcast` on the 30-district city: the month's plan wrote 8,220
planned meetings, the next pass read and rendered each inside a writing transaction for 45-50 s,
and the outbox's writer, waiting behind it, gave up ("database is locked") after SQLite's 30 s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.meetings import LiveCounts
from bot.services.meetings.plan import generate_plan
from storage.db import begin_mode
from storage.models import TelegramUser
from storage.models.outbox import OutboxEntry
from storage.repositories.meetings import MeetingRepository
from tests.helpers import local
from tests.orgdata import MEM1, SEC1, MeetingWorld, meeting_world

GROUP = -100777


async def _noop_edit(_chat: int, _message: int, _text: str, _markup: dict[str, Any]) -> None:
    return None


async def _announced(engine: AsyncEngine) -> tuple[MeetingWorld, int]:
    """A meeting scheduled in branch B01, its group announcement sent as message 901."""
    world = await meeting_world(
        engine, GROUP, [TelegramUser(id=u, first_name="A") for u in (SEC1, MEM1)]
    )
    async with world.factory() as s, s.begin():
        res = await svc.schedule_meeting(
            s,
            await load_actor(s, SEC1),
            world.ctx,
            world.org.b1,
            kind="regular",
            starts_at=local(2026, 12, 3, 19, 30),
        )
    async with world.factory() as s, s.begin():
        await s.execute(update(OutboxEntry).values(state="sent", telegram_message_id=901))
    return world, res.meeting.id


async def test_a_pass_reads_in_a_deferred_transaction_and_writes_only_a_moved_message(
    engine: AsyncEngine,
) -> None:
    world, meeting_id = await _announced(engine)
    modes: list[str] = []

    def _on_begin(_conn: Any) -> None:
        modes.append(begin_mode())

    event.listen(engine.sync_engine, "begin", _on_begin)
    try:
        async with world.factory() as s, s.begin():
            await svc.record_rsvp(s, world.clock, meeting_id, MEM1, "yes")
        modes.clear()
        await LiveCounts().flush(world.factory, world.ctx, _noop_edit)  # the live one moves
        first = list(modes)
        modes.clear()
        async with world.factory() as s, s.begin():
            await svc.record_rsvp(s, world.clock, meeting_id, MEM1, "no")
        modes.clear()
        live = LiveCounts()
        live.every = 0.0
        await live.flush(world.factory, world.ctx, _noop_edit)  # nothing moved: reads only
        second = list(modes)
    finally:
        event.remove(engine.sync_engine, "begin", _on_begin)
    assert first == ["DEFERRED", "IMMEDIATE"]
    assert second == ["DEFERRED"]
    async with world.factory() as s:
        meeting = await MeetingRepository(s).get(meeting_id)
        assert meeting is not None and meeting.announce_message_id == 901


async def test_planned_meetings_are_not_pending_for_a_group_edit(engine: AsyncEngine) -> None:
    world = await meeting_world(engine, GROUP)
    since = world.clock.now()
    async with world.factory() as s, s.begin():
        made = await generate_plan(s, world.clock, branch_ids=[world.org.b1])
    assert made.created  # the plan wrote planned meetings just now...
    async with world.factory() as s:
        assert await MeetingRepository(s).changed_since(since) == set()  # ...none to edit


async def test_two_passes_at_once_take_turns_and_edit_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's pass and one asked for meanwhile overlapped on the same editor: the second
    cleared the moved messages the first was writing ("dictionary changed size during
    iteration", seen in an end-to-end run). Passes now take turns."""
    world, meeting_id = await _announced(engine)
    async with world.factory() as s, s.begin():
        await svc.record_rsvp(s, world.clock, meeting_id, MEM1, "yes")
    made: list[tuple[int, int]] = []

    async def _edit(chat: int, message: int, _text: str, _markup: dict[str, Any]) -> None:
        made.append((chat, message))

    live = LiveCounts()
    second: list[asyncio.Task[int]] = []
    write = MeetingRepository.set_announcement

    async def _slow_write(repo: MeetingRepository, *args: Any) -> Any:
        # The first pass is writing the moved message: another pass is asked for now.
        if not second:
            second.append(asyncio.create_task(live.flush(world.factory, world.ctx, _edit)))
        for _ in range(20):
            await asyncio.sleep(0)
        return await write(repo, *args)

    monkeypatch.setattr(MeetingRepository, "set_announcement", _slow_write)
    await live.flush(world.factory, world.ctx, _edit)
    await second[0]
    assert made == [(GROUP, 901)]
    async with world.factory() as s:
        meeting = await MeetingRepository(s).get(meeting_id)
        assert meeting is not None and meeting.announce_message_id == 901
