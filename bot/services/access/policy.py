"""Who may do what: the one permission module every handler and service asks.

An `Actor` is everything we know about a Telegram account's roles, loaded once per update:
its active member rows (branch, role), the working groups those members sit in (and the units
the groups cover), the districts it administers, the communes it administers (a commune admin:
a `committee_admins` row with a `unit_id`, which only lets them broadcast to that commune), and
whether it is a bootstrap admin.

`can(actor, action, target)` is a pure function over that snapshot, so it is cheap, easy to
test exhaustively and the same everywhere. The rules:

* Nobody acts across districts (bootstrap admins excepted, see below).
* Committee admins act on anything in their district.
* A secretary manages their own branch; a deputy secretary may stand in for the secretary, so
  deputies hold the same branch rights. Plain members may view their branch.
* A working-group member may view and visit the branches of the units their group covers, of
  the kinds the group visits (village and residential unless the import names others, as a
  commune committee attending every branch does); the group's leader may link its own chat.
* Units and the committee itself are linked by committee admins only.

Bootstrap admins (`ADMIN_IDS`) are the installation's operators: they act as admins of every
district and are never written to `committee_admins` (so removing them from the setting takes
their rights away at once, and `/admins` never shows or counts them). They use `/admins` to
create each district's first stored admin.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch, Unit, WorkingGroup
from storage.models.org import LEADER_ROLES, VISITED_KINDS_DEFAULT, TargetType
from storage.repositories.access import AccessRepository
from storage.repositories.update_context import PersonSketch


class Refused(Exception):
    """A request refused for a reason the person can read: a catalog key and its fields."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Action(enum.StrEnum):
    VIEW_BRANCH = "view_branch"  # branch card and member list
    MANAGE_BRANCH = "manage_branch"  # invites, and the branch's link code
    VISIT_BRANCH = "visit_branch"  # a working group attending the branch's meetings
    LINK_CHAT = "link_chat"  # get a link code for the target's group chat
    MANAGE_ADMINS = "manage_admins"  # /admins add/remove


@dataclass(frozen=True)
class Membership:
    member_id: int
    full_name: str
    branch_id: int
    branch_code: str
    branch_name: str
    branch_kind: str
    unit_id: int
    district_id: int
    role: str
    status: str


@dataclass(frozen=True)
class GroupSeat:
    group_id: int
    code: str
    name: str
    district_id: int
    unit_ids: frozenset[int]
    leader: bool
    # The kinds of branch the group visits (village and residential unless the import said).
    kinds: frozenset[str] = VISITED_KINDS_DEFAULT


@dataclass(frozen=True)
class Actor:
    telegram_id: int
    memberships: tuple[Membership, ...] = ()
    groups: tuple[GroupSeat, ...] = ()
    admin_districts: frozenset[int] = frozenset()
    bootstrap_admin: bool = False
    # A commune's admins: (district id, unit id) pairs. They act for that unit only (its
    # broadcasts); none of the district admin's rights above come with it.
    admin_units: frozenset[tuple[int, int]] = frozenset()

    @property
    def known(self) -> bool:
        return bool(
            self.memberships
            or self.groups
            or self.admin_districts
            or self.admin_units
            or self.bootstrap_admin
        )

    @property
    def districts(self) -> frozenset[int]:
        return (
            frozenset(m.district_id for m in self.memberships)
            | frozenset(g.district_id for g in self.groups)
            | self.admin_districts
            | frozenset(d for d, _u in self.admin_units)
        )

    def admin_unit_ids(self, district_id: int) -> frozenset[int]:
        """The units of `district_id` this person administers as a commune admin."""
        return frozenset(u for d, u in self.admin_units if d == district_id)

    def is_unit_admin_of(self, unit_id: int) -> bool:
        return any(u == unit_id for _d, u in self.admin_units)

    @property
    def is_any_admin(self) -> bool:
        return self.bootstrap_admin or bool(self.admin_districts)

    def is_admin_of(self, district_id: int) -> bool:
        return self.bootstrap_admin or district_id in self.admin_districts

    @property
    def leads_a_branch(self) -> bool:
        return any(m.role in LEADER_ROLES for m in self.memberships)

    def led_branch_ids(self) -> list[int]:
        return [m.branch_id for m in self.memberships if m.role in LEADER_ROLES]


@dataclass(frozen=True)
class Target:
    """What an action is about; built from rows so the policy never queries."""

    type: TargetType
    id: int
    district_id: int
    unit_id: int | None = None
    branch_kind: str | None = None

    @classmethod
    def branch(cls, branch: Branch) -> Target:
        return cls(TargetType.BRANCH, branch.id, branch.district_id, branch.unit_id, branch.kind)

    @classmethod
    def unit(cls, unit: Unit) -> Target:
        assert unit.district_id is not None
        if unit.id == unit.district_id:
            return cls.committee(unit.id)
        return cls(TargetType.UNIT, unit.id, unit.district_id, unit.id)

    @classmethod
    def working_group(cls, group: WorkingGroup) -> Target:
        return cls(TargetType.WORKING_GROUP, group.id, group.district_id)

    @classmethod
    def committee(cls, district_id: int) -> Target:
        return cls(TargetType.COMMITTEE, district_id, district_id, district_id)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = field(default="policy.allowed")

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


def can(actor: Actor, action: Action, target: Target) -> Decision:
    """Decide whether `actor` may do `action` on `target`; a denial carries a catalog key."""
    if actor.bootstrap_admin:
        return ALLOW
    if not actor.known:
        return _deny("policy.unknown_person")
    if target.district_id not in actor.districts:
        return _deny("policy.other_district")
    if actor.is_admin_of(target.district_id):
        return ALLOW
    if action is Action.MANAGE_ADMINS:
        return _deny("policy.needs_admin")
    if target.type is TargetType.BRANCH:
        return _branch_rule(actor, action, target)
    if target.type is TargetType.WORKING_GROUP and action is Action.LINK_CHAT:
        if any(g.group_id == target.id and g.leader for g in actor.groups):
            return ALLOW
        return _deny("policy.needs_group_leader")
    return _deny("policy.needs_admin")


def _branch_rule(actor: Actor, action: Action, target: Target) -> Decision:
    own = [m for m in actor.memberships if m.branch_id == target.id]
    leads = any(m.role in LEADER_ROLES for m in own)
    covering = [g for g in actor.groups if target.unit_id in g.unit_ids]
    visited_kind = any(target.branch_kind in g.kinds for g in covering)
    if action in (Action.MANAGE_BRANCH, Action.LINK_CHAT):
        if leads:
            return ALLOW
        return _deny("policy.needs_secretary" if own else "policy.not_your_branch")
    if action is Action.VIEW_BRANCH:
        if own or (covering and visited_kind):
            return ALLOW
        return _deny("policy.not_your_branch")
    if action is Action.VISIT_BRANCH:
        if covering and visited_kind:
            return ALLOW
        return _deny("policy.not_visited_kind" if covering else "policy.not_covered")
    return _deny("policy.needs_admin")


def require(actor: Actor, action: Action, target: Target) -> None:
    """`can`, raising `Refused` with the reason when denied (for services)."""
    decision = can(actor, action, target)
    if not decision:
        raise Refused(decision.reason)


async def load_actor(
    session: AsyncSession, telegram_id: int, bootstrap_admin_ids: Collection[int] = ()
) -> Actor:
    """Everything the policy needs about one account, in four small queries."""
    repo = AccessRepository(session)
    memberships = tuple(
        Membership(
            member_id=m.id,
            full_name=m.full_name,
            branch_id=b.id,
            branch_code=b.code,
            branch_name=b.name,
            branch_kind=b.kind,
            unit_id=b.unit_id,
            district_id=m.district_id,
            role=m.role,
            status=m.status,
        )
        for m, b in await repo.memberships(telegram_id)
    )
    member_ids = [m.member_id for m in memberships]
    seats = await repo.working_groups_of_members(member_ids)
    units = await repo.group_unit_ids([g.id for g, _ in seats])
    groups: dict[int, GroupSeat] = {}
    for group, member_id in seats:
        leader = group.leader_member_id == member_id
        prior = groups.get(group.id)
        groups[group.id] = GroupSeat(
            group_id=group.id,
            code=group.code,
            name=group.name,
            district_id=group.district_id,
            unit_ids=frozenset(units.get(group.id, ())),
            leader=leader or (prior is not None and prior.leader),
            kinds=group.visited_kinds,
        )
    admin_rows = await repo.admin_rows(telegram_id)
    admin_districts = frozenset(a.district_id for a in admin_rows if a.unit_id is None)
    admin_units = frozenset((a.district_id, a.unit_id) for a in admin_rows if a.unit_id is not None)
    return Actor(
        telegram_id=telegram_id,
        memberships=memberships,
        groups=tuple(groups.values()),
        admin_districts=admin_districts,
        bootstrap_admin=telegram_id in bootstrap_admin_ids,
        admin_units=admin_units,
    )


def menu_roles(actor: Actor) -> list[str]:
    """The roles that shape the person's command menu and /help, broadest last."""
    return _menu_roles(
        known=actor.known,
        member=bool(actor.memberships or actor.groups),
        visitor=bool(actor.groups),
        leader=actor.leads_a_branch,
        admin=actor.is_any_admin,
        unit_admin=bool(actor.admin_units),
    )


def sketch_menu_roles(person: PersonSketch, bootstrap_admin: bool) -> list[str]:
    """`menu_roles` from the flags read with the account (`PersonSketch`), without loading the
    actor: the same rule, so the same menu (a test holds the two equal)."""
    return _menu_roles(
        known=person.known or bootstrap_admin,
        member=person.member or person.group,
        visitor=person.group,
        leader=person.leader,
        admin=bootstrap_admin or person.admin_district,
        unit_admin=person.admin_unit,
    )


def _menu_roles(
    *, known: bool, member: bool, visitor: bool, leader: bool, admin: bool, unit_admin: bool
) -> list[str]:
    if not known:
        return ["unknown"]
    roles = []
    if member:
        roles.append("member")
    if visitor:
        roles.append("visitor")
    if leader:
        roles.append("secretary")
    if admin:
        roles.append("admin")
    elif unit_admin:
        roles.append("unit_admin")
    return roles


def admin_districts_of(actor: Actor, all_districts: Iterable[int]) -> list[int]:
    """Districts the actor administers (bootstrap admins: all of them)."""
    if actor.bootstrap_admin:
        return list(all_districts)
    return sorted(actor.admin_districts)


class Role(enum.StrEnum):
    """What a handler may ask of the person before it runs (the role filter asks `has_role`)."""

    KNOWN = "known"  # any member, group member or admin the bot knows
    LEADER = "leader"  # secretary or deputy of at least one branch
    ADMIN = "admin"  # committee admin of some district (or bootstrap admin)


def has_role(actor: Actor, role: Role) -> Decision:
    """Whether `actor` holds `role`; a denial carries the catalog key the person reads."""
    if actor.bootstrap_admin:
        return ALLOW
    if not actor.known:
        return _deny("policy.unknown_person")
    if role is Role.LEADER and not actor.leads_a_branch:
        return _deny("policy.needs_secretary")
    if role is Role.ADMIN and not actor.is_any_admin:
        return _deny("policy.needs_admin")
    return ALLOW
