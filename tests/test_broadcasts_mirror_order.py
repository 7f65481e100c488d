"""Recipients are written in one order by every writer (the progress job's pass, Làm mới, Dừng).

A CI run saw PostgreSQL's "deadlock detected" on Dừng: the job's pass and the admin's press
mirrored the same recipients at once, each in the order `ended` happened to return them. Rows
taken in the same order make the second writer wait instead.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from storage.repositories.broadcasts import BroadcastRepository, Outcome


class _Recorder:
    """Stands in for the session: keeps each statement and what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    async def execute(self, statement: Any, params: Any = None) -> None:
        self.calls.append((statement, params))


def _outcome(rid: int) -> Outcome:
    return Outcome(rid, "sent", rid * 10, None, datetime(2026, 12, 7, tzinfo=UTC), None)


IDS = st.lists(st.integers(1, 10_000), min_size=1, max_size=1200, unique=True)


@given(IDS)
def test_mirror_writes_recipients_in_their_id_order(ids: list[int]) -> None:
    session = _Recorder()
    repo = BroadcastRepository(session)  # type: ignore[arg-type]
    asyncio.run(repo.mirror([_outcome(i) for i in ids]))
    ((_statement, params),) = session.calls
    assert [p["b_id"] for p in params] == sorted(ids)


@given(IDS)
def test_set_state_writes_recipients_in_their_id_order(ids: list[int]) -> None:
    session = _Recorder()
    repo = BroadcastRepository(session)  # type: ignore[arg-type]
    asyncio.run(repo.set_state(ids, {"state": "cancelled"}))
    written = []
    for statement, _params in session.calls:
        (chunk,) = [v for v in statement.compile().params.values() if isinstance(v, list)]
        written += chunk
    assert written == sorted(ids)
