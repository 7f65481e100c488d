"""The limiter alone, on simulated time: limits hold, priorities jump ahead, nothing starves."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.cli import main as cli_main
from bot.cli_text import Say
from bot.outbox import OutboxMessage, enqueue
from bot.outbox.limiter import ChatScheduler, GlobalPacer, LimitConfig
from storage.db import create_engine, create_session_factory


def run(sched: ChatScheduler, until: float, step: float = 0.01) -> list[tuple[float, int, str]]:
    """Pick whatever may leave every `step` seconds; each request completes instantly."""
    out: list[tuple[float, int, str]] = []
    t = 0.0
    while t < until:
        while (picked := sched.pick(t)) is not None:
            chat_id, item = picked
            out.append((t, chat_id, item))
            sched.done(chat_id, t)
        t += step
    return out


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-3, 3).filter(bool), st.integers(0, 2)), max_size=120),
)
def test_chat_limits_hold_for_any_backlog(pushes: list[tuple[int, int]]) -> None:
    cfg = LimitConfig(private_rate=1.0, private_burst=3, group_per_min=20)
    sched = ChatScheduler(cfg)
    for i, (chat, prio) in enumerate(pushes):
        sched.push(chat, prio, f"m{i}", 0.0)
    sent = run(sched, until=400.0, step=0.05)
    assert sorted(x for _t, _c, x in sent) == sorted(f"m{i}" for i in range(len(pushes)))
    per_chat: dict[int, list[float]] = {}
    for t, chat, _x in sent:
        per_chat.setdefault(chat, []).append(t)
    for chat, times in per_chat.items():
        for i, t in enumerate(times):
            # Token bucket: never more than burst + rate * elapsed.
            assert i + 1 <= 3 + t * 1.0 + 1e-9
            if chat < 0:  # groups: at most 20 in any 60 s window
                window = [u for u in times if t - 60.0 < u <= t]
                assert len(window) <= 20


def test_urgent_message_jumps_a_broadcast_backlog_without_starving_it() -> None:
    sched = ChatScheduler()
    for chat in range(1, 501):
        sched.push(chat, 2, f"b{chat}", 0.0)
    for _ in range(10):
        assert sched.pick(0.0) is not None
    sched.push(9999, 0, "urgent", 0.0)
    picked = sched.pick(0.0)
    assert picked == (9999, "urgent")
    # A steady stream of interactive messages still leaves broadcasts a share.
    kinds: Counter[str] = Counter()
    for i in range(170):
        sched.push(10_000 + i, 0, f"i{i}", 0.0)
        sched.push(20_000 + i, 0, f"j{i}", 0.0)
        got = sched.pick(0.0)
        assert got is not None
        kinds[str(got[1])[0]] += 1
    assert kinds["b"] >= 10 and kinds["i"] + kinds["j"] >= 150


def test_retry_after_blocks_the_chat_until_it_passes() -> None:
    sched = ChatScheduler()
    sched.push(5, 1, "a", 0.0)
    chat, item = sched.pick(0.0) or (0, "")
    sched.done(chat, 0.1, retry_after=7, requeue=(1, item))
    sched.push(6, 1, "other chat", 0.1)
    assert sched.pick(0.2) == (6, "other chat")  # other chats are not stalled
    assert sched.pick(7.0) is None
    assert sched.next_wakeup(7.0) is not None
    assert sched.pick(7.2) == (5, "a")


def test_global_pacer_paces_evenly_and_slows_after_429() -> None:
    pacer = GlobalPacer(100.0, burst=1.0, spread=1.0)
    t, sends = 0.0, 0
    while t < 1.0:
        if pacer.wait(t) <= 0:
            pacer.take(t)
            pacer.finish(t)
            sends += 1
        t += 0.001
    assert 99 <= sends <= 101
    pacer.slow_down(1.0)
    assert pacer.factor < 1.0
    pacer.wait(10.0)
    assert pacer.factor == 1.0  # recovered


@settings(max_examples=60, deadline=None)
@given(
    latencies=st.lists(st.floats(0.0, 0.3), min_size=50, max_size=400),
    arrival=st.lists(st.floats(0.0, 1.0), min_size=50, max_size=400),
    refused=st.lists(st.booleans(), min_size=50, max_size=400),
)
def test_global_pacer_never_exceeds_the_servers_window_whatever_the_jitter(
    latencies: list[float], arrival: list[float], refused: list[bool]
) -> None:
    """The server counts a request at any moment between its departure and its answer."""
    rate = 20.0
    pacer = GlobalPacer(rate, burst=5.0)
    pending: list[tuple[float, float, bool]] = []  # (answer at, counted at, refused)
    counted_at: list[float] = []
    t, i = 0.0, 0
    while i < len(latencies) or pending:
        for p in [p for p in pending if p[0] <= t]:
            pending.remove(p)
            pacer.finish(t, counted=not p[2])
        if i < len(latencies) and pacer.wait(t) <= 0:
            pacer.take(t)
            latency = latencies[i]
            at_server = t + latency * arrival[i % len(arrival)]
            refuse = refused[i % len(refused)]
            if not refuse:
                counted_at.append(at_server)
            pending.append((t + latency, at_server, refuse))
            i += 1
            continue
        t = round(t + 0.001, 6)
    counted_at.sort()
    for k, start in enumerate(counted_at):
        in_window = [c for c in counted_at[k:] if c < start + 1.0]
        assert len(in_window) <= rate


def test_cli_outbox_counts_and_retry_failed(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        engine: AsyncEngine = create_engine(database_url)
        sf = create_session_factory(engine)
        async with sf() as s, s.begin():
            await enqueue(s, OutboxMessage(chat_id=1, text="a"))
            await enqueue(s, OutboxMessage(chat_id=2, text="b"))
            await s.execute(
                text("UPDATE outbox SET state='failed', finished_at=created_at WHERE chat_id=2")
            )
        await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli_main(["outbox"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if ln.strip()}
    assert lines["pending"] == "1" and lines["failed"] == "1"
    assert cli_main(["outbox", "retry-failed", "--since", "2000-01-01T00:00"]) == 0
    assert Say("vi")("op.outbox.requeued", n=1) in capsys.readouterr().out
    assert cli_main(["outbox"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if ln.strip()}
    assert lines["pending"] == "2" and lines["failed"] == "0"
