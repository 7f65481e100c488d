"""Read helpers for the organisation tree (units, branches, members, working groups).

Every lookup that a person could reach takes `district_id` where it matters, so callers scope
queries to the acting person's district instead of trusting codes typed in a chat.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    CommitteeAdmin,
    Member,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.org import VISITED_KINDS_DEFAULT, MemberRole

# Secretaries first, then deputies, then everyone else by name: the order lists show.
_ROLE_ORDER = {MemberRole.SECRETARY: 0, MemberRole.DEPUTY_SECRETARY: 1}


class OrgRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Units -----------------------------------------------------------------------------------

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.session.get(Unit, unit_id)

    async def unit_by_code(self, code: str, district_id: int | None = None) -> Unit | None:
        stmt = select(Unit).where(Unit.code == code)
        if district_id is not None:
            stmt = stmt.where(Unit.district_id == district_id)
        return (await self.session.scalars(stmt)).first()

    async def districts(self, active_only: bool = True) -> list[Unit]:
        """Every organisation's top committee in the database (the roots of the trees)."""
        stmt = select(Unit).where(Unit.parent_id.is_(None))
        if active_only:
            stmt = stmt.where(Unit.active.is_(True))
        return list((await self.session.scalars(stmt.order_by(Unit.code))).all())

    async def units_of_district(self, district_id: int, active_only: bool = True) -> list[Unit]:
        """The units below the district committee (not the committee itself), by code."""
        stmt = select(Unit).where(Unit.district_id == district_id, Unit.id != district_id)
        if active_only:
            stmt = stmt.where(Unit.active.is_(True))
        return list((await self.session.scalars(stmt.order_by(Unit.code))).all())

    # Branches --------------------------------------------------------------------------------

    async def branch(self, branch_id: int) -> Branch | None:
        return await self.session.get(Branch, branch_id)

    async def branch_by_code(self, code: str, district_id: int | None = None) -> Branch | None:
        stmt = select(Branch).where(Branch.code == code)
        if district_id is not None:
            stmt = stmt.where(Branch.district_id == district_id)
        return (await self.session.scalars(stmt)).first()

    async def branches_of_unit(self, unit_id: int, active_only: bool = True) -> list[Branch]:
        stmt = select(Branch).where(Branch.unit_id == unit_id)
        if active_only:
            stmt = stmt.where(Branch.active.is_(True))
        return list((await self.session.scalars(stmt.order_by(Branch.code))).all())

    async def branches_of_district(
        self, district_id: int, *, offset: int = 0, limit: int | None = None
    ) -> list[Branch]:
        stmt = (
            select(Branch)
            .where(Branch.district_id == district_id, Branch.active.is_(True))
            .order_by(Branch.code)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def count_branches_of_district(self, district_id: int) -> int:
        stmt = select(func.count()).where(
            Branch.district_id == district_id, Branch.active.is_(True)
        )
        return int(await self.session.scalar(stmt) or 0)

    # Members ---------------------------------------------------------------------------------

    async def member(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    async def member_by_code(self, code: str, district_id: int | None = None) -> Member | None:
        stmt = select(Member).where(Member.code == code)
        if district_id is not None:
            stmt = stmt.where(Member.district_id == district_id)
        return (await self.session.scalars(stmt)).first()

    async def members_by_telegram_id(self, telegram_id: int) -> list[Member]:
        """Active member rows linked to this account (normally one; a list in case of data
        entered twice, so callers can decide instead of picking one silently)."""
        stmt = (
            select(Member)
            .where(Member.telegram_id == telegram_id, Member.active.is_(True))
            .order_by(Member.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def member_by_telegram_id(self, telegram_id: int) -> Member | None:
        members = await self.members_by_telegram_id(telegram_id)
        return members[0] if members else None

    async def members_by_phone(self, phone_e164: str) -> list[Member]:
        """Active members with this normalised phone (`+84…`, see bot.services.phones)."""
        stmt = (
            select(Member)
            .where(Member.phone == phone_e164, Member.active.is_(True))
            .order_by(Member.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def members_of_branch(
        self,
        branch_id: int,
        *,
        offset: int = 0,
        limit: int | None = None,
        active_only: bool = True,
        without_telegram: bool = False,
    ) -> list[Member]:
        """One page of a branch's members: secretary, deputies, then by name and code."""
        role_rank = case(_ROLE_ORDER, value=Member.role, else_=2)
        stmt = select(Member).where(Member.branch_id == branch_id)
        if active_only:
            stmt = stmt.where(Member.active.is_(True))
        if without_telegram:
            stmt = stmt.where(Member.telegram_id.is_(None))
        stmt = stmt.order_by(role_rank, Member.full_name, Member.code).offset(offset).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def count_members_of_branch(
        self, branch_id: int, *, active_only: bool = True, without_telegram: bool = False
    ) -> int:
        stmt = select(func.count()).where(Member.branch_id == branch_id)
        if active_only:
            stmt = stmt.where(Member.active.is_(True))
        if without_telegram:
            stmt = stmt.where(Member.telegram_id.is_(None))
        return int(await self.session.scalar(stmt) or 0)

    async def secretary_of_branch(self, branch_id: int) -> Member | None:
        stmt = select(Member).where(
            Member.branch_id == branch_id,
            Member.role == MemberRole.SECRETARY,
            Member.active.is_(True),
        )
        return (await self.session.scalars(stmt)).first()

    async def branches_led_by(self, telegram_id: int) -> list[Branch]:
        """Active branches whose active secretary is this account."""
        stmt = (
            select(Branch)
            .join(Member, Member.branch_id == Branch.id)
            .where(
                Member.telegram_id == telegram_id,
                Member.role == MemberRole.SECRETARY,
                Member.active.is_(True),
                Branch.active.is_(True),
            )
            .order_by(Branch.code)
        )
        return list((await self.session.scalars(stmt)).all())

    async def link_telegram(
        self, member_id: int, telegram_id: int, username: str | None = None
    ) -> Member | None:
        """Tie an account to a member row (invites, contact sharing); caller audits it."""
        member = await self.session.get(Member, member_id)
        if member is not None:
            member.telegram_id = telegram_id
            if username is not None:
                member.telegram_username = username
        return member

    # Working groups --------------------------------------------------------------------------

    async def working_group(self, group_id: int) -> WorkingGroup | None:
        return await self.session.get(WorkingGroup, group_id)

    async def working_group_by_code(
        self, code: str, district_id: int | None = None
    ) -> WorkingGroup | None:
        stmt = select(WorkingGroup).where(WorkingGroup.code == code)
        if district_id is not None:
            stmt = stmt.where(WorkingGroup.district_id == district_id)
        return (await self.session.scalars(stmt)).first()

    async def working_groups_of_district(
        self, district_id: int, active_only: bool = True
    ) -> list[WorkingGroup]:
        stmt = select(WorkingGroup).where(WorkingGroup.district_id == district_id)
        if active_only:
            stmt = stmt.where(WorkingGroup.active.is_(True))
        return list((await self.session.scalars(stmt.order_by(WorkingGroup.code))).all())

    async def working_group_units(self, group_id: int) -> list[Unit]:
        stmt = (
            select(Unit)
            .join(WorkingGroupUnit, WorkingGroupUnit.unit_id == Unit.id)
            .where(WorkingGroupUnit.working_group_id == group_id)
            .order_by(Unit.code)
        )
        return list((await self.session.scalars(stmt)).all())

    async def working_group_members(self, group_id: int) -> list[Member]:
        stmt = (
            select(Member)
            .join(WorkingGroupMember, WorkingGroupMember.member_id == Member.id)
            .where(WorkingGroupMember.working_group_id == group_id, Member.active.is_(True))
            .order_by(Member.full_name, Member.code)
        )
        return list((await self.session.scalars(stmt)).all())

    async def working_groups_of_member(self, member_id: int) -> list[WorkingGroup]:
        stmt = (
            select(WorkingGroup)
            .join(WorkingGroupMember, WorkingGroupMember.working_group_id == WorkingGroup.id)
            .where(WorkingGroupMember.member_id == member_id, WorkingGroup.active.is_(True))
            .order_by(WorkingGroup.code)
        )
        return list((await self.session.scalars(stmt)).all())

    async def visited_branches(self, group_id: int) -> list[Branch]:
        """The branches of the units a working group covers, of the kinds it visits."""
        group = await self.session.get(WorkingGroup, group_id)
        kinds = sorted(group.visited_kinds if group is not None else VISITED_KINDS_DEFAULT)
        stmt = (
            select(Branch)
            .join(WorkingGroupUnit, WorkingGroupUnit.unit_id == Branch.unit_id)
            .where(
                WorkingGroupUnit.working_group_id == group_id,
                Branch.active.is_(True),
                Branch.kind.in_(kinds),
            )
            .order_by(Branch.code)
        )
        return list((await self.session.scalars(stmt)).all())

    # Committee admins ------------------------------------------------------------------------

    async def admin_district_ids(self, telegram_id: int) -> list[int]:
        """Districts where this account is an active committee admin."""
        stmt = select(CommitteeAdmin.district_id).where(
            CommitteeAdmin.telegram_id == telegram_id,
            CommitteeAdmin.active.is_(True),
            CommitteeAdmin.unit_id.is_(None),
        )
        return sorted(set((await self.session.scalars(stmt)).all()))

    async def committee_admins(self, district_id: int) -> Sequence[CommitteeAdmin]:
        stmt = select(CommitteeAdmin).where(
            CommitteeAdmin.district_id == district_id,
            CommitteeAdmin.active.is_(True),
            CommitteeAdmin.unit_id.is_(None),
        )
        return list((await self.session.scalars(stmt.order_by(CommitteeAdmin.id))).all())
