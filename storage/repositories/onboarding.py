"""Which branches have joined the bot: the one definition every figure and nudge reads.

A district joins gradually: after an import every branch exists, but a branch that nobody
runs on the bot yet owes nothing to it and is not judged by it. A branch has joined when a
group was ever linked to it, or its secretary or a deputy has an account with the bot (wrote
to it: an imported Telegram id alone is not an account). The moments are stored (the binding's
`bound_at`, the account's `created_at`), so `joined_since` says from when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch, ChatBinding, Member, TelegramUser
from storage.models.org import MemberRole, TargetType

LEADER_ROLES = (MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY)


def joined_clause(branch_id: ColumnElement[int] | object) -> ColumnElement[bool]:
    """SQL: the branch with this id has joined (for a WHERE on any query)."""
    linked = exists().where(
        ChatBinding.target_type == TargetType.BRANCH,
        ChatBinding.target_id == branch_id,
    )
    leader = exists().where(
        Member.branch_id == branch_id,
        Member.role.in_(LEADER_ROLES),
        Member.active,
        TelegramUser.id == Member.telegram_id,
    )
    return or_(linked, leader)


async def joined(session: AsyncSession, branch_ids: Iterable[int]) -> set[int]:
    ids = list(set(branch_ids))
    if not ids:
        return set()
    stmt = select(Branch.id).where(Branch.id.in_(ids), joined_clause(Branch.id))
    return set((await session.scalars(stmt)).all())


async def joined_since(session: AsyncSession, branch_id: int) -> datetime | None:
    """The first moment the branch counted as joined; None: not joined."""
    bound = await session.scalar(
        select(ChatBinding.bound_at)
        .where(
            ChatBinding.target_type == TargetType.BRANCH,
            ChatBinding.target_id == branch_id,
        )
        .order_by(ChatBinding.bound_at)
        .limit(1)
    )
    account = await session.scalar(
        select(TelegramUser.created_at)
        .join(Member, Member.telegram_id == TelegramUser.id)
        .where(Member.branch_id == branch_id, Member.role.in_(LEADER_ROLES), Member.active)
        .order_by(TelegramUser.created_at)
        .limit(1)
    )
    moments = [m for m in (bound, account) if m is not None]
    return min(moments) if moments else None
