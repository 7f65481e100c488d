"""What every benchmark shares: the sample organisation, a fixed clock, waiting for the bot
to be ready, and saying why a benchmark cannot run.

- Data: the project's own generator (`bot.sample_org`), written into the benchmark's temp
  folder; "district" is its default district (seed 0), "city" 30 districts of it.
- Time is an input, as in the tests: a benchmark runs at a stated instant (`fixed_clock`,
  ticking, so rates and timeouts still see real seconds), so its figures do not depend on the
  day it runs. A sandbox served from a child process follows the same clock (`follow_clock`).
- A missing prerequisite (PostgreSQL, Redis) raises `CannotRun` with what is missing and how
  to provide it; `python -m bench` prints it and exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import time_machine

from bot.sample_org import write_sample
from bot.services.vn_calendar import VN_TZ

if TYPE_CHECKING:
    from bot.app import App

# A Wednesday morning in an ordinary month: no holiday moves a meeting of the coming months
# (the plan job would tell every branch), no meeting is due within days (no reminders or
# "not scheduled yet" nudges), no quarter starts within ten days (no roster drafts). Benchmarks
# that measure a moment of their own (the roster's quarter, the nudges' sweep) state theirs.
BENCH_AT = datetime(2027, 6, 16, 9, 0, tzinfo=VN_TZ)
CLOCK_ENV = "BENCH_CLOCK_OFFSET"  # seconds from the real clock, for child processes
SEED = 0
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


class CannotRun(Exception):
    """A prerequisite of the benchmark is missing; the message says which and what to do."""


# Data ---------------------------------------------------------------------------------------


def sample_district(folder: Path) -> Path:
    """The generator's default district (seed 0): ~7,000 members, 274 branches."""
    write_sample(folder, districts=1, seed=SEED)
    return folder


def sample_city(folder: Path, districts: int) -> Path:
    """`districts` districts side by side (30: ~8,200 branches, ~209,000 members)."""
    write_sample(folder, districts=districts, seed=SEED)
    return folder


# Clock --------------------------------------------------------------------------------------


def real_time() -> float:
    """The real clock's reading, even inside another traveller (a test's)."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.time.time()
    return time.time()


@contextlib.contextmanager
def fixed_clock(at: datetime = BENCH_AT) -> Iterator[datetime]:
    """Run at `at` (the clock ticks on from there); child processes started inside follow."""
    offset = at.timestamp() - real_time()
    shown = at.astimezone(VN_TZ).isoformat(" ", "minutes")
    print(f"clock fixed at {shown} (not the day it runs)", flush=True)
    previous = os.environ.get(CLOCK_ENV)
    with time_machine.travel(at, tick=True):
        time.time()  # time-machine starts the ticking clock at its first reading: now
        os.environ[CLOCK_ENV] = repr(offset)
        try:
            yield at
        finally:
            if previous is None:
                os.environ.pop(CLOCK_ENV, None)
            else:
                os.environ[CLOCK_ENV] = previous


@contextlib.contextmanager
def follow_clock() -> Iterator[None]:
    """In a child process: the parent's fixed clock, to the microsecond (same offset from the
    real clock), so times measured in both processes can be compared."""
    offset = os.environ.get(CLOCK_ENV)
    if offset is None:
        yield
        return
    with time_machine.travel(real_time() + float(offset), tick=True):
        time.time()  # start ticking now, as the parent did
        yield


# Readiness ----------------------------------------------------------------------------------

# Start-up runs every job's catch-up pass first (for a city: planning ~25,000 meetings), so it
# takes what it takes on a busy machine; this cap only turns a hang into a message.
START_CAP = 900.0


def watch_startup(app: App) -> asyncio.Event:
    """An event set when the dispatcher's start-up is done (commands, components, scheduler):
    register before polling starts."""
    ready = asyncio.Event()

    async def _ready() -> None:
        ready.set()

    app.dp.startup.register(_ready)  # after the app's own start-up handler
    return ready


async def wait_started(
    ready: asyncio.Event, polling: asyncio.Task[Any], cap: float = START_CAP
) -> None:
    """Wait for `ready`; fail with what did not happen if polling ended first or `cap` passed."""
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, polling}, timeout=cap, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter in done:
        return
    waiter.cancel()
    if polling in done:
        raise RuntimeError("the bot stopped before its start-up finished") from polling.exception()
    raise RuntimeError(
        f"the bot's start-up (commands, outbox sender, every job's catch-up pass, scheduler) "
        f"did not finish within {cap:.0f} s"
    )


# Prerequisites ------------------------------------------------------------------------------


def pg_admin_dsn() -> str:
    """The PostgreSQL server's maintenance database, as asyncpg takes it."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or ""
    if not url:
        return PG_DEFAULT
    parts = urlsplit(url.replace("+asyncpg", ""))
    return parts._replace(path="/postgres").geturl()


async def new_pg_database(prefix: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh PostgreSQL database: its SQLAlchemy URL and the coroutine that drops it."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = pg_admin_dsn()
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(admin)
        try:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await c.close()

    url = urlsplit(admin)._replace(scheme="postgresql+asyncpg", path=f"/{name}").geturl()
    return url, drop


def require_postgresql() -> None:
    """Raise `CannotRun` unless PostgreSQL answers."""
    import asyncpg

    dsn = pg_admin_dsn()

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        where = urlsplit(dsn)
        raise CannotRun(
            f"PostgreSQL is not reachable at {where.hostname}:{where.port or 5432} ({exc}); "
            "start it, set BENCH_DATABASE_URL, or choose --backend sqlite where offered"
        ) from None


def require_redis(url: str = REDIS_DEFAULT, hint: str = "") -> None:
    """Raise `CannotRun` unless Redis answers."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    async def probe() -> None:
        client = Redis.from_url(url, socket_connect_timeout=10)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(probe())
    except (OSError, RedisError) as exc:
        raise CannotRun(f"Redis is not reachable at {url} ({exc}); start it{hint}") from None
