"""Rule 15 (issue 20): /start answers from what the update path read with the account.

The sketch (`PersonSketch`, one SELECT with the account) must name the person and shape their
menu exactly as the whole actor would (`load_actor`, four queries): every role, and every way a
role ends (a member leaving, a branch or group closed, an admin removed), is tried in turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.services.access.policy import load_actor, menu_roles, sketch_menu_roles
from storage.db import create_session_factory
from storage.models import Branch, CommitteeAdmin, Member, WorkingGroup
from storage.repositories.update_context import load_update_context
from tests import orgdata as o

BOOT = 12345
PEOPLE = (o.SEC1, o.DEP1, o.MEM1, o.SEC2, o.SEC3, o.WG_LEADER, o.WG_MEMBER, o.ADMIN, o.STRANGER)
PEOPLE += (o.SEC_OTHER, o.ADMIN_OTHER, BOOT)

Step = Callable[[AsyncSession, o.Org], Awaitable[object]]


async def _unit_admin(s: AsyncSession, org: o.Org) -> None:
    s.add(CommitteeAdmin(district_id=org.district, unit_id=org.u1, telegram_id=o.STRANGER))
    s.add(CommitteeAdmin(district_id=org.district, unit_id=org.u2, telegram_id=o.MEM1))


STEPS: list[tuple[str, Step]] = [
    ("as built", lambda s, org: s.flush()),
    ("unit admins", _unit_admin),
    (
        "the group leader leaves",
        lambda s, org: s.execute(
            update(Member).where(Member.telegram_id == o.WG_LEADER).values(active=False)
        ),
    ),
    (
        "a district admin removed",
        lambda s, org: s.execute(
            update(CommitteeAdmin).where(CommitteeAdmin.telegram_id == o.ADMIN).values(active=False)
        ),
    ),
    (
        "the group closed",
        lambda s, org: s.execute(
            update(WorkingGroup).where(WorkingGroup.id == org.wg).values(active=False)
        ),
    ),
    (
        "a branch closed",
        lambda s, org: s.execute(update(Branch).where(Branch.id == org.b1).values(active=False)),
    ),
    (
        "a secretary made a member",
        lambda s, org: s.execute(
            update(Member).where(Member.telegram_id == o.SEC3).values(role="member")
        ),
    ),
]


async def test_rule15_the_sketch_greets_and_menus_as_the_whole_actor(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    factory = create_session_factory(engine)
    checked = set()
    for label, step in STEPS:
        async with factory() as s, s.begin():
            await step(s, org)
        async with factory() as s:
            for tid in PEOPLE:
                actor = await load_actor(s, tid, (BOOT,))
                person = (await load_update_context(s, tid, None)).person
                boot = tid == BOOT
                whole = (
                    actor.memberships[0].full_name if actor.memberships else "",
                    menu_roles(actor),
                    actor.known,
                )
                sketched = (
                    person.name,
                    sketch_menu_roles(person, boot),
                    person.known or boot,
                )
                assert sketched == whole, (label, tid)
                checked.add(tuple(whole[1]))
    # The steps reach every kind of menu, so the equality above was tried on each.
    assert {("unknown",), ("member",), ("member", "secretary"), ("admin",)} <= checked
    assert ("member", "visitor") in checked and ("unit_admin",) in checked
