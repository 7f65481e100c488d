"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import storage.models  # noqa: F401
from storage.base import Base


async def test_migrations_match_models(engine: object) -> None:
    def _diff(connection: object) -> list[object]:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:  # type: ignore[attr-defined]
        diff = await conn.run_sync(_diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert "telegram_users" in tables
    assert "alembic_version" in tables
    assert diff == [], f"models and migrations differ: {diff}"
