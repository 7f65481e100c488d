"""PostgreSQL databases for tests: made once per worker, reset between tests, dropped at the end.

Each test used to get a database cloned from the template and dropped after it. On PostgreSQL
15 `DROP DATABASE` forces an immediate checkpoint and waits for it (the checkpointer must forget
the dropped files), and the clone writes the template's pages through the WAL: 0.3 s to create
and 0.8-1.4 s to drop on this 2-core machine while other tests write, on the path of every
PostgreSQL test. Here a worker keeps the databases it made and resets one to the state the
next test asks for instead:

- a *world* is a named state: "empty" (migrated, no rows) or a populated one (dan-phuong, a 2026
  organisation) that a test world builds once with its own populate function;
- the state is kept as each table's rows in PostgreSQL's binary COPY format plus every
  sequence's position, read once after the world was built;
- a reset, in one transaction on the database: delete every row, copy the world's rows in, put
  the sequences back. Foreign keys are not checked row by row meanwhile
  (`session_replication_role = replica`, a superuser's setting; the tables are then taken in
  dependency order without it). Connections a test left open are ended first.

Every schema is the migrations' head (no test alters one), so any database of the worker can
take any world. The databases also commit without waiting for the WAL flush
(`synchronous_commit = off`): a test never survives a crash of the server, and each commit
waits 2-4 ms less.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import pickle
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

Populate = Callable[[str], Awaitable[None]]
EMPTY = "empty"


@contextlib.contextmanager
def across_workers(path: Path) -> Iterator[None]:
    """Hold `path`'s lock file: one test process of the run at a time builds what is there."""
    with path.with_name(path.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class _World:
    rows: dict[str, bytes] = field(default_factory=dict)  # table -> binary COPY data
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)  # name, value, called


class PgPool:
    """The databases of one test process (an xdist worker), reused across its tests."""

    def __init__(
        self,
        base_url: str,
        run_id: str,
        template: Callable[[], str],
        table_order: Callable[[], list[str]],
        shared_root: Path,
    ) -> None:
        self._base = make_url(base_url)
        self._run_id = run_id
        self._template = template  # the migrated template's name, made on first use
        self._table_order = table_order  # tables parents first (the models' dependency order)
        self._free: list[str] = []
        self._all: list[str] = []
        self._worlds: dict[str, _World] = {EMPTY: _World()}
        self._fresh: set[str] = set()  # made from the template, untouched: already "empty"
        self._superuser: bool | None = None
        self._shared_root = shared_root  # populated worlds' snapshots, for every worker

    def url(self, database: str) -> str:
        return self._base.set(database=database).render_as_string(hide_password=False)

    def knows(self, world: str) -> bool:
        return world in self._worlds

    def lease(self, world: str = EMPTY, populate: Populate | None = None) -> str:
        """A database in `world`'s state, the test's alone until `release`."""
        template = self._template()  # made outside the loop below: it runs its own
        return asyncio.run(self._lease(template, world, populate))

    def release(self, name: str) -> None:
        self._free.append(name)

    def close(self) -> None:
        names, self._all, self._free = list(self._all), [], []
        if names:
            drops = (f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names)
            asyncio.run(self._admin(*drops))

    # ------------------------------------------------------------------------------------------

    async def _lease(self, template: str, world: str, populate: Populate | None) -> str:
        if self._free:
            name = self._free.pop()
        else:
            name = f"t_{self._run_id}_{uuid.uuid4().hex[:10]}"
            await self._admin(
                f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
                f'ALTER DATABASE "{name}" SET synchronous_commit = off',
            )
            self._all.append(name)
            self._fresh.add(name)
        if world in self._worlds:
            if not (world == EMPTY and name in self._fresh):
                await self._reset(name, self._worlds[world])
        else:
            if populate is None:
                raise KeyError(f"no world {world!r} yet and nothing to build it with")
            saved = self._shared_root / f"pg-{world.replace(':', '-')}.snapshot"
            with across_workers(saved):  # the first worker builds it, the others read it
                if saved.exists():
                    self._worlds[world] = pickle.loads(saved.read_bytes())
                    await self._reset(name, self._worlds[world])
                else:
                    if name not in self._fresh:
                        await self._reset(name, self._worlds[EMPTY])
                    self._fresh.discard(name)
                    await populate(self.url(name))
                    self._worlds[world] = await self._snapshot(name)
                    saved.write_bytes(pickle.dumps(self._worlds[world]))
        self._fresh.discard(name)
        return name

    async def _connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self._base.host or "127.0.0.1",
            port=self._base.port or 5432,
            user=self._base.username or "postgres",
            password=self._base.password,
            database=database,
            timeout=10,
        )

    async def _admin(self, *statements: str) -> None:
        conn = await self._connect("postgres")
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def _tables(self, conn: asyncpg.Connection) -> list[str]:
        present = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        present.discard("alembic_version")
        ordered = [t for t in self._table_order() if t in present]
        return sorted(present - set(ordered)) + ordered

    async def _snapshot(self, name: str) -> _World:
        conn = await self._connect(name)
        try:
            world = _World()
            for table in await self._tables(conn):
                if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):
                    buffer = io.BytesIO()
                    await conn.copy_from_table(table, output=buffer, format="binary")
                    world.rows[table] = buffer.getvalue()
            for r in await conn.fetch(
                "SELECT schemaname, sequencename, start_value, last_value FROM pg_sequences"
            ):
                seq = f'"{r["schemaname"]}"."{r["sequencename"]}"'  # setval reads it as a name
                called = r["last_value"] is not None
                value = r["last_value"] if called else r["start_value"]
                world.sequences.append((seq, value, called))
            return world
        finally:
            await conn.close()

    async def _reset(self, name: str, world: _World) -> None:
        await self._admin_terminate(name)
        conn = await self._connect(name)
        try:
            if self._superuser is None:
                is_super = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                self._superuser = bool(await conn.fetchval(is_super))
            tables = await self._tables(conn)
            async with conn.transaction():
                if self._superuser:
                    await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute("".join(f'DELETE FROM "{t}";' for t in reversed(tables)))
                for table in tables:
                    if table in world.rows:
                        await conn.copy_to_table(
                            table, source=io.BytesIO(world.rows[table]), format="binary"
                        )
                await conn.execute(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
                    " FROM pg_sequences"
                )
                if world.sequences:
                    put_back = "SELECT setval($1::text::regclass, $2, $3)"
                    await conn.executemany(put_back, world.sequences)
        finally:
            await conn.close()

    async def _admin_terminate(self, name: str) -> None:
        conn = await self._connect("postgres")
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await conn.close()
