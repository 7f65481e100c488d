"""What a person sees about themselves and their branch: /whoami, /branch, /members."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Action, Actor, Refused, Target, menu_roles, require
from bot.services.vn_sort import vn_key
from storage.models.org import MemberRole, TargetType
from storage.repositories.access import AccessRepository

PAGE_SIZE = 8
# Leaders head a branch's member list: the secretary, then deputies, then everyone else.
_ROLE_RANK = {MemberRole.SECRETARY: 0, MemberRole.DEPUTY_SECRETARY: 1}


@dataclass(frozen=True)
class MembershipView:
    full_name: str
    branch_name: str
    branch_code: str
    unit_name: str
    role: str
    status: str


@dataclass(frozen=True)
class WhoAmI:
    telegram_id: int
    memberships: list[MembershipView]
    groups: list[tuple[str, bool]]  # (name, is leader)
    admin_of: list[str]  # district names
    bootstrap_admin: bool
    roles: list[str] = field(default_factory=list)  # what the person's menu shows

    @property
    def known(self) -> bool:
        return bool(self.memberships or self.groups or self.admin_of or self.bootstrap_admin)


@dataclass(frozen=True)
class BranchCard:
    id: int
    code: str
    name: str
    kind: str
    unit_name: str
    meeting_day: int
    meeting_time: time
    location: str
    secretary: str | None
    deputies: list[str]
    members: int
    on_telegram: int
    chat_title: str | None


@dataclass(frozen=True)
class MemberRow:
    id: int
    full_name: str
    role: str
    status: str
    on_telegram: bool


@dataclass(frozen=True)
class MemberPage:
    branch_id: int
    branch_name: str
    rows: list[MemberRow]
    page: int
    pages: int
    total: int


async def whoami(session: AsyncSession, actor: Actor) -> WhoAmI:
    """The person's roles as the bot sees them."""
    repo = AccessRepository(session)
    views: list[MembershipView] = []
    for m in actor.memberships:
        unit = await repo.unit(m.unit_id)
        views.append(
            MembershipView(
                full_name=m.full_name,
                branch_name=m.branch_name,
                branch_code=m.branch_code,
                unit_name=unit.name if unit is not None else "",
                role=m.role,
                status=m.status,
            )
        )
    admin_of: list[str] = []
    for district_id in sorted(actor.admin_districts):
        unit = await repo.unit(district_id)
        if unit is not None:
            admin_of.append(unit.name)
    return WhoAmI(
        telegram_id=actor.telegram_id,
        memberships=views,
        groups=[(g.name, g.leader) for g in actor.groups],
        admin_of=admin_of,
        bootstrap_admin=actor.bootstrap_admin,
        roles=menu_roles(actor),
    )


async def _branch_for(
    session: AsyncSession, actor: Actor, branch_id: int | None, code: str | None
) -> int:
    repo = AccessRepository(session)
    if code:
        branch = await repo.branch_by_code(code.strip().upper())
        if branch is None:
            raise Refused("branch.unknown_code", code=code.strip())
        return branch.id
    if branch_id is not None:
        return branch_id
    if not actor.memberships:
        raise Refused("branch.none")
    return actor.memberships[0].branch_id


async def branch_card(
    session: AsyncSession, actor: Actor, branch_id: int | None = None, code: str | None = None
) -> BranchCard:
    """The branch's card; without a branch, the person's own."""
    repo = AccessRepository(session)
    branch = await repo.branch(await _branch_for(session, actor, branch_id, code))
    if branch is None or not branch.active:
        raise Refused("branch.gone")
    require(actor, Action.VIEW_BRANCH, Target.branch(branch))
    unit = await repo.unit(branch.unit_id)
    leaders = await repo.branch_leaders(branch.id)
    total, on_telegram = await repo.count_members(branch.id)
    binding = await repo.binding_for_target(TargetType.BRANCH, branch.id)
    return BranchCard(
        id=branch.id,
        code=branch.code,
        name=branch.name,
        kind=branch.kind,
        unit_name=unit.name if unit is not None else "",
        meeting_day=branch.meeting_day,
        meeting_time=branch.meeting_time,
        location=branch.location,
        secretary=next((m.full_name for m in leaders if m.role == MemberRole.SECRETARY), None),
        deputies=[m.full_name for m in leaders if m.role == MemberRole.DEPUTY_SECRETARY],
        members=total,
        on_telegram=on_telegram,
        chat_title=binding.chat_title if binding is not None else None,
    )


async def member_page(
    session: AsyncSession,
    actor: Actor,
    *,
    branch_id: int | None = None,
    code: str | None = None,
    page: int = 0,
    action: Action = Action.VIEW_BRANCH,
    page_size: int = PAGE_SIZE,
) -> MemberPage:
    """One page of a branch's active members, after checking `action` on that branch."""
    repo = AccessRepository(session)
    if branch_id is None and code is None and action is Action.MANAGE_BRANCH:
        led = actor.led_branch_ids()
        if not led and not actor.is_any_admin:
            raise Refused("policy.needs_secretary")
        if led:
            branch_id = led[0]
    branch = await repo.branch(await _branch_for(session, actor, branch_id, code))
    if branch is None or not branch.active:
        raise Refused("branch.gone")
    require(actor, action, Target.branch(branch))
    total, _ = await repo.count_members(branch.id)
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    # Leaders first, then everyone in Vietnamese alphabetical order of their full name.
    everyone = sorted(
        await repo.active_members(branch.id),
        key=lambda m: (_ROLE_RANK.get(m.role, 2), vn_key(m.full_name), m.id),
    )
    rows = everyone[page * page_size : (page + 1) * page_size]
    used = await repo.with_account(m.telegram_id for m in rows)  # not imported ids alone
    return MemberPage(
        branch_id=branch.id,
        branch_name=branch.name,
        rows=[MemberRow(m.id, m.full_name, m.role, m.status, m.telegram_id in used) for m in rows],
        page=page,
        pages=pages,
        total=total,
    )
