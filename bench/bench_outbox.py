"""Outbox throughput: N messages to N chats through the sandbox with its global limit on.

Runs, each against a fresh sandbox served from its own OS process, as Telegram would be
(`--same-process` serves it from the bench's event loop, where it shares the sender's core):
  raw      a bare aiogram send loop paced at the limit, no outbox (the baseline);
  outbox   the durable outbox + sender (SQLite file database by default);
  faults   the same with 5% 5xx and 1% bad gateways injected, and 0.5% of the chats blocked;
  faults+429  and also 1% 429 with retry_after 1 s;
  redis    the outbox run with the global limit shared through Redis (as several processes
           would), to show what the shared window costs.
The theoretical minimum is N / limit seconds. Prints sent/s, the ratio to the limit, p50/p95
delay from due (every message is made due as the sender starts) to delivered, losses,
duplicates, 429s and retry_after violations. A 429 at time t for a chat means nobody can finish
before t + retry_after: with 1% of requests refused so, one lands in the last second of nearly
every run, so `faults+429` also prints that floor (the last 429's answer + its retry_after) and
the time over it.

    python -m bench outbox [--messages 5000] [--rate 300] [--backend sqlite|postgresql|both]
                           [--repeat 1] [--same-process] [--skip-raw] [--skip-redis]

The clock is fixed (`bench.common.BENCH_AT`, in the sandbox's process too); the `redis` run
needs Redis on 127.0.0.1:6379 (or `--skip-redis`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession, web
from sqlalchemy import select, update

from bench.common import (
    REDIS_DEFAULT,
    fixed_clock,
    follow_clock,
    new_pg_database,
    require_postgresql,
    require_redis,
)
from bot.clock import SystemClock
from bot.outbox import OutboxMessage, Sender, SenderConfig, enqueue
from sandbox.server import create_app
from sandbox.state import DEFAULT_TOKEN, BotWorld, Sandbox
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.models import OutboxEntry

REDIS_URL = REDIS_DEFAULT
FIRST_CHAT = 1_000_000
SEED = 11
ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from aiogram import Bot


FAULTS = ("", "faults", "faults+429")


def _setup_world(world: BotWorld, n: int, rate: float, faults: str) -> list[int]:
    chats = list(range(FIRST_CHAT, FIRST_CHAT + n))
    for chat in chats:
        world.add_user(chat, "U", started=True)
    world.set_flood(True, global_per_sec=rate, per_chat_per_sec=1, per_group_per_min=20)
    if faults:
        world.add_fault("server_error", probability=0.05, status=500)
        world.add_fault("bad_gateway", probability=0.01)
        for chat in chats[::200]:
            world.add_fault("blocked", chat_id=chat)
    if faults == "faults+429":
        world.add_fault("retry_after", probability=0.01, retry_after=1)
    return chats


def _tally(world: BotWorld, chats: list[int]) -> dict[str, int]:
    seen: Counter[str] = Counter()
    for chat in chats:
        for msg in world.bot_messages(chat):
            seen[msg.get("text", "")] += 1
    limits = world.rate_limit_log()
    return {
        "delivered": len(seen),
        "duplicates": sum(n - 1 for n in seen.values()),
        "429s": len(limits["issued"]),
        "violations": len(limits["violations"]),
    }


class _Served:
    """A sandbox being served (in this process or another): its address and its tally."""

    def __init__(self, base_url: str, chats: list[int], world: BotWorld | None) -> None:
        self.base_url = base_url
        self.chats = chats
        self.world = world

    def bot(self) -> Bot:
        from aiogram import Bot
        from aiogram.client.telegram import TelegramAPIServer

        from bot.telegram import BotSession

        session = BotSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(DEFAULT_TOKEN, session=session)

    async def tally(self) -> dict[str, int]:
        if self.world is not None:
            return _tally(self.world, self.chats)
        async with ClientSession() as http, http.get(f"{self.base_url}/bench/tally") as resp:
            return dict(await resp.json())


async def _start_app(sandbox: Sandbox, chats: list[int]) -> tuple[web.AppRunner, int]:
    app = create_app(sandbox)

    async def tally(_request: web.Request) -> web.Response:
        return web.json_response(_tally(sandbox.world(), chats))

    app.router.add_get("/bench/tally", tally)
    runner = web.AppRunner(app, shutdown_timeout=2.0, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@contextlib.asynccontextmanager
async def _sandbox(n: int, rate: float, faults: str, in_process: bool) -> AsyncIterator[_Served]:
    if in_process:
        sandbox = Sandbox(seed=SEED)
        chats = _setup_world(sandbox.world(), n, rate, faults)
        runner, port = await _start_app(sandbox, chats)
        try:
            yield _Served(f"http://127.0.0.1:{port}", chats, sandbox.world())
        finally:
            await runner.cleanup()
        return
    args = ["-m", "bench.bench_outbox", "--serve", str(n), str(rate)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        *(["--faults", faults] if faults else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process ended before serving (its error is above)")
        port = int(json.loads(line)["port"])
        chats = list(range(FIRST_CHAT, FIRST_CHAT + n))
        yield _Served(f"http://127.0.0.1:{port}", chats, None)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops at the end of its input
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _serve(n: int, rate: float, faults: str) -> None:
    """The sandbox process: set up the world, print the port, serve until stdin closes."""
    sandbox = Sandbox(seed=SEED)
    chats = _setup_world(sandbox.world(), n, rate, faults)
    runner, port = await _start_app(sandbox, chats)
    # Telegram does not stop for a quarter of a second to collect the 5,000-chat world.
    gc.collect()
    gc.freeze()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()


async def bench_raw(n: int, rate: float, in_process: bool) -> dict[str, Any]:
    """Baseline: the fastest a plain paced aiogram loop gets through the same sandbox."""
    async with _sandbox(n, rate, "", in_process) as sb:
        chats = sb.chats
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
        tally = await sb.tally()
    errors = sum(isinstance(r, Exception) for r in results)
    return {"elapsed": elapsed, "errors": errors, **tally}


async def _nothing() -> None:
    return None


async def _database(backend: str, tmp: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    """The run's database and how to drop it."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'outbox_{uuid.uuid4().hex[:6]}.db'}", _nothing
    return await new_pg_database("bench_outbox")


async def bench_outbox(
    n: int, rate: float, backend: str, faults: str, in_process: bool = False, shared: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_outbox_") as tmp:
        url, drop = await _database(backend, Path(tmp))
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sf = create_session_factory(engine)
            async with _sandbox(n, rate, faults, in_process) as sb:
                chats = sb.chats
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
                window = None
                if shared:  # the global limit kept in Redis, as several processes would
                    from redis.asyncio import Redis

                    from bot.outbox.shared import SharedWindow

                    key = f"bench:outbox:window:{uuid.uuid4().hex}"
                    window = SharedWindow(Redis.from_url(REDIS_URL), key, rate, hold=10.0)
                sender = Sender(bot, sf, config=config, shared=window)
                async with sf() as s, s.begin():  # all due at once, as one broadcast would be
                    now = SystemClock().now()
                    await s.execute(update(OutboxEntry).values(not_before=now, next_attempt_at=now))
                gc.collect()
                gc.freeze()  # as the bot does after start-up: no long collections of the fixtures
                started = time.perf_counter()
                mono_started = time.monotonic()
                await sender.start()
                cap = started + max(600.0, 20 * n / rate)  # a hang becomes a message
                while sender.stats.sent + sender.stats.failed + sender.stats.maybe_sent < n:  # noqa: ASYNC110 - a progress poll
                    if time.perf_counter() > cap:
                        raise RuntimeError(
                            f"the sender finished {sender.stats.sent} of {n} messages in "
                            f"{cap - started:.0f} s"
                        )
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
                floor = max(0.0, sender.stats.retry_after_until - mono_started)
                await sender.stop()
                await bot.session.close()
                tally = await sb.tally()
            async with sf() as s:
                rows = (await s.scalars(select(OutboxEntry))).all()
        finally:
            await engine.dispose()
            await drop()
    delays = sorted((r.finished_at - r.not_before).total_seconds() for r in rows if r.finished_at)
    states = Counter(r.state for r in rows)
    return {
        "elapsed": elapsed,
        "floor": floor,
        "failed": states.get("failed", 0),
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
    failed = r.get("failed", 0)
    lost = n - r["delivered"] - failed
    ok = r["elapsed"] <= minimum * 1.05 and lost == 0 and r["duplicates"] == 0
    line = (
        f"{label:<17} {r['elapsed']:6.2f}s {sent_per_s:6.1f} sent/s  "
        f"ratio to limit {sent_per_s / rate:5.3f}  time/minimum {r['elapsed'] / minimum:5.3f} "
        f"({'within' if ok else 'NOT within'} 5%)  delivered {r['delivered']}/{n} "
        f"failed {failed} lost {lost} dup {r['duplicates']} 429s {r['429s']} "
        f"violations {r['violations']}"
    )
    if r.get("floor", 0) > minimum:
        line += f"  (last 429 floor {r['floor']:.2f}s, time/floor {r['elapsed'] / r['floor']:5.3f})"
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
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=1, help="run each case this many times")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-redis", action="store_true", help="no run through Redis")
    parser.add_argument(
        "--same-process", action="store_true", help="serve the sandbox from this event loop"
    )
    parser.add_argument("--serve", nargs=2, metavar=("N", "RATE"), help=argparse.SUPPRESS)
    parser.add_argument("--faults", choices=FAULTS[1:], help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])
    if args.serve:  # the sandbox process of a run (see `_sandbox`), on the parent's clock
        with follow_clock():
            asyncio.run(_serve(int(args.serve[0]), float(args.serve[1]), args.faults or ""))
        return 0
    n, rate, local = args.messages, args.rate, args.same_process
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    if "postgresql" in backends:
        require_postgresql()
    if not args.skip_redis:
        require_redis(REDIS_URL, hint=" or pass --skip-redis")
    with fixed_clock():
        _runs(args, n, rate, local, backends)
    return 0


def _runs(
    args: argparse.Namespace, n: int, rate: float, local: bool, backends: tuple[str, ...]
) -> None:
    print(
        f"{n} messages to {n} chats, sandbox global limit {rate}/s "
        f"({'same process' if local else 'own process'}), theoretical minimum "
        f"{n / rate:.2f}s, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for _ in range(args.repeat):
        if not args.skip_raw:
            _report("raw", n, rate, asyncio.run(bench_raw(n, rate, local)))
        for backend in backends:
            for faults in FAULTS:
                label = f"{faults or 'outbox'} {backend}"
                result = asyncio.run(bench_outbox(n, rate, backend, faults, local))
                _report(label, n, rate, result)
            if not args.skip_redis:
                label = f"redis {backend}"
                result = asyncio.run(bench_outbox(n, rate, backend, "", local, True))
                _report(label, n, rate, result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
