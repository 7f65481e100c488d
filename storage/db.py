"""Engine and session factories.

SQLite is configured for a bot that writes from many concurrent updates: WAL so readers never
block the writer, a busy timeout, and `BEGIN IMMEDIATE` so a writing transaction takes the write
lock up front instead of failing with "database is locked" when it upgrades a read lock.

Reads need no lock: code that knows it only reads (an update until a writing handler is
chosen, a read-only handler) runs with `set_begin_mode("NONE")` or inside `sqlite_deferred()`,
and many of them proceed at once. Everything else, jobs and the outbox included, keeps
`BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_S = 30
# IMMEDIATE: writers (the lock up front). DEFERRED: a consistent read snapshot, no lock.
# NONE: no BEGIN at all, each statement its own transaction (an update's reads before a
# handler that writes is chosen: usually a single SELECT, for which BEGIN/COMMIT would cost
# two more trips to SQLite's thread than the query itself).
BeginMode = Literal["IMMEDIATE", "DEFERRED", "NONE"]
# How the next SQLite transaction of this task begins (read by the engine's "begin" listener).
_begin_mode: ContextVar[BeginMode] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


def set_begin_mode(mode: BeginMode) -> None:
    """From the next transaction on (in this task), begin SQLite transactions this way."""
    _begin_mode.set(mode)


def begin_mode() -> BeginMode:
    return _begin_mode.get()


@contextmanager
def sqlite_deferred() -> Iterator[None]:
    """Transactions begun inside take no write lock until they write (readers only!)."""
    token = _begin_mode.set("DEFERRED")
    try:
        yield
    finally:
        _begin_mode.reset(token)


def create_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; for SQLite also create the folder and set the pragmas."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Our own pre-ping (below) unless a caller asks for SQLAlchemy's, which pings on every
    # checkout.
    engine = create_async_engine(url, echo=echo, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A pooled connection unused this long is pinged before use; a busier one is trusted.
PING_IDLE_AFTER_S = 10.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling, paid only by connections that sat idle.

    SQLAlchemy's `pool_pre_ping` sends a round trip on every checkout, and an update checks
    out several times (each commit returns the connection): on PostgreSQL that was four pings
    per /start, more network trips than its queries. A connection that was in use a moment ago
    cannot have been dropped by an idle timeout or a restart unnoticed for long, so only one
    idle for `PING_IDLE_AFTER_S` is pinged; a failed ping discards it and the pool connects
    anew (SQLAlchemy's documented `DisconnectionError` protocol), exactly as pre-ping would.
    A connection dying while busy fails that statement either way, pre-ping or not.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < PING_IDLE_AFTER_S:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError() from exc
        if not alive:
            raise DisconnectionError()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so we can issue BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = _begin_mode.get()
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}")

    _skip_idle_commits(engine)


def _skip_idle_commits(engine: AsyncEngine) -> None:
    """No COMMIT or ROLLBACK when SQLite has no transaction open.

    A reader runs without BEGIN (see `bot.middlewares.UnitOfWork`), so the session's commit
    and the pool's reset-on-return have nothing to end; yet each is a trip to aiosqlite's
    worker thread, and they were a third of a returning person's update on SQLite. sqlite3's
    `in_transaction` is a plain flag read (no thread check), so asking costs nothing; when it
    cannot be read, the call goes through as before.
    """
    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def is_open(dbapi_connection: Any) -> bool:
        driver = getattr(dbapi_connection, "_connection", None)
        try:
            return bool(driver.in_transaction)  # type: ignore[union-attr]
        except Exception:
            return True

    def do_commit(dbapi_connection: Any) -> None:
        if is_open(dbapi_connection):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if is_open(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
