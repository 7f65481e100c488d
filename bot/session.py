"""The database session of the update being handled.

A module of its own because both sides of the update's plumbing need it: the unit-of-work
middleware (`bot.middlewares`) sets it, and the database conversation storage (`bot.fsm`), the
request middleware that commits before a reply and the handler kit read it. Kept apart, neither
of them imports the other to reach it.
"""

from __future__ import annotations

from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession

current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)
