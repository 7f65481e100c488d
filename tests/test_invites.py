"""Invites, contact matching, people views and admin management at the service level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import people
from bot.services.access import admins, invites
from bot.services.access.policy import Action, Refused, load_actor
from storage.db import create_session_factory
from storage.models import AuditLog, CommitteeAdmin, Invite, Member
from tests import orgdata as o

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NEWBIE = 8001


async def _invite(engine: AsyncEngine, who: int, member_id: int) -> invites.IssuedInvite:
    async with create_session_factory(engine)() as s, s.begin():
        actor = await load_actor(s, who)
        return await invites.create_invite(s, actor, member_id, "chibo_bot", NOW)


async def _redeem(
    engine: AsyncEngine, token: str, who: int = NEWBIE, now: datetime = NOW
) -> invites.Joined:
    async with create_session_factory(engine)() as s, s.begin():
        return await invites.redeem_invite(s, token, who, "newbie", now)


async def _contact(
    engine: AsyncEngine, phone: str, sender: int = NEWBIE, owner: int | None = NEWBIE
) -> invites.Joined:
    async with create_session_factory(engine)() as s, s.begin():
        return await invites.join_by_contact(
            s, sender_id=sender, contact_user_id=owner, phone=phone, username=None, now=NOW
        )


async def _snapshot(engine: AsyncEngine) -> tuple[list[tuple[int, int | None]], int, int]:
    async with create_session_factory(engine)() as s:
        members = [
            (m.id, m.telegram_id) for m in await s.scalars(select(Member).order_by(Member.id))
        ]
        used = await s.scalar(select(func.count()).where(Invite.used_at.is_not(None)))
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
    return members, int(used or 0), int(audits or 0)


async def test_invite_link_ties_the_account_once(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    issued = await _invite(engine, o.DEP1, org.members["M4"])  # a deputy stands in
    assert issued.url == f"https://t.me/chibo_bot?start=i_{issued.token}"
    assert invites.token_from_payload(f"i_{issued.token}") == issued.token
    assert issued.expires_at == NOW + timedelta(days=7)
    async with create_session_factory(engine)() as s:
        row = (await s.scalars(select(Invite))).one()
    assert row.token_hash == invites.token_hash(issued.token) and issued.token not in row.token_hash

    joined = await _redeem(engine, issued.token)
    assert (joined.full_name, joined.already) == ("Phạm Thị Mới", False)
    assert joined.roles == ["member"]  # the new roles come back: the handler sets the menu
    async with create_session_factory(engine)() as s:
        actor = await load_actor(s, NEWBIE)
        audit = (await s.scalars(select(AuditLog).order_by(AuditLog.id.desc()))).first()
    assert [m.member_id for m in actor.memberships] == [org.members["M4"]]
    assert audit is not None and audit.action == "member.telegram_link.invite"
    assert audit.before == {"telegram_id": None, "telegram_username": None}
    # Pressing the same link again is harmless for its owner, refused for anyone else.
    assert (await _redeem(engine, issued.token)).already
    with pytest.raises(Refused) as err:
        await _redeem(engine, issued.token, who=8002)
    assert err.value.key == "invite.used"


@pytest.mark.parametrize("case", ["unknown", "garbage", "expired", "left_branch", "taken"])
async def test_bad_invites_change_nothing(engine: AsyncEngine, case: str) -> None:
    org = await o.build_org(engine)
    token = (await _invite(engine, o.SEC1, org.members["M4"])).token
    now, who = NOW, NEWBIE
    key = {
        "unknown": "invite.unknown",
        "garbage": "invite.unknown",
        "expired": "invite.expired",
        "left_branch": "invite.member_gone",
        "taken": "join.account_taken",
    }[case]
    if case == "unknown":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "garbage":
        token = "<script>"
    elif case == "expired":
        now = NOW + timedelta(days=7)
    elif case == "left_branch":
        async with create_session_factory(engine)() as s, s.begin():
            await s.execute(update(Member).where(Member.code == "M4").values(active=False))
    elif case == "taken":
        who = o.MEM1  # already tied to member M3
    before = await _snapshot(engine)
    with pytest.raises(Refused) as err:
        await _redeem(engine, token, who=who, now=now)
    assert err.value.key == key
    assert await _snapshot(engine) == before


async def test_invites_only_for_members_the_person_manages(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    for who, member, key in [
        (o.MEM1, "M4", "policy.needs_secretary"),
        (o.SEC1, "M10", "policy.not_your_branch"),  # forged member id of another branch
        (o.SEC_OTHER, "M4", "policy.other_district"),
        (o.WG_MEMBER, "M4", "policy.not_your_branch"),
        (o.STRANGER, "M4", "policy.unknown_person"),
    ]:
        with pytest.raises(Refused) as err:
            await _invite(engine, who, org.members[member])
        assert err.value.key == key
    with pytest.raises(Refused) as err:
        await _invite(engine, o.SEC1, 999999)
    assert err.value.key == "invite.member_gone"
    await _invite(engine, o.ADMIN, org.members["M10"])


async def test_contact_in_vietnamese_formats_matches_the_member(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    joined = await _contact(engine, "84 912 345 678")
    assert joined.member_id == org.members["M4"] and not joined.already
    assert (await _contact(engine, "+84912345678")).already
    # Another account sharing the same number cannot take the member over.
    with pytest.raises(Refused) as err:
        await _contact(engine, "0912345678", sender=8002, owner=8002)
    assert err.value.key == "contact.member_taken"


@pytest.mark.parametrize(
    ("phone", "owner", "key"),
    [
        ("0912345678", 4242, "contact.not_yours"),  # somebody else's contact card
        ("0912345678", None, "contact.not_yours"),  # a contact without a Telegram user id
        ("12345", NEWBIE, "contact.bad_phone"),
        ("0911111111", NEWBIE, "contact.no_match"),
        ("0900000103", NEWBIE, "contact.member_taken"),
    ],
)
async def test_bad_contacts_change_nothing(
    engine: AsyncEngine, phone: str, owner: int | None, key: str
) -> None:
    await o.build_org(engine)
    before = await _snapshot(engine)
    with pytest.raises(Refused) as err:
        await _contact(engine, phone, owner=owner)
    assert err.value.key == key
    assert await _snapshot(engine) == before


async def test_two_members_with_one_phone_is_ambiguous(engine: AsyncEngine) -> None:
    await o.build_org(engine)
    async with create_session_factory(engine)() as s, s.begin():
        await s.execute(update(Member).where(Member.code == "M10").values(phone=o.NEW_PHONE))
    with pytest.raises(Refused) as err:
        await _contact(engine, "0912345678")
    assert err.value.key == "contact.ambiguous"


async def test_people_views(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    factory = create_session_factory(engine)
    async with factory() as s:
        sec = await load_actor(s, o.SEC1)
        me = await people.whoami(s, sec)
        card = await people.branch_card(s, sec)
        page0 = await people.member_page(s, sec, page=0, page_size=2)
        page_last = await people.member_page(s, sec, page=99, page_size=2)
        wgm = await load_actor(s, o.WG_MEMBER)
        visited = await people.branch_card(s, wgm, code="t01u01b01")
        with pytest.raises(Refused) as err:
            await people.member_page(s, wgm, branch_id=org.b2)
        with pytest.raises(Refused) as err2:
            await people.member_page(s, wgm, action=Action.MANAGE_BRANCH)
    assert me.memberships[0].branch_name == "Chi bộ thôn Một" and me.known
    assert me.memberships[0].unit_name == "Đảng ủy xã An"
    assert (card.secretary, card.deputies) == ("Nguyễn Văn Bí", ["Trần Thị Phó"])
    # Three have an imported Telegram id, none opened the Trợ lý: none used it.
    assert (card.members, card.on_telegram, card.chat_title) == (5, 0, None)
    # Leaders first, then by name; the page is clamped to the last one.
    assert [r.role for r in page0.rows] == ["secretary", "deputy_secretary"]
    assert (page0.pages, page0.total, page_last.page) == (3, 5, 2)
    assert len(page_last.rows) == 1
    assert visited.id == org.b1
    assert err.value.key == "policy.not_your_branch"
    assert err2.value.key == "policy.needs_secretary"


async def test_admins_cannot_remove_the_last_admin(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    factory = create_session_factory(engine)

    async def run(who: int, op: str, target: int) -> None:
        async with factory() as s, s.begin():
            actor = await load_actor(s, who)
            district = await admins.pick_district(s, actor, None)
            fn = admins.add_admin if op == "add" else admins.remove_admin
            await fn(s, actor, district, target, NOW)

    with pytest.raises(Refused) as err:
        await run(o.ADMIN, "remove", o.ADMIN)
    assert err.value.key == "admins.last"
    await run(o.ADMIN, "add", 9001)
    with pytest.raises(Refused) as err:
        await run(o.ADMIN, "add", 9001)
    assert err.value.key == "admins.already"
    await run(9001, "remove", o.ADMIN)  # the new admin removes the first: allowed, not last
    with pytest.raises(Refused) as err:
        await run(o.SEC1, "add", 9002)
    assert err.value.key == "policy.needs_admin"
    async with factory() as s:
        rows = (await s.scalars(select(CommitteeAdmin).where(CommitteeAdmin.active))).all()
        listed = await admins.list_admins(s, await load_actor(s, 9001), org.district)
        actions = (
            await s.scalars(select(AuditLog.action).where(AuditLog.action.like("admin.%")))
        ).all()
        boot = await load_actor(s, 5555, (5555,))
        with pytest.raises(Refused) as err:
            await admins.pick_district(s, boot, None)  # two districts: must say which
        assert err.value.key == "admins.which_district"
        assert await admins.pick_district(s, boot, "T02") == org.other_district
    assert sorted((r.district_id, r.telegram_id) for r in rows) == sorted(
        [(org.district, 9001), (org.other_district, o.ADMIN_OTHER)]
    )
    assert [a.telegram_id for a in listed.admins] == [9001]
    assert sorted(actions) == ["admin.add", "admin.remove"]
