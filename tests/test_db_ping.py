"""The pool pings a PostgreSQL connection only after it sat idle, and a dead one is replaced.

PostgreSQL only (`pg_engine`): SQLite has no server connection to lose, and its engines do not
ping.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.db as db


async def _pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_busy_connection_is_not_pinged(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    pings = 0
    dialect = engine.sync_engine.dialect
    real = dialect.do_ping

    def counting(conn: object) -> bool:
        nonlocal pings
        pings += 1
        return real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_ping", counting)
    first = await _pid(engine)  # a new connection: pinged once
    for _ in range(5):
        assert await _pid(engine) == first
    assert pings == 1


async def test_a_connection_killed_while_idle_is_replaced_not_failed(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = pg_engine
    victim = await _pid(engine)
    other = db.create_engine(engine.url.render_as_string(hide_password=False))
    try:
        async with other.connect() as conn:
            await conn.execute(text(f"SELECT pg_terminate_backend({victim})"))
    finally:
        await other.dispose()
    monkeypatch.setattr(db, "PING_IDLE_AFTER_S", 0.0)  # it has now been idle "long enough"
    fresh = await _pid(engine)
    assert fresh != victim
