"""Issue 3 end to end: group linking, invites, contacts, /whoami, /members, bad input refused.

The small two-district org of `tests/orgdata.py` is written into the bot's own database; one
test imports the real dan-phuong data set instead.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select, update

from bot.services.org_import import import_org
from handlers.link_codes import LinkCodeCb
from handlers.org import MembersPage
from handlers.people import InvitePick
from storage.models import AuditLog, ChatBinding, Invite, LinkCode, Member
from tests import orgdata as o
from tests.e2e.access import GROUP, link_code, org_world
from tests.e2e.harness import BotEnv
from tests.helpers import DAN_PHUONG, buttons

DATASET = DAN_PHUONG
LINK_RE = re.compile(r"https://t\.me/\S+\?start=(i_[A-Za-z0-9_-]+)")


async def _db(env: BotEnv) -> dict[str, Any]:
    """A fingerprint of everything a refused request must leave untouched (once settled)."""
    await env.settle()
    async with env.app.session_factory() as s:
        bindings = [
            (b.chat_id, b.target_type, b.target_id, b.active)
            for b in await s.scalars(select(ChatBinding).order_by(ChatBinding.id))
        ]
        members = [
            (m.id, m.telegram_id) for m in await s.scalars(select(Member).order_by(Member.id))
        ]
        used_codes = await s.scalar(select(func.count()).where(LinkCode.used_at.is_not(None)))
        used_invites = await s.scalar(select(func.count()).where(Invite.used_at.is_not(None)))
        audit = await s.scalar(select(func.count()).select_from(AuditLog))
    return {
        "bindings": bindings,
        "members": members,
        "codes": used_codes,
        "invites": used_invites,
        "audit": audit,
    }


async def _telegram_id(env: BotEnv, member_id: int, expected: int) -> int | None:
    """The member's account once the update's transaction has committed (it commits just
    after the reply went out)."""
    value: int | None = None
    for _ in range(100):
        async with env.app.session_factory() as s:
            member = await s.get(Member, member_id)
            value = member.telegram_id if member is not None else None
        if value == expected:
            break
        await asyncio.sleep(0.05)
    return value


async def test_import_dan_phuong_then_whoami_and_members(bot_env: BotEnv) -> None:
    async with bot_env.app.session_factory() as s, s.begin():
        outcome = await import_org(s, DATASET)
    assert outcome.errors == []
    # M0000001, secretary of the district office's branch, has a telegram_id in the file.
    uid = bot_env.user(7000000783, "Trung", "vi")
    me = await bot_env.ask(uid, "/whoami")
    assert "Phạm Quang Trung" in me["text"]
    assert "bí thư" in me["text"] and "Chi bộ Văn phòng Huyện ủy" in me["text"]
    members = await bot_env.ask(uid, "/members")
    assert "trang 1/" in members["text"] and "Phạm Quang Trung" in members["text"]
    nxt = [b for b in buttons(members) if b["text"].startswith("Sau")]
    assert nxt, members["text"]
    answer = await bot_env.press(uid, members, nxt[0]["callback_data"])
    assert answer.get("show_alert") is not True
    page2 = await bot_env.world.wait_for_bot_message(
        uid, lambda m: m["message_id"] == members["message_id"] and "trang 2/" in m["text"]
    )
    assert "9." in page2["text"]  # numbering continues on the next page


async def test_group_linking_story(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    env.world.create_group(
        GROUP, "Chi bộ thôn Một", {o.SEC1: "creator", o.MEM1: "member", o.SEC3: "administrator"}
    )
    env.world.add_bot_to_group(GROUP, o.SEC1)
    hello = await env.world.wait_for_bot_message(GROUP)
    assert "/linkcode" in hello["text"] and "/link" in hello["text"]

    # A secretary gets a code in private and links the group.
    code = await link_code(env, o.SEC1)
    before = await _db(env)
    refused = await env.ask(o.MEM1, f"/link {code}", GROUP)  # not a group administrator
    assert "quản trị viên của nhóm" in refused["text"]
    for bad in ("ABCD-EFGH", code[:-1] + ("A" if code[-1] != "A" else "B"), "xyz"):
        refused = await env.ask(o.SEC1, f"/link {bad}", GROUP)
        assert "Mã không đúng" in refused["text"], bad
    assert await _db(env) == before
    done = await env.ask(o.SEC1, f"/link {code}", GROUP)
    assert "Đã liên kết nhóm này với <b>" not in done["text"]  # HTML was rendered
    assert "Đã liên kết nhóm này với Chi bộ thôn Một" in done["text"]
    await env.settle()
    card = await env.ask(o.MEM1, "/branch")
    assert "Nhóm Telegram: Chi bộ thôn Một" in card["text"]
    used = await env.ask(o.SEC1, f"/link {code}", GROUP)
    assert "đã được dùng" in used["text"]

    # A group already bound to another branch: another secretary's code is refused.
    other = await link_code(env, o.SEC3)
    before = await _db(env)
    refused = await env.ask(o.SEC3, f"/link {other}", GROUP)
    assert "đang được liên kết với Chi bộ thôn Một" in refused["text"]
    assert await _db(env) == before

    # Relinking the branch to a new group moves it and says so.
    env.world.create_group(-100200, "Nhóm mới", {o.DEP1: "creator"})
    env.user(o.DEP1, "Phó", started=True)
    env.world.add_bot_to_group(-100200, o.DEP1)
    await env.world.wait_for_bot_message(-100200)
    moved = await env.ask(o.DEP1, f"/link {await link_code(env, o.DEP1)}", -100200)
    assert "đã được chuyển sang nhóm này" in moved["text"] and "Chi bộ thôn Một" in moved["text"]

    await env.settle()
    # The bot kicked from the new group: the binding goes inactive and the admin is told.
    after = env.last_bot_id(o.ADMIN)
    env.world.remove_bot_from_group(-100200, o.DEP1)
    notice = await env.world.wait_for_bot_message(o.ADMIN, after=after)
    assert "Nhóm mới" in notice["text"] and "Chi bộ thôn Một" in notice["text"]
    async with env.app.session_factory() as s:
        active = (await s.scalars(select(ChatBinding).where(ChatBinding.target_id == org.b1))).all()
    assert [(b.chat_id, b.active, b.unbound_reason) for b in active] == [
        (GROUP, False, "moved"),
        (-100200, False, "bot_kicked"),
    ]


async def test_supergroup_migration_keeps_the_binding(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    env.world.create_group(GROUP, "Chi bộ thôn Một", {o.SEC1: "creator", o.MEM1: "member"})
    env.world.add_bot_to_group(GROUP, o.SEC1)
    await env.world.wait_for_bot_message(GROUP)
    await env.ask(o.SEC1, f"/link {await link_code(env, o.SEC1)}", GROUP)
    env.world.migrate_to_supergroup(GROUP, -1009999)
    await env.settle()
    async with env.app.session_factory() as s:
        card = await s.scalar(select(ChatBinding).where(ChatBinding.active))
    assert card is not None and (card.chat_id, card.target_id) == (-1009999, org.b1)
    # Still linked: linking again in the supergroup says nothing changed.
    code = await link_code(env, o.SEC1)
    await env.settle()
    again = await env.ask(o.SEC1, f"/link {code}", -1009999)
    assert "đã được liên kết với Chi bộ thôn Một rồi" in again["text"]


async def test_invite_link_story(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    picker = await env.ask(o.SEC1, "/invite")
    assert "Chi bộ thôn Một" in picker["text"]
    pick = next(b for b in buttons(picker) if b["text"].startswith("Phạm Thị Mới"))
    await env.press(o.SEC1, picker, pick["callback_data"])
    issued = await env.world.wait_for_bot_message(o.SEC1, lambda m: "t.me/" in m["text"])
    payload = LINK_RE.search(issued["text"])
    await env.settle()
    assert payload, issued["text"]
    assert "lúc" in issued["text"] and "Thứ" in issued["text"]  # "Thứ Năm, 10/12/2026 lúc …"

    newbie = env.user(8001, "Mới", "vi")
    welcome = await env.ask(newbie, f"/start {payload.group(1)}")
    assert "Chào mừng đồng chí Phạm Thị Mới" in welcome["text"]
    await env.settle()
    me = await env.ask(newbie, "/whoami")
    assert "Phạm Thị Mới" in me["text"] and "Chi bộ thôn Một" in me["text"]
    # The member's own menu and /help now show member commands, not the secretary's.
    menu = env.world.commands({"type": "chat", "chat_id": newbie})
    assert [c["command"] for c in menu] == [
        "start",
        "help",
        "language",
        "whoami",
        "branch",
        "members",
        "meetings",
        "ics",
        "feedback",
    ]
    helptext = (await env.ask(newbie, "/help"))["text"]
    assert "/members" in helptext and "/invite" not in helptext
    sec_help = (await env.ask(o.SEC1, "/help"))["text"]
    assert "/invite" in sec_help and "/admins" not in sec_help
    # The link is one-time: somebody else using it is refused and nothing changes.
    before = await _db(env)
    other = env.user(8002, "Khác", "vi")
    used = await env.ask(other, f"/start {payload.group(1)}")
    assert "đã được dùng" in used["text"]
    unknown = await env.ask(other, "/start i_" + "x" * 24)
    assert "không đúng" in unknown["text"]
    assert await _db(env) == before
    assert await _telegram_id(env, org.members["M4"], newbie) == newbie


async def test_expired_invite_is_refused(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    picker = await env.ask(o.SEC1, "/invite")
    await env.press(o.SEC1, picker, InvitePick(member_id=org.members["M5"]).pack())
    issued = await env.world.wait_for_bot_message(o.SEC1, lambda m: "t.me/" in m["text"])
    payload = LINK_RE.search(issued["text"])
    await env.settle()
    assert payload
    before = await _db(env)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1), tick=True):
        late = await env.ask(env.user(8003, "Muộn", "vi"), f"/start {payload.group(1)}")
    assert "hết hạn" in late["text"]
    assert await _db(env) == before


async def test_contact_sharing_story(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    newbie = env.user(8010, "Chưa", "vi")
    after = env.last_bot_id(newbie)
    env.world.send_text(newbie, "/start")
    explain = await env.world.wait_for_bot_message(
        newbie, lambda m: "Gửi số điện thoại" in m["text"], after=after
    )
    assert "/invite" in explain["text"]
    keyboard = env.world.current_keyboard(newbie)
    assert keyboard is not None and keyboard["keyboard"][0][0]["request_contact"] is True

    # Somebody else's contact card is refused, nothing changes.
    before = await _db(env)
    after = env.last_bot_id(newbie)
    env.world.share_contact(newbie, "0987654321", contact_user_id=4242, own=False)
    refused = await env.world.wait_for_bot_message(newbie, after=after)
    assert "chính đồng chí" in refused["text"]
    assert await _db(env) == before

    after = env.last_bot_id(newbie)
    env.world.share_contact(newbie, "+84 98 765 43 21")
    welcome = await env.world.wait_for_bot_message(newbie, after=after)
    assert "Chào mừng đồng chí Ngô Văn Chưa" in welcome["text"]
    assert await _telegram_id(env, org.members["M10"], newbie) == newbie
    await env.settle()
    members = await env.ask(newbie, "/members")
    assert (
        "Chi bộ tổ dân phố Ba" in members["text"] and "Ngô Văn Chưa — đảng viên" in members["text"]
    )


async def test_forged_and_stale_buttons_are_refused(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    picker = await env.ask(o.SEC1, "/invite")
    before = await _db(env)
    forged = [
        InvitePick(member_id=org.members["M10"]).pack(),  # a member of another branch
        MembersPage(branch_id=org.b2, page=0).pack(),  # another branch's list
        MembersPage(branch_id=org.other_branch, page=0).pack(),  # another district
        LinkCodeCb(target_type="branch", target_id=org.b3).pack(),
        LinkCodeCb(target_type="committee", target_id=org.district).pack(),
        LinkCodeCb(target_type="bogus", target_id=1).pack(),
    ]
    for data in forged:
        answer = await env.press(o.SEC1, picker, data, strict=False)
        assert answer["show_alert"] is True, data
        assert answer["text"].startswith("⛔"), (data, answer["text"])
    assert await _db(env) == before

    # The member left the branch (a new import deactivated them) and then the old button...
    pick = next(b for b in buttons(picker) if b["text"].startswith("Hoàng Văn Năm"))
    async with env.app.session_factory() as s, s.begin():
        await s.execute(update(Member).where(Member.code == "M5").values(active=False))
    answer = await env.press(o.SEC1, picker, pick["callback_data"])
    assert "không còn trong danh sách" in answer["text"]
    # ...and the secretary who left the branch cannot use their old buttons either.
    async with env.app.session_factory() as s, s.begin():
        await s.execute(update(Member).where(Member.code == "M1").values(active=False))
    pick = next(b for b in buttons(picker) if b["text"].startswith("Phạm Thị Mới"))
    answer = await env.press(o.SEC1, picker, pick["callback_data"])
    assert answer["show_alert"] is True and answer["text"].startswith("⛔")
    assert (await _db(env))["invites"] == 0
    async with env.app.session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(Invite)) == 0


async def test_admins_command(bot_env: BotEnv) -> None:
    env = bot_env
    await org_world(env)
    listing = await env.ask(o.ADMIN, "/admins")
    assert "Huyện ủy Thử Nghiệm" in listing["text"] and str(o.ADMIN) in listing["text"]
    last = await env.ask(o.ADMIN, f"/admins remove {o.ADMIN}")
    assert "quản trị cuối cùng" in last["text"]
    added = await env.ask(o.ADMIN, "/admins add 9001")
    assert "Đã thêm 9001" in added["text"]
    refused = await env.ask(o.SEC1, "/admins add 9002")
    assert "Chỉ cán bộ quản trị" in refused["text"]
    code = await link_code(env, o.ADMIN, "T01")
    assert code
    unknown = await env.ask(o.ADMIN, "/linkcode NOPE")
    assert "NOPE" in unknown["text"]
    stranger = await env.ask(o.STRANGER, "/whoami")
    assert "chưa nhận ra đồng chí" in stranger["text"] and str(o.STRANGER) in stranger["text"]
    no_code = await env.ask(o.STRANGER, "/linkcode")
    assert "chưa biết đồng chí là đảng viên nào" in no_code["text"]
