"""What every update needs to know about its person, in one round trip.

Each update used to read the account row (language, has anything changed), the conversation
state, and (for /start) whether the person is known, in three queries: on this path a query
costs more than the rest of the update's work. One SELECT with two outer joins and an EXISTS
answers all three; the statement is built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, exists, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch, CommitteeAdmin, FsmState, Member, TelegramUser


@dataclass(frozen=True)
class SeenUser:
    """The stored account, as the update path reads it (a plain value, not an ORM row)."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None
    telegram_language: str | None
    language: str | None
    reachable: bool


@dataclass(frozen=True)
class FsmRow:
    state: str | None
    data: str
    updated_at: datetime


@dataclass(frozen=True)
class UpdateContext:
    user: SeenUser | None
    fsm: FsmRow | None  # None: no conversation under that key
    known: bool  # an active member of an active branch, or an active committee admin


def _statement() -> Select[*tuple[Any, ...]]:
    uid: BindParameter[int] = bindparam("uid")
    key: BindParameter[str] = bindparam("fsm_key")
    base = select(literal(1).label("one")).subquery("base")
    member = (
        select(Member.id)
        .join(Branch, Branch.id == Member.branch_id)
        .where(Member.telegram_id == uid, Member.active, Branch.active)
    )
    admin = select(CommitteeAdmin.id).where(
        CommitteeAdmin.telegram_id == uid, CommitteeAdmin.active
    )
    return (
        select(
            TelegramUser.id,
            TelegramUser.first_name,
            TelegramUser.last_name,
            TelegramUser.username,
            TelegramUser.telegram_language,
            TelegramUser.language,
            TelegramUser.reachable,
            FsmState.state,
            FsmState.data,
            FsmState.updated_at,
            or_(exists(member), exists(admin)).label("known"),
        )
        .select_from(base)
        .outerjoin(TelegramUser, TelegramUser.id == uid)
        .outerjoin(FsmState, FsmState.key == key)
    )


_STATEMENT = _statement()


async def load_update_context(
    session: AsyncSession, user_id: int, fsm_key: str | None
) -> UpdateContext:
    result = await session.execute(_STATEMENT, {"uid": user_id, "fsm_key": fsm_key or ""})
    row: tuple[Any, ...] = tuple(result.one())
    user = None
    if row[0] is not None:
        user = SeenUser(row[0], row[1], row[2], row[3], row[4], row[5], reachable=bool(row[6]))
    fsm = FsmRow(row[7], row[8], row[9]) if row[9] is not None else None
    return UpdateContext(user, fsm, bool(row[10]))
