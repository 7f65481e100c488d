"""The sender's database side: its transactions, one at a time, and the group-commit writer.

Every request writes twice: its `sending` mark before it leaves and its outcome after the
answer. One transaction each would cost several round trips per message whatever its size, so
the writer batches the marks and outcomes of many requests into one transaction; each request
awaits its own result (whether the row was still this sender's to write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger("bot.outbox.sender")

# The most operations one transaction writes.
_BATCH = 500


class Transactions:
    """The sender's transactions, serialised.

    One at a time: on SQLite two of them would make the second wait in SQLite's busy handler,
    which sleeps in coarse steps and stalls the pipeline.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        async with self._lock, self.session_factory() as s, s.begin():
            yield s


@dataclass
class _Op:
    kind: Literal["sending", "update"]
    entry_id: int
    values: dict[str, Any] | None
    future: asyncio.Future[bool]


class OutcomeWriter:
    """Writes `sending` marks and outcomes of this sender's claimed rows in batches.

    `open` starts a run with the sender's claim token; `run` is the writer task; `drain` waits
    until everything submitted is written (the sender stops it only then).
    """

    def __init__(self, transactions: Transactions, clock: Clock, linger: float) -> None:
        self.transactions = transactions
        self.clock = clock
        # Wait this long after the first operation before writing, so a few more join it.
        self.linger = linger
        self.token = ""
        self._ops: asyncio.Queue[_Op] | None = None

    def open(self, token: str) -> None:
        self.token = token
        self._ops = asyncio.Queue()

    async def submit(
        self, kind: Literal["sending", "update"], entry_id: int, values: dict[str, Any] | None
    ) -> bool:
        """Queue one mark or outcome; True once written, False if the row is no longer ours."""
        assert self._ops is not None
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._ops.put(_Op(kind, entry_id, values, future))
        return await future

    async def drain(self) -> None:
        assert self._ops is not None
        await self._ops.join()

    async def run(self) -> None:
        assert self._ops is not None
        ops = self._ops
        linger = self.linger
        while True:
            batch = [await ops.get()]
            if linger > 0:
                await asyncio.sleep(linger)
            while not ops.empty() and len(batch) < _BATCH:
                batch.append(ops.get_nowait())
            try:
                results = await self._write(batch)
                for op in batch:
                    if not op.future.done():
                        op.future.set_result(results[id(op)])
            except Exception as exc:
                log.exception("writing %d outbox outcomes failed", len(batch))
                for op in batch:
                    if not op.future.done():
                        op.future.set_exception(exc)
            finally:
                for _ in batch:
                    ops.task_done()

    async def _write(self, batch: list[_Op]) -> dict[int, bool]:
        """One transaction: the marks first, then the outcomes, each only on rows still ours."""
        results: dict[int, bool] = {}
        now = self.clock.now()
        async with self.transactions.tx() as s:
            repo = OutboxRepository(s)
            sending = [op for op in batch if op.kind == "sending"]
            if sending:
                owned = await repo.mark_sending([op.entry_id for op in sending], self.token, now)
                for op in sending:
                    results[id(op)] = op.entry_id in owned
            updates = [op for op in batch if op.kind == "update"]
            if updates:
                owned = await repo.update_owned_many(
                    [(op.entry_id, op.values or {}) for op in updates], self.token
                )
                for op in updates:
                    results[id(op)] = op.entry_id in owned
        return results
