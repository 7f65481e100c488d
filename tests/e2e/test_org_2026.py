"""The organisation as it is since July 2025, end to end: a commune committee at the top with
nothing above it (the sample `commune`), and a province over two communes and a ward (the
sample `province`), each imported from the generator's files and run through every capability
in the bot: its admins (a lower committee's admin made with /admins), linking a branch's
group, a meeting by the quick form with RSVP in the group, the committee's roster of visits,
a kiến nghị raised and answered, a broadcast, a nudge, a report. Every text the bot sent is
then read: none names a district ("Huyện ủy", "huyện", "thị trấn") unless the organisation's
own names do.

Expected texts come from the catalogs; the organisation's names from its own data.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.jobs.nudges import sweep_job
from bot.buttons.feedback import CardAct
from bot.buttons.meetings import RsvpCb, RsvpChoice
from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.feedback.items import NewItem, raise_item
from bot.services.meetings.reports import ReportInput
from storage.models import (
    Branch,
    CommitteeAdmin,
    FeedbackItem,
    Meeting,
    MeetingRsvp,
    Member,
    RosterVisit,
    TelegramUser,
    Unit,
)
from tests.conftest import _Templates
from tests.e2e.access import link_code
from tests.e2e.feedback_world import card_button, number
from tests.e2e.org2026_world import SHAPES, Org2026
from tests.e2e.rosters_world import Msg, RosterWorld, plain, roster_world
from tests.helpers import buttons, local

GROUP = -1_001_400_001
NEW_ADMIN = 8_960_001
FORBIDDEN = re.compile(r"\b(huyện ủy|huyện|thị trấn)\b", re.IGNORECASE)


@pytest.fixture(scope="session")
def org2026(db_templates: _Templates) -> Org2026:
    return Org2026(db_templates)


@pytest.fixture(params=SHAPES)
def org2026_url(
    request: pytest.FixtureRequest, db_backend: str, org2026: Org2026, tmp_path: Path
) -> Iterator[str]:
    shape = str(request.param)
    if db_backend == "sqlite":
        with org2026.sqlite_database(shape) as url:
            yield url
        return
    with org2026.pg_database(shape) as url:
        yield url


@pytest.fixture
async def w(org2026_url: str) -> AsyncIterator[RosterWorld]:
    async with roster_world(org2026_url) as world:
        yield world


async def _one(w: RosterWorld, stmt: Any) -> Any:
    async with w.env.app.session_factory() as s:
        found = (await s.scalars(stmt)).first()
    assert found is not None, str(stmt)
    return found


async def _account(w: RosterWorld, member: Member, tg: int) -> int:
    """The member gets a Telegram account (the data may have none) the bot and sandbox know."""
    async with w.env.app.session_factory() as s, s.begin():
        row = await s.get(Member, member.id)
        assert row is not None
        row.telegram_id = tg
        if await s.get(TelegramUser, tg) is None:
            s.add(TelegramUser(id=tg, first_name=member.full_name.split()[-1]))
    w.env.user(tg, member.full_name.split()[-1], "vi", started=True)
    return tg


async def _say(w: RosterWorld, who: int, text: str, contains: str, chat: int | None = None) -> Msg:
    msg: Msg = await w.env.ask(
        who, text, chat, predicate=lambda m: contains in plain(m.get("text") or "")
    )
    return msg


async def test_a_2026_organisation_runs_every_capability_in_its_own_words(
    w: RosterWorld,
) -> None:
    env = w.env
    top: Unit = await _one(w, select(Unit).where(Unit.parent_id.is_(None)))
    assert top.level_name in ("Đảng ủy xã", "Tỉnh ủy")
    # The committee that runs the branches: the top itself (a commune), or its first commune.
    commune: Unit = await _one(
        w,
        select(Unit).where(Unit.kind == "commune", Unit.district_id == top.id).order_by(Unit.code),
    )
    lower: Unit = await _one(
        w, select(Unit).where(Unit.parent_id == commune.id).order_by(Unit.code)
    )
    admin_row: CommitteeAdmin = await _one(
        w,
        select(CommitteeAdmin).where(
            CommitteeAdmin.district_id == top.id, CommitteeAdmin.unit_id.is_(None)
        ),
    )
    admin = admin_row.telegram_id
    env.user(admin, "Quản", "vi", started=True)

    # Admins: the import made the top's admin; it makes a lower committee's admin in the bot.
    me = await _say(w, admin, "/whoami", top.name)
    assert w.t("whoami.admin", district=top.name) in plain(me["text"])
    added = await _say(w, admin, f"/admins add {NEW_ADMIN} {lower.code}", str(NEW_ADMIN))
    assert w.t("admins.added", id=NEW_ADMIN, district=lower.name) in plain(added["text"])
    env.user(NEW_ADMIN, "Mới", "vi", started=True)
    help_text = plain((await _say(w, NEW_ADMIN, "/help", w.t("help.text").split("\n")[0]))["text"])
    assert w.t("help.unit_admin").strip() in help_text
    assert w.t("help.beside_app").strip() in help_text

    # A village branch of the commune: its secretary links the branch's group.
    branch: Branch = await _one(
        w,
        select(Branch)
        .where(Branch.unit_id == commune.id, Branch.kind.in_(["village", "residential"]))
        .order_by(Branch.code),
    )
    secretary: Member = await _one(
        w, select(Member).where(Member.branch_id == branch.id, Member.role == "secretary")
    )
    member: Member = await _one(
        w,
        select(Member)
        .where(Member.branch_id == branch.id, Member.role == "member")
        .order_by(Member.code),
    )
    sec = await _account(w, secretary, 8_970_001)
    mem = await _account(w, member, 8_970_002)
    env.world.create_group(GROUP, branch.name, {sec: "creator", mem: "member"})
    env.world.add_bot_to_group(GROUP, sec)
    await env.world.wait_for_bot_message(GROUP)
    code = await link_code(env, sec)
    done = await env.ask(sec, f"/link {code}", GROUP)
    assert plain(w.raw("link.done", target=branch.name)) in plain(done["text"])
    await env.settle()

    # January's meeting by the quick form; the group is told; a member answers in the group.
    after = env.last_bot_id(GROUP)
    reply = await env.ask(sec, "/schedule 05/01 19:30 Nhà văn hóa")
    if buttons(reply) and not env.world.bot_messages(GROUP)[-1]["message_id"] > after:
        await env.press(sec, reply, buttons(reply)[0]["callback_data"])  # a confirm step
    announce = await env.world.wait_for_bot_message(
        GROUP, lambda m: w.t("mtg.announce.head") in plain(m.get("text") or ""), after=after
    )
    meeting: Meeting = await _one(
        w,
        select(Meeting).where(
            Meeting.branch_id == branch.id, Meeting.period_year == 2027, Meeting.period_month == 1
        ),
    )
    answer = await env.press(mem, announce, RsvpCb(meeting_id=meeting.id, a=RsvpChoice.YES).pack())
    assert answer.get("show_alert") is not True, answer
    await env.settle()
    rsvp: MeetingRsvp = await _one(
        w, select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting.id)
    )
    assert rsvp.answer == "yes"

    # The roster: the committee's members attend the branches' meetings, never their own.
    await w.publish()
    async with env.app.session_factory() as s:
        visits = list(await s.scalars(select(RosterVisit)))
        homes = {m.id: m.branch_id for m in await s.scalars(select(Member))}
        kinds = {b.id: b.kind for b in await s.scalars(select(Branch))}
    assert visits and all(homes[v.visitor_member_id] != v.branch_id for v in visits)
    assert {kinds[v.branch_id] for v in visits} - {"village", "residential"}  # schools too
    visitor = w.tg[visits[0].visitor_member_id]
    assert w.sent(visitor), "the visitor was told of the roster"

    # A kiến nghị: raised by the member, answered by the secretary from the card.
    async with env.app.session_factory() as s, s.begin():
        actor = await load_actor(s, mem)
        new = NewItem(branch.id, "infra", "Đường liên thôn xuống cấp, đề nghị sửa.")
        item = await raise_item(s, w.ctx, actor, new)
    await w.delivered()
    card = next(
        m
        for m in reversed(env.world.bot_messages(sec))
        if any((b.get("callback_data") or "").startswith("fbc:") for b in buttons(m))
    )
    await env.press(sec, card, card_button(card, CardAct.ANSWER))
    await w.delivered()
    no = number(item)
    await _say(w, sec, "Xã đã đưa vào kế hoạch sửa tháng 3.", w.t("fbui.done.answer", item=no))
    await w.delivered()
    async with env.app.session_factory() as s:
        answered = await s.get(FeedbackItem, item.id)
    assert answered is not None and answered.status == "answered"
    assert any("tháng 3" in (m.get("text") or "") for m in w.sent(mem))

    # A broadcast from the top admin to every branch group: the linked group gets it.
    ask = await env.ask(admin, "/broadcast")
    assert plain(ask["text"]) == w.t("bcui.ask_message")
    after = env.last_bot_id(admin)
    env.world.send_text(admin, "Hướng dẫn sinh hoạt chi bộ tháng 1/2027")
    head = w.t("bcui.audience.title").split("\n")[0]
    panel = await env.world.wait_for_bot_message(
        admin, lambda m: plain(m.get("text") or "").startswith(head), after=after
    )

    def pick(msg: Msg, label: str) -> str:
        now = [m for m in env.world.bot_messages(admin) if m["message_id"] == msg["message_id"]]
        found = [b["callback_data"] for b in buttons(now[-1]) if label in b["text"]]
        assert len(found) == 1, (label, [b["text"] for b in buttons(now[-1])])
        return str(found[0])

    await env.press(admin, panel, pick(panel, w.t("bcui.part.all")))
    await env.settle()
    await env.press(admin, panel, pick(panel, w.t("bcui.button.next")))
    await env.settle()
    after = env.last_bot_id(admin)
    await env.press(admin, panel, pick(panel, w.t("bcui.button.preview")))
    summary = await env.world.wait_for_bot_message(
        admin, lambda m: any(b["text"] == w.t("bcui.button.send") for b in buttons(m)), after=after
    )
    await env.press(admin, summary, pick(summary, w.t("bcui.button.send")))
    await w.delivered()
    assert any(
        "Hướng dẫn sinh hoạt chi bộ tháng 1/2027" in (m.get("text") or "")
        for m in env.world.bot_messages(GROUP)
    )

    # Two days after the meeting with no report: the secretary is nudged; then reports.
    w.move_to(local(2027, 1, 7, 10))
    before = len(w.sent(sec))
    await sweep_job(w.jobs)
    await w.delivered()
    assert any(branch.name in plain(m.get("text") or "") for m in w.sent(sec)[before:])
    async with env.app.session_factory() as s, s.begin():
        actor = await load_actor(s, sec)
        await svc.submit_report(
            s, actor, w.ctx.clock, meeting.id, ReportInput(present_count=12), i18n=env.app.i18n
        )
    await w.delivered()

    # Every text the bot sent, in every chat, in the organisation's own words.
    own = " ".join([u.name for u in await _all(w, Unit)] + [b.name for b in await _all(w, Branch)])
    allowed = {m.group(0).lower() for m in FORBIDDEN.finditer(own)}
    texts = [
        plain(m.get("text") or m.get("caption") or "")
        for chat in list(env.world.world_state.chats)
        for m in env.world.bot_messages(chat)
    ]
    assert len(texts) > 20
    found = {m.group(0).lower() for t in texts for m in FORBIDDEN.finditer(t)} - allowed
    assert found == set(), [t for t in texts if FORBIDDEN.search(t)][:3]


async def _all(w: RosterWorld, model: Any) -> list[Any]:
    async with w.env.app.session_factory() as s:
        return list(await s.scalars(select(model)))
