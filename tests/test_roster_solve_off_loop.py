"""A roster's CP-SAT work runs in a worker thread, never on the event loop: a district's solve
takes 0.4-1 s, and on the loop it froze every answer to people for that long (the drafts job
and a leader's draft alike, and the repair after a moved meeting)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import meetings as mtg
from bot.services.rosters import planning, repair
from tests.helpers import local
from tests.roster_world import live_visits, roster_world


def _recording(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[threading.Thread]:
    """Replace `module.name` by a wrapper noting the thread each call ran on."""
    threads: list[threading.Thread] = []
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return threads


async def test_a_draft_is_solved_off_the_event_loop(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    solves = _recording(monkeypatch, planning, "solve")
    await roster_world(engine, published=False)  # makes the quarter's draft
    assert solves and threading.current_thread() not in solves


async def test_a_repair_is_solved_off_the_event_loop(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rw = await roster_world(engine)
    solves = _recording(monkeypatch, repair, "solve")
    async with rw.w.factory() as s:
        visit = (await live_visits(s, rw.roster_id))[0]
    async with rw.w.factory() as s, s.begin():
        admin = await rw.actor(s, "ADMIN")
        assert visit.meeting_id is not None
        await mtg.reschedule_meeting(
            s, admin, rw.w.ctx, visit.meeting_id, starts_at=local(2027, 1, 12, 8, 0)
        )
    assert solves and threading.current_thread() not in solves
