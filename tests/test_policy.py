"""The permission policy: who may do what, loaded from the database and decided purely."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.access.policy import (
    Action,
    Actor,
    GroupSeat,
    Membership,
    Target,
    can,
    load_actor,
)
from storage.db import create_session_factory
from storage.models.org import TargetType
from tests import orgdata as o


async def _actors(engine: AsyncEngine, *ids: int, bootstrap: tuple[int, ...] = ()) -> list[Actor]:
    async with create_session_factory(engine)() as s:
        return [await load_actor(s, i, bootstrap) for i in ids]


def _branch(org: o.Org, which: str) -> Target:
    unit = {"b1": org.u1, "b2": org.u1, "b3": org.u2, "other_branch": org.u1}[which]
    kind = {"b1": "village", "b2": "school", "b3": "residential", "other_branch": "village"}[which]
    district = org.other_district if which == "other_branch" else org.district
    return Target(TargetType.BRANCH, getattr(org, which), district, unit, kind)


async def test_load_actor_reads_every_role(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    sec, leader, member, admin, stranger, boot = await _actors(
        engine, o.SEC1, o.WG_LEADER, o.WG_MEMBER, o.ADMIN, o.STRANGER, 12345, bootstrap=(12345,)
    )
    assert [(m.branch_id, m.role) for m in sec.memberships] == [(org.b1, "secretary")]
    assert sec.led_branch_ids() == [org.b1] and not sec.groups
    # The leader is not in the member list, yet holds a seat (as leader) in the group.
    assert [(g.group_id, g.leader, g.unit_ids) for g in leader.groups] == [
        (org.wg, True, frozenset({org.u1}))
    ]
    assert [(g.group_id, g.leader) for g in member.groups] == [(org.wg, False)]
    assert member.memberships[0].branch_id == org.b3  # also a member of their own branch
    assert admin.admin_districts == {org.district} and not admin.memberships
    assert not stranger.known and stranger.districts == frozenset()
    assert boot.bootstrap_admin and boot.known


async def test_branch_rules(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    sec, dep, mem, sec2, wgl, wgm, admin, other_admin, stranger = await _actors(
        engine,
        o.SEC1,
        o.DEP1,
        o.MEM1,
        o.SEC2,
        o.WG_LEADER,
        o.WG_MEMBER,
        o.ADMIN,
        o.ADMIN_OTHER,
        o.STRANGER,
    )
    b1, b2, b3 = _branch(org, "b1"), _branch(org, "b2"), _branch(org, "b3")
    manage, view, visit = Action.MANAGE_BRANCH, Action.VIEW_BRANCH, Action.VISIT_BRANCH
    # Secretary and deputy manage their own branch only.
    assert can(sec, manage, b1) and can(dep, manage, b1)
    assert can(sec, manage, b2).reason == "policy.not_your_branch"
    assert can(sec2, manage, b1).reason == "policy.not_your_branch"
    # A plain member views but does not manage.
    assert can(mem, view, b1)
    assert can(mem, manage, b1).reason == "policy.needs_secretary"
    # Working group: covers unit 1; visits its village branch, not its school branch.
    for person in (wgl, wgm):
        assert can(person, visit, b1) and can(person, view, b1)
        assert can(person, visit, b2).reason == "policy.not_visited_kind"
        assert not can(person, view, b2)
        assert not can(person, manage, b1)
    assert can(wgm, visit, b3).reason == "policy.not_covered"
    assert can(wgm, view, b3)  # their own branch
    # Admins act anywhere in their district, nowhere else.
    assert all(can(admin, a, t) for a in Action for t in (b1, b2, b3))
    assert can(other_admin, manage, b1).reason == "policy.other_district"
    assert can(stranger, view, b1).reason == "policy.unknown_person"


async def test_link_and_admin_rules(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    sec, wgl, wgm, admin = await _actors(engine, o.SEC1, o.WG_LEADER, o.WG_MEMBER, o.ADMIN)
    group = Target(TargetType.WORKING_GROUP, org.wg, org.district)
    unit = Target(TargetType.UNIT, org.u1, org.district, org.u1)
    committee = Target.committee(org.district)
    assert can(sec, Action.LINK_CHAT, _branch(org, "b1"))
    assert can(wgl, Action.LINK_CHAT, group)
    assert can(wgm, Action.LINK_CHAT, group).reason == "policy.needs_group_leader"
    for target in (unit, committee):
        assert can(sec, Action.LINK_CHAT, target).reason == "policy.needs_admin"
        assert can(admin, Action.LINK_CHAT, target)
    assert can(sec, Action.MANAGE_ADMINS, committee).reason == "policy.needs_admin"
    assert can(admin, Action.MANAGE_ADMINS, committee)
    assert not can(admin, Action.MANAGE_ADMINS, Target.committee(org.other_district))


async def test_inactive_member_loses_rights(engine: AsyncEngine) -> None:
    """A secretary who left the branch (deactivated by an import) has no rights left."""
    from sqlalchemy import update

    from storage.models import Member

    org = await o.build_org(engine)
    async with create_session_factory(engine)() as s, s.begin():
        await s.execute(update(Member).where(Member.telegram_id == o.SEC1).values(active=False))
    (sec,) = await _actors(engine, o.SEC1)
    assert not sec.known
    assert not can(sec, Action.VIEW_BRANCH, _branch(org, "b1"))


# --- invariants over arbitrary actors ------------------------------------------------------

DISTRICTS = (1, 2)
UNITS = {1: (10, 11), 2: (20, 21)}
KINDS = ("village", "residential", "school", "agency")


@st.composite
def actors(draw: st.DrawFn) -> Actor:
    memberships = []
    for i in range(draw(st.integers(0, 2))):
        d = draw(st.sampled_from(DISTRICTS))
        memberships.append(
            Membership(
                member_id=i,
                full_name="x",
                branch_id=draw(st.integers(100, 105)),
                branch_code="c",
                branch_name="n",
                branch_kind=draw(st.sampled_from(KINDS)),
                unit_id=draw(st.sampled_from(UNITS[d])),
                district_id=d,
                role=draw(st.sampled_from(("member", "deputy_secretary", "secretary"))),
                status="official",
            )
        )
    groups = []
    for i in range(draw(st.integers(0, 2))):
        d = draw(st.sampled_from(DISTRICTS))
        units = draw(st.frozensets(st.sampled_from(UNITS[d])))
        groups.append(GroupSeat(i, "g", "g", d, units, draw(st.booleans())))
    admins = draw(st.frozensets(st.sampled_from(DISTRICTS), max_size=1))
    return Actor(1, tuple(memberships), tuple(groups), admins)


@st.composite
def targets(draw: st.DrawFn) -> Target:
    d = draw(st.sampled_from(DISTRICTS))
    kind = draw(st.sampled_from(list(TargetType)))
    unit = draw(st.sampled_from(UNITS[d]))
    if kind is TargetType.BRANCH:
        return Target(kind, draw(st.integers(100, 105)), d, unit, draw(st.sampled_from(KINDS)))
    return Target(kind, draw(st.integers(0, 3)), d, unit)


@given(actors(), st.sampled_from(list(Action)), targets())
def test_nobody_acts_across_districts(actor: Actor, action: Action, target: Target) -> None:
    decision = can(actor, action, target)
    if target.district_id not in actor.districts:
        assert not decision
    if actor.is_admin_of(target.district_id):
        assert decision
    # Branch management needs a leading seat in that very branch (or admin rights).
    if action is Action.MANAGE_BRANCH and decision:
        assert actor.is_admin_of(target.district_id) or any(
            m.branch_id == target.id and m.role != "member" for m in actor.memberships
        )
    # Denials always carry a reason the catalog can translate.
    assert decision.reason.startswith("policy.")


@given(actors(), st.sampled_from(list(Action)), targets())
def test_bootstrap_admins_act_everywhere(actor: Actor, action: Action, target: Target) -> None:
    boot = Actor(actor.telegram_id, actor.memberships, actor.groups, actor.admin_districts, True)
    assert can(boot, action, target)
