"""Outbox throughput: N messages to N chats through the sandbox with its global limit on.

Runs, in one process and one sandbox each:
  raw      a bare aiogram send loop paced at the limit, no outbox (the baseline);
  outbox   the durable outbox + sender (SQLite file database by default);
  faults   the same with 1% 429 (retry_after 1 s), 5% 5xx and 1% bad gateways injected.
The theoretical minimum is N / limit seconds. Prints sent/s, the ratio to the limit, p50/p95
delay from due to delivered, losses, duplicates, 429s and retry_after violations.

    python -m bench outbox [--messages 5000] [--rate 300] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.outbox import OutboxMessage, Sender, SenderConfig, enqueue
from sandbox.testing import SandboxHandle, run_sandbox
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.models import OutboxEntry

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/"
FIRST_CHAT = 1_000_000


def _setup_world(sb: SandboxHandle, n: int, rate: float) -> list[int]:
    chats = list(range(FIRST_CHAT, FIRST_CHAT + n))
    for chat in chats:
        sb.add_user(chat, "U", started=True)
    sb.set_flood(True, global_per_sec=rate, per_chat_per_sec=1, per_group_per_min=20)
    return chats


def _tally(sb: SandboxHandle, chats: list[int]) -> dict[str, int]:
    seen: Counter[str] = Counter()
    for chat in chats:
        for msg in sb.bot_messages(chat):
            seen[msg.get("text", "")] += 1
    limits = sb.rate_limit_log()
    return {
        "delivered": len(seen),
        "duplicates": sum(n - 1 for n in seen.values()),
        "429s": len(limits["issued"]),
        "violations": len(limits["violations"]),
    }


async def bench_raw(n: int, rate: float) -> dict[str, Any]:
    """Baseline: the fastest a plain paced aiogram loop gets through the same sandbox."""
    async with run_sandbox() as sb:
        chats = _setup_world(sb, n, rate)
        bot = sb.bot()
        interval = 1.0 / (rate * 0.97)
        started = time.perf_counter()
        tasks = []
        for i, chat in enumerate(chats):
            delay = started + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(bot.send_message(chat, f"m{i}")))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        await bot.session.close()
        tally = _tally(sb, chats)
    errors = sum(isinstance(r, Exception) for r in results)
    return {"elapsed": elapsed, "errors": errors, **tally}


async def _database(backend: str, tmp: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'outbox_{uuid.uuid4().hex[:6]}.db'}", None
    import asyncpg

    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return PG_BASE + name, name


async def _drop(name: str | None) -> None:
    if name is None:
        return
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def bench_outbox(n: int, rate: float, backend: str, faults: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_outbox_") as tmp:
        url, pg_name = await _database(backend, Path(tmp))
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sf = create_session_factory(engine)
            async with run_sandbox(seed=11) as sb:
                chats = _setup_world(sb, n, rate)
                if faults:
                    sb.add_fault("retry_after", probability=0.01, retry_after=1)
                    sb.add_fault("server_error", probability=0.05, status=500)
                    sb.add_fault("bad_gateway", probability=0.01)
                async with sf() as s, s.begin():
                    for i, chat in enumerate(chats):
                        await enqueue(
                            s, OutboxMessage(chat_id=chat, text=f"m{i}", kind="broadcast")
                        )
                bot = sb.bot()
                config = SenderConfig(
                    global_per_sec=rate,
                    poll_interval=0.05,
                    backoff_base=0.2,
                    backoff_cap=2.0,
                    max_held=2000,
                )
                sender = Sender(bot, sf, config=config)
                started = time.perf_counter()
                await sender.start()
                while sender.stats.sent + sender.stats.failed + sender.stats.maybe_sent < n:  # noqa: ASYNC110 - a progress poll
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
                await sender.stop()
                await bot.session.close()
                tally = _tally(sb, chats)
            async with sf() as s:
                rows = (await s.scalars(select(OutboxEntry))).all()
        finally:
            await engine.dispose()
            await _drop(pg_name)
    delays = sorted((r.finished_at - r.not_before).total_seconds() for r in rows if r.finished_at)
    states = Counter(r.state for r in rows)
    return {
        "elapsed": elapsed,
        "states": dict(states),
        "p50": statistics.median(delays),
        "p95": delays[int(len(delays) * 0.95) - 1],
        "retry_after": sender.stats.retry_after,
        "transient": sender.stats.transient,
        **tally,
    }


def _report(label: str, n: int, rate: float, r: dict[str, Any]) -> None:
    minimum = n / rate
    sent_per_s = r["delivered"] / r["elapsed"]
    line = (
        f"{label:<8} {r['elapsed']:7.2f}s  {sent_per_s:7.1f} sent/s  "
        f"ratio to limit {sent_per_s / rate:5.3f}  time/minimum {r['elapsed'] / minimum:5.3f}  "
        f"delivered {r['delivered']}/{n} dup {r['duplicates']} 429s {r['429s']} "
        f"violations {r['violations']}"
    )
    if "p50" in r:
        line += (
            f"  p50 {r['p50']:.2f}s p95 {r['p95']:.2f}s states {r['states']} "
            f"(retried 429 {r['retry_after']}, 5xx {r['transient']})"
        )
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench outbox")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--skip-raw", action="store_true")
    args = parser.parse_args(argv or [])
    n, rate = args.messages, args.rate
    print(
        f"{n} messages to {n} chats, sandbox global limit {rate}/s, backend {args.backend}; "
        f"theoretical minimum {n / rate:.2f}s"
    )
    if not args.skip_raw:
        _report("raw", n, rate, asyncio.run(bench_raw(n, rate)))
    _report("outbox", n, rate, asyncio.run(bench_outbox(n, rate, args.backend, False)))
    _report("faults", n, rate, asyncio.run(bench_outbox(n, rate, args.backend, True)))
    return 0
