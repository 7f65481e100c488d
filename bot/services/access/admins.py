"""Committee admins: list, add, remove, for the organisation's top committee or any committee
below it (a commune or ward committee under a province, a commune under a district).

Only the top committee's admins manage admins, of their own committee or of any below it. An
organisation always keeps at least one stored top admin: removing the last one is refused,
whoever asks (bootstrap admins from `ADMIN_IDS` are not stored and not counted, see policy). A
lower committee's admins act for that committee only (its broadcasts, its feedback level).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import (
    Action,
    Actor,
    Refused,
    Target,
    admin_districts_of,
    load_actor,
    menu_roles,
    require,
)
from bot.services.vn_names import telegram_full_name
from storage.models import CommitteeAdmin
from storage.repositories.access import AccessRepository
from storage.repositories.users import UserRepository


@dataclass(frozen=True)
class AdminRow:
    telegram_id: int
    label: str


@dataclass(frozen=True)
class AdminList:
    """The admins of one committee: the top one (`unit_id` None) or one below it."""

    district_id: int
    district_name: str  # the listed committee's name (the top one's when unit_id is None)
    district_code: str
    admins: list[AdminRow]
    unit_id: int | None = None


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
    """/admins [add|remove ID] [CODE]: the permission first, then the change, then the list.
    CODE names the top committee or any committee below it."""
    district_id, unit_id = await pick_unit(session, actor, district_code)
    if op is not AdminOp.LIST and target_id is None:
        raise Refused("admins.bad_id")
    if op is AdminOp.ADD and target_id is not None:
        await add_admin(session, actor, district_id, target_id, now, unit_id=unit_id)
    elif op is AdminOp.REMOVE and target_id is not None:
        await remove_admin(session, actor, district_id, target_id, now, unit_id=unit_id)
    listing = await list_admins(session, actor, district_id, unit_id=unit_id)
    if target_id is None:
        return AdminsResult(op, listing)
    roles = menu_roles(await load_actor(session, target_id, bootstrap_admin_ids))
    return AdminsResult(op, listing, target_id, roles)


async def pick_unit(
    session: AsyncSession, actor: Actor, code: str | None
) -> tuple[int, int | None]:
    """(top committee id, lower committee id or None) an admin command is about: a committee
    named by code, or the only top committee the actor runs."""
    if code:
        unit = await AccessRepository(session).unit_by_code(code.strip().upper())
        if unit is None or unit.district_id is None or not unit.active:
            raise Refused("admins.unknown_district", code=code.strip())
        require(actor, Action.MANAGE_ADMINS, Target.committee(unit.district_id))
        return unit.district_id, (None if unit.id == unit.district_id else unit.id)
    return await pick_district(session, actor, None), None


async def pick_district(session: AsyncSession, actor: Actor, code: str | None) -> int:
    """The top committee an admin command is about: named by code, or the only one the actor
    runs."""
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


async def list_admins(
    session: AsyncSession, actor: Actor, district_id: int, *, unit_id: int | None = None
) -> AdminList:
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    users = UserRepository(session)
    unit = await repo.unit(district_id if unit_id is None else unit_id)
    assert unit is not None
    rows: list[AdminRow] = []
    for admin in await repo.district_admins(district_id, unit_id):
        user = await users.get(admin.telegram_id)
        # The organisation's own full name (family name first) when the admin is a member;
        # the Telegram account's name only for someone the member lists do not know.
        known = await repo.memberships(admin.telegram_id)
        label = known[0][0].full_name if known else ""
        if user is not None:
            if not label:
                label = telegram_full_name(user.first_name, user.last_name)
            if user.username:
                label = f"{label} @{user.username}".strip()
        rows.append(AdminRow(admin.telegram_id, label))
    return AdminList(district_id, unit.name, unit.code, rows, unit_id)


async def add_admin(
    session: AsyncSession,
    actor: Actor,
    district_id: int,
    telegram_id: int,
    now: datetime,
    *,
    unit_id: int | None = None,
) -> None:
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    row = await repo.admin_row(district_id, telegram_id, unit_id)
    if row is not None and row.active:
        raise Refused("admins.already", id=telegram_id)
    if row is None:
        row = CommitteeAdmin(
            district_id=district_id,
            unit_id=unit_id,
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
        after={"telegram_id": telegram_id, "active": True, "unit_id": unit_id},
        actor_id=actor.telegram_id,
        district_id=district_id,
    )


async def remove_admin(
    session: AsyncSession,
    actor: Actor,
    district_id: int,
    telegram_id: int,
    now: datetime,
    *,
    unit_id: int | None = None,
) -> None:
    del now
    require(actor, Action.MANAGE_ADMINS, Target.committee(district_id))
    repo = AccessRepository(session)
    row = await repo.admin_row(district_id, telegram_id, unit_id)
    if row is None or not row.active:
        raise Refused("admins.not_admin", id=telegram_id)
    # Only the top committee must keep an admin: a lower one may have none (the top acts).
    if unit_id is None and len(await repo.district_admins(district_id)) <= 1:
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
