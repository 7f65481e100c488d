"""Committee admins of a district: list, add, remove.

A district always keeps at least one stored admin: removing the last one is refused, whoever
asks (bootstrap admins from `ADMIN_IDS` are not stored and not counted, see policy).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.policy import (
    Action,
    Actor,
    Refused,
    Target,
    admin_districts_of,
    load_actor,
    menu_roles,
    require,
)
from storage.models import CommitteeAdmin
from storage.repositories.access import AccessRepository
from storage.repositories.users import UserRepository


@dataclass(frozen=True)
class AdminRow:
    telegram_id: int
    label: str


@dataclass(frozen=True)
class AdminList:
    district_id: int
    district_name: str
    district_code: str
    admins: list[AdminRow]


class AdminOp(enum.Enum):
    LIST = "list"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class AdminsResult:
    """What /admins did: the district's list after the change, and whose roles changed."""

    op: AdminOp
    listing: AdminList
    target_id: int | None = None
    target_roles: list[str] = field(default_factory=list)  # for the target's command menu


async def manage(
    session: AsyncSession,
    actor: Actor,
    op: AdminOp,
    *,
    target_id: int | None,
    district_code: str | None,
    now: datetime,
    bootstrap_admin_ids: Collection[int] = (),
) -> AdminsResult:
    """/admins [add|remove ID] [DISTRICT]: the permission first, then the change, then the list."""
    district_id = await pick_district(session, actor, district_code)
    if op is not AdminOp.LIST and target_id is None:
        raise Refused("admins.bad_id")
    if op is AdminOp.ADD and target_id is not None:
        await add_admin(session, actor, district_id, target_id, now)
    elif op is AdminOp.REMOVE and target_id is not None:
        await remove_admin(session, actor, district_id, target_id, now)
    listing = await list_admins(session, actor, district_id)
    if target_id is None:
        return AdminsResult(op, listing)
    roles = menu_roles(await load_actor(session, target_id, bootstrap_admin_ids))
    return AdminsResult(op, listing, target_id, roles)


async def pick_district(session: AsyncSession, actor: Actor, code: str | None) -> int:
    """The district an admin command is about: named by code, or the only one the actor runs."""
    repo = AccessRepository(session)
    if code:
        unit = await repo.unit_by_code(code.strip().upper())
        if unit is None or unit.id != unit.district_id:
            raise Refused("admins.unknown_district", code=code.strip())
        require(actor, Action.MANAGE_ADMINS, Target.committee(unit.id))
        return unit.id
    districts = admin_districts_of(actor, [d.id for d in await repo.districts()])
    if not districts:
        raise Refused("policy.needs_admin")
    if len(districts) > 1:
        codes = []
        for district_id in districts:
            unit = await repo.unit(district_id)
            if unit is not None:
                codes.append(unit.code)
        raise Refused("admins.which_district", codes=", ".join(codes))
    return districts[0]


async def list_admins(session: AsyncSession, actor: Actor, district_id: int) -> AdminList:
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    users = UserRepository(session)
    unit = await repo.unit(district_id)
    assert unit is not None
    rows: list[AdminRow] = []
    for admin in await repo.district_admins(district_id):
        user = await users.get(admin.telegram_id)
        # The organisation's own full name (family name first) when the admin is a member;
        # the Telegram account's name only for someone the member lists do not know.
        known = await repo.memberships(admin.telegram_id)
        label = known[0][0].full_name if known else ""
        if user is not None:
            if not label:
                label = " ".join(p for p in (user.first_name, user.last_name) if p)
            if user.username:
                label = f"{label} @{user.username}".strip()
        rows.append(AdminRow(admin.telegram_id, label))
    return AdminList(district_id, unit.name, unit.code, rows)


async def add_admin(
    session: AsyncSession, actor: Actor, district_id: int, telegram_id: int, now: datetime
) -> None:
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    row = await repo.admin_row(district_id, telegram_id)
    if row is not None and row.active:
        raise Refused("admins.already", id=telegram_id)
    if row is None:
        row = CommitteeAdmin(
            district_id=district_id,
            telegram_id=telegram_id,
            added_by=actor.telegram_id,
            active=True,
            created_at=now,
        )
        session.add(row)
    else:
        row.active = True
        row.added_by = actor.telegram_id
    await session.flush()
    await audit.record(
        session,
        action="admin.add",
        entity_type="committee_admin",
        entity_id=row.id,
        before=None,
        after={"telegram_id": telegram_id, "active": True},
        actor_id=actor.telegram_id,
        district_id=district_id,
    )


async def remove_admin(
    session: AsyncSession, actor: Actor, district_id: int, telegram_id: int, now: datetime
) -> None:
    del now
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    row = await repo.admin_row(district_id, telegram_id)
    if row is None or not row.active:
        raise Refused("admins.not_admin", id=telegram_id)
    if len(await repo.district_admins(district_id)) <= 1:
        raise Refused("admins.last")
    row.active = False
    await session.flush()
    await audit.record(
        session,
        action="admin.remove",
        entity_type="committee_admin",
        entity_id=row.id,
        before={"telegram_id": telegram_id, "active": True},
        after={"telegram_id": telegram_id, "active": False},
        actor_id=actor.telegram_id,
        district_id=district_id,
    )
