"""Declarative base with a naming convention so Alembic migrations are stable on both dialects."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import DateTime, Enum, MetaData, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite forgets the zone, so it is restored on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_class: type[enum.Enum], length: int) -> Enum:
    """The column type of a column that holds one of `enum_class`'s values.

    Rows load as the enum's members, so code compares and stores members, never spelled-out
    strings. The schema stays the plain VARCHAR(length) the migrations made (no native enum
    type, no CHECK constraint): adding a member needs no migration on either backend. The
    values (not the member names) are stored, and a value outside the enum is refused on the
    way in (`validate_strings`) rather than found later by a reader that cannot load it.
    """
    return Enum(
        enum_class,
        native_enum=False,
        values_callable=lambda members: [m.value for m in members],
        create_constraint=False,
        length=length,
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model maps a plain Table, but DeclarativeBase types __table__ as the wider
    # FromClause, which insert(), delete() and Table annotations reject; this narrowing is
    # the one SQLAlchemy suggests (sqlalchemy/sqlalchemy#9130).
    __table__: ClassVar[Table]
