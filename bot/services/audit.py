"""The audit trail: one helper every service uses to say who changed what, before and after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import utcnow
from storage.models import AuditLog


def jsonable(value: Any) -> Any:
    """Make a value JSON-storable: times as ISO text, enums as their value, mappings recursed."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def _snapshot(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else jsonable(values)


async def record(
    session: AsyncSession,
    *,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    actor_id: int | None = None,
    actor_label: str = "",
    district_id: int | None = None,
) -> None:
    """Add one audit row in the caller's transaction (it commits or rolls back with the change)."""
    session.add(
        AuditLog(
            at=utcnow(),
            district_id=district_id,
            actor_id=actor_id,
            actor_label=actor_label[:64],
            action=action[:64],
            entity_type=entity_type[:32],
            entity_id=str(entity_id)[:64],
            before=_snapshot(before),
            after=_snapshot(after),
        )
    )


async def record_many(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk form for imports: each mapping has the keyword arguments of `record`."""
    if not rows:
        return
    now = utcnow()
    params = [
        {
            "at": now,
            "district_id": row.get("district_id"),
            "actor_id": row.get("actor_id"),
            "actor_label": str(row.get("actor_label", ""))[:64],
            "action": str(row["action"])[:64],
            "entity_type": str(row["entity_type"])[:32],
            "entity_id": str(row["entity_id"])[:64],
            "before": _snapshot(row.get("before")),
            "after": _snapshot(row.get("after")),
        }
        for row in rows
    ]
    for start in range(0, len(params), 5000):
        await session.execute(insert(AuditLog.__table__), params[start : start + 5000])
