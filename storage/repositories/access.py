"""Queries for people, roles, chat bindings, link codes, wrong-code counters and invites (the
access features)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    Invite,
    LinkAttempt,
    LinkCode,
    Member,
    TelegramUser,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.org import MemberRole, TargetType
from storage.repositories.onboarding import has_account

# Secretary first, then deputies, then members.
_ROLE_RANK = case(
    (Member.role == MemberRole.SECRETARY, 0),
    (Member.role == MemberRole.DEPUTY_SECRETARY, 1),
    else_=2,
)


class AccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- who is this person -------------------------------------------------------------

    async def memberships(self, telegram_id: int) -> Sequence[tuple[Member, Branch]]:
        """Active member rows tied to the account, with their (active) branch."""
        rows = await self.session.execute(
            select(Member, Branch)
            .join(Branch, Branch.id == Member.branch_id)
            .where(Member.telegram_id == telegram_id, Member.active, Branch.active)
            .order_by(Member.id)
        )
        return [(m, b) for m, b in rows]

    async def working_groups_of_members(
        self, member_ids: Sequence[int]
    ) -> Sequence[tuple[WorkingGroup, int]]:
        """(group, member_id) for active groups the members belong to."""
        if not member_ids:
            return []
        rows = await self.session.execute(
            select(WorkingGroup, WorkingGroupMember.member_id)
            .join(WorkingGroupMember, WorkingGroupMember.working_group_id == WorkingGroup.id)
            .where(WorkingGroupMember.member_id.in_(member_ids), WorkingGroup.active)
            .order_by(WorkingGroup.id)
        )
        seats = [(g, mid) for g, mid in rows]
        # A leader counts as a member of their group even if the member list omits them.
        led = await self.session.scalars(
            select(WorkingGroup).where(
                WorkingGroup.leader_member_id.in_(member_ids), WorkingGroup.active
            )
        )
        for group in led.all():
            assert group.leader_member_id is not None
            seats.append((group, group.leader_member_id))
        return seats

    async def group_unit_ids(self, group_ids: Sequence[int]) -> dict[int, set[int]]:
        if not group_ids:
            return {}
        rows = await self.session.execute(
            select(WorkingGroupUnit.working_group_id, WorkingGroupUnit.unit_id).where(
                WorkingGroupUnit.working_group_id.in_(group_ids)
            )
        )
        out: dict[int, set[int]] = {}
        for gid, uid in rows:
            out.setdefault(gid, set()).add(uid)
        return out

    async def admin_rows(self, telegram_id: int) -> Sequence[CommitteeAdmin]:
        return (
            await self.session.scalars(
                select(CommitteeAdmin).where(
                    CommitteeAdmin.telegram_id == telegram_id, CommitteeAdmin.active
                )
            )
        ).all()

    # --- organisation lookups -----------------------------------------------------------

    async def branch(self, branch_id: int) -> Branch | None:
        return await self.session.get(Branch, branch_id)

    async def branch_by_code(self, code: str) -> Branch | None:
        return await self.session.scalar(select(Branch).where(Branch.code == code))

    async def unit(self, unit_id: int) -> Unit | None:
        return await self.session.get(Unit, unit_id)

    async def unit_by_code(self, code: str) -> Unit | None:
        return await self.session.scalar(select(Unit).where(Unit.code == code))

    async def working_group(self, group_id: int) -> WorkingGroup | None:
        return await self.session.get(WorkingGroup, group_id)

    async def working_group_by_code(self, code: str) -> WorkingGroup | None:
        return await self.session.scalar(select(WorkingGroup).where(WorkingGroup.code == code))

    async def member(self, member_id: int) -> Member | None:
        return await self.session.get(Member, member_id)

    async def secretary_of(self, branch_id: int) -> Member | None:
        return await self.session.scalar(
            select(Member).where(
                Member.branch_id == branch_id, Member.role == MemberRole.SECRETARY, Member.active
            )
        )

    async def branch_leaders(self, branch_id: int) -> Sequence[Member]:
        """Secretary and deputies, secretary first: the people to ask for an invite."""
        rows = await self.session.scalars(
            select(Member)
            .where(
                Member.branch_id == branch_id,
                Member.active,
                Member.role.in_((MemberRole.SECRETARY, MemberRole.DEPUTY_SECRETARY)),
            )
            .order_by(_ROLE_RANK, Member.id)
        )
        return rows.all()

    async def count_members(self, branch_id: int) -> tuple[int, int]:
        """(active members, active members who used the bot: `has_account`, not merely an
        imported Telegram id)."""
        row = (
            await self.session.execute(
                select(
                    func.count(Member.id), func.count(Member.id).filter(has_account(Member))
                ).where(Member.branch_id == branch_id, Member.active)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def with_account(self, telegram_ids: Iterable[int | None]) -> set[int]:
        """Those of these Telegram ids that belong to someone who used the bot."""
        ids = {i for i in telegram_ids if i is not None}
        if not ids:
            return set()
        stmt = select(TelegramUser.id).where(TelegramUser.id.in_(ids))
        return set((await self.session.scalars(stmt)).all())

    async def active_members(self, branch_id: int) -> Sequence[Member]:
        """A branch's active members, in no particular order: the service sorts them the
        Vietnamese way (the database's collation is not) before it pages them."""
        rows = await self.session.scalars(
            select(Member).where(Member.branch_id == branch_id, Member.active)
        )
        return rows.all()

    async def members_by_phone(self, phone: str) -> Sequence[Member]:
        rows = await self.session.scalars(
            select(Member)
            .join(Branch, Branch.id == Member.branch_id)
            .where(Member.phone == phone, Member.active, Branch.active)
            .order_by(Member.id)
        )
        return rows.all()

    # --- admins -------------------------------------------------------------------------

    async def district_admins(
        self, district_id: int, unit_id: int | None = None
    ) -> Sequence[CommitteeAdmin]:
        """The whole organisation's admins, or with `unit_id` one lower committee's (the two
        lists never mix)."""
        scope = (
            CommitteeAdmin.unit_id.is_(None)
            if unit_id is None
            else (CommitteeAdmin.unit_id == unit_id)
        )
        rows = await self.session.scalars(
            select(CommitteeAdmin)
            .where(CommitteeAdmin.district_id == district_id, CommitteeAdmin.active, scope)
            .order_by(CommitteeAdmin.id)
        )
        return rows.all()

    async def admin_row(
        self, district_id: int, telegram_id: int, unit_id: int | None = None
    ) -> CommitteeAdmin | None:
        scope = (
            CommitteeAdmin.unit_id.is_(None)
            if unit_id is None
            else (CommitteeAdmin.unit_id == unit_id)
        )
        return await self.session.scalar(
            select(CommitteeAdmin)
            .where(
                CommitteeAdmin.district_id == district_id,
                CommitteeAdmin.telegram_id == telegram_id,
                scope,
            )
            .order_by(CommitteeAdmin.active.desc(), CommitteeAdmin.id.desc())
            .limit(1)
        )

    async def districts(self) -> Sequence[Unit]:
        rows = await self.session.scalars(
            select(Unit).where(Unit.parent_id.is_(None), Unit.active).order_by(Unit.code)
        )
        return rows.all()

    # --- chat bindings ------------------------------------------------------------------

    async def binding_for_chat(self, chat_id: int) -> ChatBinding | None:
        return await self.session.scalar(
            select(ChatBinding).where(ChatBinding.chat_id == chat_id, ChatBinding.active)
        )

    async def binding_for_target(
        self, target_type: TargetType, target_id: int
    ) -> ChatBinding | None:
        return await self.session.scalar(
            select(ChatBinding).where(
                ChatBinding.target_type == target_type,
                ChatBinding.target_id == target_id,
                ChatBinding.active,
            )
        )

    async def move_bindings_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        result = await self.session.execute(
            update(ChatBinding)
            .where(ChatBinding.chat_id == old_chat_id, ChatBinding.active)
            .values(chat_id=new_chat_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- one-time codes -----------------------------------------------------------------

    async def link_code_by_hash(self, code_hash: str) -> LinkCode | None:
        return await self.session.scalar(
            select(LinkCode).where(LinkCode.code_hash == code_hash).with_for_update()
        )

    async def invite_by_hash(self, token_hash: str) -> Invite | None:
        return await self.session.scalar(
            select(Invite).where(Invite.token_hash == token_hash).with_for_update()
        )

    async def open_invites(self, member_id: int, now: datetime) -> Sequence[Invite]:
        rows = await self.session.scalars(
            select(Invite).where(
                Invite.member_id == member_id, Invite.used_at.is_(None), Invite.expires_at > now
            )
        )
        return rows.all()

    # --- wrong /link codes ----------------------------------------------------------------

    async def link_attempts(self, keys: Sequence[tuple[str, int]]) -> list[LinkAttempt]:
        """The counters of these (scope, subject) pairs that exist."""
        out = []
        for scope, subject_id in keys:
            row = await self.session.scalar(
                select(LinkAttempt).where(
                    LinkAttempt.scope == scope, LinkAttempt.subject_id == subject_id
                )
            )
            if row is not None:
                out.append(row)
        return out

    async def link_attempt_for_update(
        self, scope: str, subject_id: int, now: datetime
    ) -> LinkAttempt:
        """The counter of (scope, subject), created if missing, locked for this transaction
        (two wrong codes at once both count)."""
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(LinkAttempt)
            .values(
                scope=scope,
                subject_id=subject_id,
                failures=0,
                window_started_at=now,
                last_failure_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "subject_id"])
        )
        row = await self.session.scalar(
            select(LinkAttempt)
            .where(LinkAttempt.scope == scope, LinkAttempt.subject_id == subject_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row
