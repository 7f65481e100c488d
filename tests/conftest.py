"""Shared fixtures.

`database_url` runs a test once on SQLite and once on PostgreSQL. Each test gets its own fresh
database: a copy of a template file migrated once per run on SQLite; on PostgreSQL one of the
worker's databases reset to the state the test asks for (`tests/pgpool.py`: dropping a database
per test cost a forced checkpoint each). Tests are isolated and still fast. PostgreSQL being
unreachable is an error, never a skip: CI must not pass with half the suite silently missing.

Time is an input of every test: `fixed_clock` (autouse) runs each test at `DEFAULT_START` (or at
`TEST_CLOCK_START`, which `make test-dates` sets to hard days), ticking; a test that needs another
instant travels there itself (`time_machine.travel` nests). `_wall_clock_guard` fails a test in
which the bot's clock was read while no traveller was active (code outliving its test, an escape
hatch), so the real date can never decide what a test sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import time
import traceback
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import clock as bot_clock
from bot.app import settle_heap
from bot.app.hooks import subscribe_features
from bot.clock import SystemClock
from storage.db import create_engine
from storage.migrate import upgrade_to_head
from tests.pgpool import EMPTY, PgPool, Populate, across_workers

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
_ran: Counter[str] = Counter()

# An ordinary working Tuesday morning in Hanoi, away from Tết, month and quarter ends.
DEFAULT_START = "2026-11-24T09:30:00+07:00"


def clock_start() -> datetime:
    """The instant every test starts at unless it travels elsewhere (`TEST_CLOCK_START`)."""
    return datetime.fromisoformat(os.environ.get("TEST_CLOCK_START") or DEFAULT_START)


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[time_machine.Traveller]:
    """Every test at a fixed instant of its choosing, never the day it runs (ticking, so waits
    and timeouts behave)."""
    with time_machine.travel(clock_start(), tick=True) as traveller:
        yield traveller
    bot_clock.shift_by(
        -bot_clock.offset()
    )  # a test that shifted the bot's clock leaves no shift behind


@pytest.fixture(autouse=True)
def _wall_clock_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if the bot read the wall clock while no traveller was active."""
    leaks: list[str] = []
    original = SystemClock.now

    def guarded(self: SystemClock) -> datetime:
        if not time_machine.escape_hatch.is_travelling():
            leaks.append("".join(traceback.format_stack(limit=6)[:-1]))
        return original(self)

    monkeypatch.setattr(SystemClock, "now", guarded)
    yield
    assert not leaks, "the real wall clock reached the bot:\n" + leaks[0]


def pg_base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


async def _pg_admin_execute(*statements: str) -> None:
    import asyncpg

    url = make_url(pg_base_url())
    try:
        conn = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database="postgres",
            timeout=10,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"PostgreSQL is required for the test suite and is not reachable at "
            f"{url.render_as_string(hide_password=True)} ({exc}); start it or set "
            "TEST_DATABASE_URL"
        ) from exc
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_url(database: str) -> str:
    return make_url(pg_base_url()).set(database=database).render_as_string(hide_password=False)


class _Templates:
    """Creates each backend's migrated template lazily, once per test run."""

    def __init__(self, tmp_root: Path, shared_root: Path | None = None) -> None:
        self.tmp_root = tmp_root
        # Where the workers of one run keep what one of them built for all (populated worlds).
        self.shared_root = shared_root or tmp_root
        self.run_id = uuid.uuid4().hex[:8]
        self.sqlite_template: Path | None = None
        self.pg_template: str | None = None
        self.pg_databases: list[str] = []
        self._pool: PgPool | None = None

    def sqlite(self) -> Path:
        if self.sqlite_template is None:
            path = self.tmp_root / "template.db"
            asyncio.run(self._migrate(f"sqlite+aiosqlite:///{path}"))
            self.sqlite_template = path
        return self.sqlite_template

    def postgresql(self) -> str:
        if self.pg_template is None:
            name = f"tmpl_{self.run_id}"
            asyncio.run(_pg_admin_execute(f'CREATE DATABASE "{name}"'))
            self.pg_databases.append(name)
            asyncio.run(self._migrate(_pg_url(name)))
            self.pg_template = name
        return self.pg_template

    @staticmethod
    async def _migrate(url: str) -> None:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    def sqlite_world(self, world: str, populate: Populate) -> Path:
        """A SQLite file holding `world`, built by the first worker of the run that needs it."""
        path = self.shared_root / f"sqlite-{world.replace(':', '-')}.db"
        with across_workers(path):
            if not path.exists():
                part = path.with_name(path.name + ".part")
                shutil.copyfile(self.sqlite(), part)
                asyncio.run(populate(f"sqlite+aiosqlite:///{part}"))
                part.rename(path)
        return path

    @property
    def pool(self) -> PgPool:
        """This process's PostgreSQL databases, reset between tests (see `tests/pgpool.py`)."""
        if self._pool is None:
            self._pool = PgPool(
                pg_base_url(), self.run_id, self.postgresql, _table_order, self.shared_root
            )
        return self._pool

    def cleanup(self) -> None:
        if self._pool is not None:
            self._pool.close()
        for name in list(self.pg_databases):
            asyncio.run(_pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _table_order() -> list[str]:
    import storage.models  # noqa: F401  (every table registered)
    from storage.base import Base

    return [table.name for table in Base.metadata.sorted_tables]


@contextlib.contextmanager
def sqlite_database(templates: _Templates, source: Path) -> Iterator[str]:
    """The URL of a SQLite database holding a copy of `source`, for one test.

    A new file each time: a path used again could meet a connection a test left open (an
    aiosqlite thread outlives its loop), and overwriting a file SQLite has open corrupts it.
    """
    path = templates.tmp_root / f"bot-{uuid.uuid4().hex[:12]}.db"
    shutil.copyfile(source, path)
    try:
        yield f"sqlite+aiosqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):  # the disk is not filled over a run
            path.with_name(path.name + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def pg_database(
    templates: _Templates, world: str = EMPTY, populate: Populate | None = None
) -> Iterator[str]:
    """The URL of a PostgreSQL database in `world`'s state, for one test."""
    name = templates.pool.lease(world, populate)
    try:
        yield _pg_url(name)
    finally:
        templates.pool.release(name)


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Every Bot session of a test process shares one TLS context.

    aiogram builds a new one for each session (the CA bundle parsed again, a few hundredths of
    a second); an app opens two, the suite starts thousands of apps and never speaks TLS (the
    sandbox is plain HTTP): 2 % of the suite's CPU went to it.
    """
    import ssl
    from types import SimpleNamespace

    import aiogram.client.session.aiohttp as aiohttp_session
    import certifi

    shared = ssl.create_default_context(cafile=certifi.where())
    real = aiohttp_session.ssl
    aiohttp_session.ssl = SimpleNamespace(create_default_context=lambda **_: shared)  # type: ignore[assignment]
    yield
    aiohttp_session.ssl = real


_engines: dict[str, tuple[AsyncEngine, weakref.ref[asyncio.AbstractEventLoop] | None]] = {}


def shared_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """One engine per PostgreSQL database URL in a test process, for the app and the tests.

    SQLAlchemy keeps compiled statements per engine: with a new engine per test every statement
    a test ran was compiled again (half the CPU of a short end-to-end test). The PostgreSQL
    databases' URLs repeat from test to test (`tests/pgpool.py`), so one engine serves them all.
    Its connections belong to the event loop that opened them: when the engine is asked for in
    another loop (the next test's), its pool is replaced (each test disposes of what it used,
    as the app does at shutdown; a connection left over is ended by the database's reset).
    SQLite files are new for each test (see `sqlite_database`), so each gets its own engine.
    """
    if kwargs or not url.startswith("postgresql"):
        return create_engine(url, **kwargs)
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    known = _engines.get(url)
    if known is None:
        engine = create_engine(url)
    else:
        engine, last = known
        if loop is None or last is None or last() is not loop:
            engine.sync_engine.dispose(close=False)
    _engines[url] = (engine, weakref.ref(loop) if loop is not None else None)
    return engine


@pytest.fixture(scope="session", autouse=True)
def _app_engines_shared() -> Iterator[None]:
    """The app under test takes its engine from `shared_engine` (see there)."""
    import bot.app

    real = bot.app.create_engine
    bot.app.create_engine = shared_engine  # type: ignore[assignment]
    yield
    bot.app.create_engine = real


@pytest.fixture(scope="session", autouse=True)
def _features_subscribed() -> None:
    """Every use case has its production consequences (the meeting-changed hook)."""
    subscribe_features()


@pytest.fixture(scope="session")
def db_templates(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[_Templates]:
    # xdist's workers have their own base folders inside the run's: that one is shared.
    base = tmp_path_factory.getbasetemp()
    worker = hasattr(request.config, "workerinput")
    templates = _Templates(tmp_path_factory.mktemp("db"), base.parent if worker else base)
    yield templates
    templates.cleanup()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    _ran[request.param] += 1
    return str(request.param)


@pytest.fixture
def database_url(db_backend: str, db_templates: _Templates, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test on the parametrized backend."""
    if db_backend == "sqlite":
        with sqlite_database(db_templates, db_templates.sqlite()) as url:
            yield url
        return
    with pg_database(db_templates) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[object]:
    eng = shared_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def pg_database_url(db_templates: _Templates) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database only, for what SQLite has no counterpart of (a
    server connection that can be lost)."""
    _ran["postgresql"] += 1
    with pg_database(db_templates) as url:
        yield url


@pytest.fixture
async def pg_engine(pg_database_url: str) -> AsyncIterator[object]:
    eng = shared_engine(pg_database_url)
    yield eng
    await eng.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _ran:
        parts = ", ".join(f"{name}: {count}" for name, count in sorted(_ran.items()))
        terminalreporter.write_line(f"database backends exercised ({parts} tests)")


# Seconds each slow test took in a recent run (`make durations` rewrites it).
DURATIONS = Path(__file__).with_name("durations.json")
_took: Counter[str] = Counter()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        metavar="PATH",
        help="write each test's seconds (setup, call and teardown; those over 1 s) to PATH",
    )
    parser.addoption(
        "--record-cpu",
        metavar="PATH",
        help="write each test's CPU seconds (its process and the children it waited for) to "
        "PATH.<worker>.jsonl: what the suite costs the machine, unlike wall time under load",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    path = item.config.getoption("--record-cpu")
    if not path:
        return (yield)
    own, kids = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        return (yield)
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = after.ru_utime + after.ru_stime - kids.ru_utime - kids.ru_stime
        took = round(time.process_time() - own + child, 2)
        # A line per test as it ends: a worker that dies keeps what it measured.
        worker = getattr(item.config, "workerinput", {}).get("workerid", "main")
        with open(f"{path}.{worker}.jsonl", "a") as out:
            out.write(json.dumps([item.nodeid, took]) + "\n")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests first, the rest in their usual order.

    With the workers fed one test at a time (`--maxschedchunk=1` in `make test`) this is
    longest-processing-time-first scheduling: the two-month stories start at once on their own
    workers instead of being dealt last and leaving the others idle while they run.
    """
    known: dict[str, float] = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    items.sort(key=lambda item: -known.get(item.nodeid, 0.0))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What every test of this worker shares (the imports, the collected tests) out of the
    garbage collector's sight, as `bot.app.settle_heap` does for the bot: full collections
    scanned it again and again during the tests."""
    settle_heap()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _took[report.nodeid] += report.duration


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """A worker's backend counts reach the controller, whose summary says both backends ran."""
    _ran.update(getattr(node, "workeroutput", {}).get("backends", {}))


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        # A worker: its backend counts go to the controller (`pytest_testnodedown`), and its
        # reports reach it too; the controller writes the durations file.
        output["backends"] = dict(_ran)
        return
    path = session.config.getoption("--record-durations")
    if not path:
        return
    slow = {node: round(took, 1) for node, took in _took.most_common() if took >= 1.0}
    Path(path).write_text(json.dumps(slow, indent=1, ensure_ascii=False) + "\n")
