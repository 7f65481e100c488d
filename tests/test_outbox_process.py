"""Senders in real OS processes: a kill -9 mid-run, and two senders sharing PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sandbox.state import DEFAULT_TOKEN
from sandbox.testing import SandboxHandle, run_sandbox
from storage.db import create_engine, create_session_factory
from storage.models import OutboxEntry
from tests.test_outbox import counts, delivered_texts, enqueue_many, wait_all_final

# Real processes on a 2-core machine: 46-55 s alone, over 120 s while the suite's other workers
# run. The suite-wide 120 s ends a worker outright (`timeout_method = "thread"`), which showed
# as a crashed worker with no traceback and left the sender child running.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parent.parent
WORKER = """
import asyncio, signal, sys
from datetime import timedelta
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from bot.outbox import Sender, SenderConfig
from storage.db import create_engine, create_session_factory

async def main(url, api, token, rate, lease):
    engine = create_engine(url)
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    config = SenderConfig(global_per_sec=rate, per_chat_per_sec=50, per_group_per_min=1200,
                          poll_interval=0.05, lease=timedelta(seconds=lease), recover_every=0.3,
                          request_timeout=5, max_in_flight=32)
    sender = Sender(bot, create_session_factory(engine), config=config)
    await sender.start()
    print("started", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await sender.stop()
    await bot.session.close()
    await engine.dispose()
    print("sent", sender.stats.sent, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
"""


async def start_worker(
    tmp_path: Path, url: str, sb: SandboxHandle, rate: float, lease: float = 1.0
) -> asyncio.subprocess.Process:
    script = tmp_path / "sender_worker.py"
    script.write_text(WORKER)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        url,
        sb.base_url,
        DEFAULT_TOKEN,
        str(rate),
        str(lease),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        # Generous: start-up imports can be slow on a loaded 2-core CI machine.
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line.strip() == b"started"
    except BaseException:
        # Never leave a process (and its transport) behind for a later test to trip over.
        proc.kill()
        await proc.wait()
        raise
    return proc


async def stop_worker(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    assert proc.stdout is not None
    out = (await asyncio.wait_for(proc.stdout.read(), 30)).decode()
    assert await proc.wait() == 0
    return int(out.split("sent", 1)[1].split()[0])


async def test_kill_9_mid_run_then_restart(database_url: str, tmp_path: Path) -> None:
    """800 messages; the sender is killed after ~240 deliveries and started again.

    Guarantee: claimed-but-unsent rows are sent once; rows `sending` at the kill are resent
    (reminders: at most one duplicate each) or end maybe_sent (broadcasts: never twice).
    """
    engine = create_engine(database_url)
    sf = create_session_factory(engine)
    users = list(range(10_000, 10_400))
    items = [(u, "reminder", f"r{u}") for u in users] + [(u, "broadcast", f"b{u}") for u in users]
    try:
        async with run_sandbox() as sb:
            for u in users:
                sb.add_user(u, "U", started=True)
            await enqueue_many(sf, items)
            first = await start_worker(tmp_path, database_url, sb, rate=300)
            await sb.wait_for(lambda: True if len(sb.sent_log()) >= 240 else None, timeout=60)
            first.kill()
            await first.wait()
            delivered_before = len(sb.sent_log())
            async with sf() as s:
                in_flight = (
                    await s.scalars(select(OutboxEntry).where(OutboxEntry.state == "sending"))
                ).all()
            at_crash = await counts(sf)
            second = await start_worker(tmp_path, database_url, sb, rate=300)
            final = await wait_all_final(sf, len(items), within=90)
            await stop_worker(second)
            seen = delivered_texts(sb, users)
        async with sf() as s:
            rows = {r.text: r for r in (await s.scalars(select(OutboxEntry))).all()}
    finally:
        await engine.dispose()
    assert 240 <= delivered_before < len(items)
    inflight_reminders = {r.text for r in in_flight if r.kind == "reminder"}
    inflight_broadcasts = {r.text for r in in_flight if r.kind == "broadcast"}
    duplicates = {t: n - 1 for t, n in seen.items() if n > 1}
    print(
        f"\ncrash tally: at kill {at_crash}, delivered before kill {delivered_before}, "
        f"in flight {len(in_flight)}; final {final}; duplicates {len(duplicates)}"
    )
    # Reminders: every one delivered; duplicates only among those in flight, at most one each.
    assert all(seen[f"r{u}"] >= 1 for u in users)
    assert set(duplicates) <= inflight_reminders
    assert all(n == 1 for n in duplicates.values())
    assert all(rows[t].uncertain_attempts == 1 for t in inflight_reminders)
    # Broadcasts: never twice; those in flight at the kill are maybe_sent, all others sent.
    assert all(seen[f"b{u}"] <= 1 for u in users)
    maybe = {t for t, r in rows.items() if r.state == "maybe_sent"}
    assert maybe == inflight_broadcasts
    assert all(rows[t].state == "sent" for t in rows if t not in maybe)
    assert all(seen[t] == 1 for t in rows if t not in maybe and t not in duplicates)
    assert final.get("sent", 0) + final.get("maybe_sent", 0) == len(items)


@pytest.fixture
def pg_url(db_templates: Any) -> Iterator[str]:
    from tests.conftest import pg_database

    with pg_database(db_templates) as url:
        yield url


async def test_two_processes_on_postgresql_deliver_each_message_once(
    pg_url: str, tmp_path: Path
) -> None:
    engine = create_engine(pg_url)
    sf = create_session_factory(engine)
    users = list(range(20_000, 21_500))
    items = [(u, "broadcast", f"m{u}") for u in users]
    try:
        async with run_sandbox() as sb:
            for u in users:
                sb.add_user(u, "U", started=True)
            await enqueue_many(sf, items)
            procs = await asyncio.gather(
                start_worker(tmp_path, pg_url, sb, rate=250, lease=30),
                start_worker(tmp_path, pg_url, sb, rate=250, lease=30),
            )
            final = await wait_all_final(sf, len(items), within=90)
            sent_by = await asyncio.gather(*(stop_worker(p) for p in procs))
            seen = delivered_texts(sb, users)
    finally:
        await engine.dispose()
    assert final == {"sent": len(items)}
    assert all(seen[f"m{u}"] == 1 for u in users)
    assert sum(sent_by) == len(items) and min(sent_by) > 0, sent_by
