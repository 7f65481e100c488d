"""Who a broadcast reaches: each audience part, their combinations, the commune admin's
scope, and the preview's list of chats that cannot be reached, with why."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import broadcasts as bc
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from storage.models import Broadcast, BroadcastRecipient, OutboxEntry
from storage.models.org import TargetType
from tests import orgdata as o
from tests.broadcast_world import COMMUNE_ADMIN, G_B1, G_B4, G_U1, G_WG, BcWorld, bc_world


async def _resolve(w: BcWorld, audience: Audience, by: int = o.ADMIN) -> list[tuple[object, ...]]:
    async with w.factory() as s:
        actor = await w.actor(by, s)
        found = await bc.resolve(s, actor, w.org.district, audience)
    return [(r.target_type, r.target_id, r.chat_id, r.reason) for r in found]


def A(*parts: P, units: tuple[int, ...] = (), kinds: tuple[str, ...] = ()) -> Audience:
    return Audience(parts=frozenset(parts), unit_ids=frozenset(units), kinds=frozenset(kinds))


async def test_each_part_alone(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    org = w.org
    groups = [
        ("branch", org.b1, G_B1, None),
        ("branch", org.b2, None, "not_linked"),
        ("branch", org.b3, None, "bot_removed"),
        ("branch", w.b4, G_B4, None),
        ("branch", w.b5, None, "not_linked"),
    ]
    assert await _resolve(w, A(P.ALL_BRANCH_GROUPS)) == groups
    assert await _resolve(w, A(P.UNIT_BRANCHES, units=(org.u1,))) == groups[:2]
    assert await _resolve(w, A(P.BRANCH_KINDS, kinds=("school", "health"))) == [
        groups[1],
        groups[4],
    ]
    m = org.members
    # SEC1 leads B01 and B04: one private chat; SEC2 never wrote, SEC3 blocked the bot.
    assert await _resolve(w, A(P.SECRETARIES)) == [
        ("secretary", m["M1"], o.SEC1, None),
        ("secretary", m["M6"], None, "no_private_chat"),
        ("secretary", m["M7"], None, "no_private_chat"),
        ("secretary", 0, None, "no_secretary"),
    ]
    assert await _resolve(w, A(P.UNIT_CHATS)) == [
        ("unit", org.u1, G_U1, None),
        ("unit", org.u2, None, "not_linked"),
    ]
    assert await _resolve(w, A(P.WORKING_GROUPS)) == [("working_group", org.wg, G_WG, None)]


async def test_combinations(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    org = w.org
    # Units and kinds narrow each other: the village branches of T01U01.
    assert await _resolve(
        w, A(P.UNIT_BRANCHES, P.BRANCH_KINDS, units=(org.u1,), kinds=("village",))
    ) == [("branch", org.b1, G_B1, None)]
    # "All" wins over both filters.
    everything = await _resolve(w, A(P.ALL_BRANCH_GROUPS, P.UNIT_BRANCHES, units=(org.u1,)))
    assert len(everything) == 5
    # Secretaries and unit chats follow the chosen units.
    assert await _resolve(w, A(P.SECRETARIES, P.UNIT_CHATS, P.UNIT_BRANCHES, units=(org.u2,))) == [
        ("branch", org.b3, None, "bot_removed"),
        ("branch", w.b4, G_B4, None),
        ("branch", w.b5, None, "not_linked"),
        ("secretary", org.members["M7"], None, "no_private_chat"),
        ("secretary", org.members["M11"], o.SEC1, None),
        ("secretary", 0, None, "no_secretary"),
        ("unit", org.u2, None, "not_linked"),
    ]
    full = await _resolve(w, A(P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS))
    chats = [c for _t, _i, c, _r in full if c is not None]
    assert sorted(chats) == sorted([G_B1, G_B4, o.SEC1, G_U1, G_WG])
    assert len(chats) == len(set(chats))


async def test_commune_admin_is_kept_to_their_commune(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    org = w.org
    actor = await w.actor(COMMUNE_ADMIN)
    assert actor.admin_units == {(org.district, org.u1)}
    assert not actor.is_admin_of(org.district) and not actor.is_any_admin
    assert await _resolve(w, A(P.ALL_BRANCH_GROUPS), COMMUNE_ADMIN) == [
        ("branch", org.b1, G_B1, None),
        ("branch", org.b2, None, "not_linked"),
    ]
    assert await _resolve(w, A(P.UNIT_CHATS, P.WORKING_GROUPS), COMMUNE_ADMIN) == [
        ("unit", org.u1, G_U1, None),
        ("working_group", org.wg, G_WG, None),
    ]
    async with w.factory() as s:
        choices = await bc.choices(s, actor, org.district)
    assert choices.units == ((org.u1, "Đảng ủy xã An"),) and not choices.whole_district
    assert choices.kinds == ("village", "school")
    # Another commune's branches: refused at set_audience, and the draft is unchanged.
    draft = await w.draft(A(P.ALL_BRANCH_GROUPS), by=COMMUNE_ADMIN)
    with pytest.raises(bc.BroadcastError) as err:
        await _resolve(w, A(P.UNIT_BRANCHES, units=(org.u2,)), COMMUNE_ADMIN)
    assert err.value.key == "bc.other_unit"
    async with w.factory() as s, s.begin():
        with pytest.raises(bc.BroadcastError) as err:
            await bc.set_audience(
                s,
                w.ctx,
                await w.actor(COMMUNE_ADMIN, s),
                draft,
                A(P.UNIT_BRANCHES, units=(org.u2,)),
            )
    assert err.value.key == "bc.other_unit"
    b = await w.broadcast(draft)
    assert b.version == 2 and b.audience == {"parts": ["all"], "unit_ids": [], "kinds": []}
    assert b.unit_id == org.u1


async def test_bad_audiences_are_refused(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    org = w.org
    cases = [
        (A(), o.ADMIN, "bc.empty_audience"),
        (A(P.UNIT_BRANCHES), o.ADMIN, "bc.empty_audience"),
        (A(P.BRANCH_KINDS, kinds=("village",), units=(org.u1,)), o.ADMIN, None),
        (A(P.BRANCH_KINDS, kinds=("castle",)), o.ADMIN, "bc.bad_kind"),
        (A(P.BRANCH_KINDS, kinds=("cooperative",)), o.ADMIN, "bc.empty_audience"),
        (A(P.UNIT_BRANCHES, units=(org.district,)), o.ADMIN, "bc.other_unit"),
        (A(P.UNIT_BRANCHES, units=(999_999,)), o.ADMIN, "bc.other_unit"),
        (A(P.ALL_BRANCH_GROUPS), o.SEC1, "bc.not_admin"),
        (A(P.ALL_BRANCH_GROUPS), o.ADMIN_OTHER, "bc.not_admin"),
        (A(P.ALL_BRANCH_GROUPS), o.STRANGER, "bc.not_admin"),
    ]
    for audience, by, key in cases:
        if key is None:
            assert await _resolve(w, audience, by)
            continue
        with pytest.raises(bc.BroadcastError) as err:
            await _resolve(w, audience, by)
        assert err.value.key == key, (audience, by)
    # Another district's admin naming this district's unit from their own district.
    async with w.factory() as s:
        actor = await w.actor(o.ADMIN_OTHER, s)
        with pytest.raises(bc.BroadcastError) as err:
            await bc.resolve(s, actor, org.other_district, A(P.UNIT_BRANCHES, units=(org.u1,)))
    assert err.value.key == "bc.other_unit"


async def test_preview_names_the_unreachable_with_why(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft(A(P.ALL_BRANCH_GROUPS, P.SECRETARIES))
    async with w.factory() as s:
        actor = await w.actor(o.ADMIN, s)
        pv = await bc.preview(s, w.ctx, actor, draft)
    assert pv.reachable == 3 and pv.version == pv.broadcast.version == 2
    assert [(r.name, r.reason) for r in pv.unreachable] == [
        ("Chi bộ Trường Tiểu học An", "not_linked"),
        ("Chi bộ tổ dân phố Ba", "bot_removed"),
        ("Chi bộ Trạm y tế Bình", "not_linked"),
        ("Đỗ Thị Giáo — Chi bộ Trường Tiểu học An", "no_private_chat"),
        ("Vũ Văn Ba — Chi bộ tổ dân phố Ba", "no_private_chat"),
        ("Chi bộ Trạm y tế Bình", "no_secretary"),
    ]
    texts = {w.ctx.i18n.t(bc.reason_key(r.reason or ""), "vi") for r in pv.unreachable}
    assert "Trợ lý đã bị xóa khỏi nhóm" in texts and "chưa mở trò chuyện riêng với Trợ lý" in texts
    async with w.factory() as s:
        # Nothing was queued or recorded by a preview.
        assert await s.scalar(select(func.count()).select_from(OutboxEntry)) == 0
        assert await s.scalar(select(func.count()).select_from(BroadcastRecipient)) == 0
        assert (await s.get(Broadcast, draft)).status == "draft"  # type: ignore[union-attr]


async def test_commune_admin_row_keeps_district_admin_lists_unchanged(engine: AsyncEngine) -> None:
    """A commune admin is not a district admin: not listed, not counted, no district rights."""
    from bot.services.access.policy import Action, Target, can
    from storage.repositories.access import AccessRepository
    from storage.repositories.org import OrgRepository

    w = await bc_world(engine)
    async with w.factory() as s:
        admins = await AccessRepository(s).district_admins(w.org.district)
        assert [a.telegram_id for a in admins] == [o.ADMIN]
        assert await AccessRepository(s).admin_row(w.org.district, COMMUNE_ADMIN) is None
        assert await OrgRepository(s).admin_district_ids(COMMUNE_ADMIN) == []
        actor = await w.actor(COMMUNE_ADMIN, s)
    assert actor.known and actor.districts == {w.org.district}
    assert not can(actor, Action.MANAGE_ADMINS, Target.committee(w.org.district))
    assert not can(actor, Action.LINK_CHAT, Target(TargetType.UNIT, w.org.u1, w.org.district))
