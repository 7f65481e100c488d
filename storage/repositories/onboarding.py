"""Which branches have joined the bot, and since when: the one definition every figure and nudge
reads.

A district joins gradually: after an import every branch exists, but a branch that nobody
runs on the bot yet owes nothing to it and is not judged by it. A branch has joined when a
group was ever linked to it, or its secretary or a deputy has an account with the bot (wrote
to it: an imported Telegram id alone is not an account). The moments are stored (the binding's
`bound_at`, the account's `created_at`), so `joined_since` says from when.

The rule with the date (`owes`): a branch owes a meeting (a confirmation, a report; it is
nudged, escalated and judged in the month's figures for it) only when it had joined by the
moment the meeting was due to start. For a month with no regular meeting at all, that moment is
where the branch's rule puts the month's meeting. So a branch that joins on 10/12 owes nothing
for November (nor for a December meeting day already past when it joined), and owes a meeting
still ahead of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Branch, ChatBinding, Member, TelegramUser
from storage.models.org import LEADER_ROLES, TargetType


def has_account(member: type[Member] = Member) -> ColumnElement[bool]:
    """SQL: this member used the bot (has an account row: wrote to it, pressed, joined), not
    merely a Telegram id imported with the list. Every "on Telegram" figure counts this."""
    return exists().where(TelegramUser.id == member.telegram_id)


def joined_clause(
    branch_id: ColumnElement[int] | object,
    by: ColumnElement[datetime] | InstrumentedAttribute[datetime] | datetime | None = None,
) -> ColumnElement[bool]:
    """SQL: the branch with this id has joined (for a WHERE on any query); with `by` (a moment
    or a column such as a meeting's start), had joined by then: it owes what is due at `by`."""
    linked = exists().where(
        ChatBinding.target_type == TargetType.BRANCH,
        ChatBinding.target_id == branch_id,
        *([] if by is None else [ChatBinding.bound_at <= by]),
    )
    leader = exists().where(
        Member.branch_id == branch_id,
        Member.role.in_(LEADER_ROLES),
        Member.active,
        TelegramUser.id == Member.telegram_id,
        *([] if by is None else [TelegramUser.created_at <= by]),
    )
    return or_(linked, leader)


def owes(since: datetime | None, due: datetime) -> bool:
    """The rule in Python, for rows already read: joined (at `since`) by the moment `due`."""
    return since is not None and since <= due


async def joined(session: AsyncSession, branch_ids: Iterable[int]) -> set[int]:
    """The branches that have joined by now."""
    ids = list(set(branch_ids))
    if not ids:
        return set()
    stmt = select(Branch.id).where(Branch.id.in_(ids), joined_clause(Branch.id))
    return set((await session.scalars(stmt)).all())


async def joined_since_many(
    session: AsyncSession, branch_ids: Iterable[int]
) -> dict[int, datetime]:
    """branch id -> the first moment it counted as joined (branches not joined left out)."""
    ids = list(set(branch_ids))
    if not ids:
        return {}
    out: dict[int, datetime] = {}
    bound = (
        select(ChatBinding.target_id, func.min(ChatBinding.bound_at))
        .where(
            ChatBinding.target_type == TargetType.BRANCH,
            ChatBinding.target_id.in_(ids),
            ChatBinding.bound_at.is_not(None),
        )
        .group_by(ChatBinding.target_id)
    )
    account = (
        select(Member.branch_id, func.min(TelegramUser.created_at))
        .join(TelegramUser, TelegramUser.id == Member.telegram_id)
        .where(Member.branch_id.in_(ids), Member.role.in_(LEADER_ROLES), Member.active)
        .group_by(Member.branch_id)
    )
    for stmt in (bound, account):
        for branch_id, moment in (await session.execute(stmt)).all():
            if moment is not None and (branch_id not in out or moment < out[branch_id]):
                out[branch_id] = moment
    return out


async def joined_since(session: AsyncSession, branch_id: int) -> datetime | None:
    """The first moment the branch counted as joined; None: not joined."""
    return (await joined_since_many(session, [branch_id])).get(branch_id)
