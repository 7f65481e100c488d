"""The workflow at service level: the whole story of an item from a member to the district and
back, private items, forward targets, deadlines, the automatic close, and every bad press
refused with nothing changed.

The world (tests/feedback_world.py): Monday 23/11/2026 11:00; B01 (commune T01U01) has a group,
so has the commune (UNIT_CHAT) and the district committee (COMMITTEE_CHAT).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app.jobs import register_all
from bot.app.jobs.feedback import auto_close_job
from bot.buttons.feedback import CardCb, ReplyAct, ReplyCb
from bot.scheduler import JobContext, create_registry
from bot.services.feedback import workflow as wf
from bot.services.feedback.common import TEXT_MAX, FeedbackError
from bot.services.feedback.deadlines import items_due
from bot.services.feedback.levels import LevelRef
from bot.services.feedback.presentation import card_text
from bot.services.vn_calendar import office_deadline
from storage.models import Branch, CommitteeAdmin, FeedbackCard, FeedbackOption, TelegramUser
from storage.models.feedback import FeedbackStatus, LevelType, OptionKind
from tests.feedback_world import (
    BRANCH_CHAT,
    COMMITTEE_CHAT,
    DISTRICT_OFFICER,
    OTHER_CHAT,
    UNIT_CHAT,
    UNIT_OFFICER,
    FeedbackWorld,
    callbacks,
    feedback_world,
)
from tests.orgdata import ADMIN, ADMIN_OTHER, DEP1, MEM1, SEC1, SEC2, SEC3, SEC_OTHER, STRANGER

UNIT = LevelType.UNIT
DISTRICT = LevelType.DISTRICT


COMMUNE_ADMIN = 960


def reply_acts(entry: object) -> list[ReplyAct]:
    return [ReplyCb.unpack(c).a for c in callbacks(entry)]  # type: ignore[arg-type]


async def test_a_members_item_goes_up_and_its_answer_comes_back(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org, clock = fw.org, fw.w.clock
    t0 = clock.now()

    # 1. The member raises it: it waits for the branch's secretary and deputy, in private.
    item = await fw.raise_(MEM1)
    assert (item.level_type, item.level_id, item.status) == ("branch", org.b1, "open")
    assert item.raised_as == "member" and item.deadline == office_deadline(t0, timedelta(days=15))
    assert [len(await fw.outbox(c, ":card:")) for c in (SEC1, DEP1, ADMIN, BRANCH_CHAT)] == [
        1,
        1,
        0,
        0,
    ]
    card = (await fw.outbox(SEC1))[0]
    assert "KN-2026-0001" in (card.text or "")
    assert [CardCb.unpack(c).item_id for c in callbacks(card)] == [item.id] * 6

    # 2. The secretary forwards it to the commune: a card in the commune's group; the member
    # is told where it went.
    targets = await fw.read(wf.forward_targets, await fw_actor(fw, SEC1), item.id)
    assert [(t.type, t.id, t.chat_id) for t in targets] == [(UNIT, org.u1, UNIT_CHAT)]
    item = await fw.run(SEC1, wf.forward, item.id, item.version, to=LevelRef(UNIT, org.u1))
    assert (item.level_type, item.level_id, item.status) == ("unit", org.u1, "open")
    assert len(await fw.outbox(UNIT_CHAT, ":card:")) == 1
    assert len(await fw.outbox(MEM1, ":moved:")) == 1
    async with fw.w.factory() as s:
        cards = (await s.scalars(select(FeedbackCard))).all()
        assert [(c.item_id, c.chat_id, c.version) for c in cards] == [(item.id, UNIT_CHAT, 2)]

    # 3. Someone in the commune's group takes it from the card.
    item = await fw.run(UNIT_OFFICER, wf.take, item.id, item.version, via_chat=UNIT_CHAT)
    assert (item.status, item.taken_by) == ("taken", UNIT_OFFICER)

    # 4. ... and forwards it to the district.
    clock.move(days=2)
    item = await fw.run(
        UNIT_OFFICER,
        wf.forward,
        item.id,
        item.version,
        via_chat=UNIT_CHAT,
        to=LevelRef(DISTRICT, org.district),
    )
    assert (item.level_type, item.status, item.taken_by) == ("district", "open", None)
    # restarted at the new level, at the end of an office day
    assert item.deadline == office_deadline(clock.now(), timedelta(days=15))
    assert len(await fw.outbox(COMMITTEE_CHAT, ":card:")) == 1
    assert len(await fw.outbox(MEM1, ":moved:")) == 2

    # 5. The district asks the member for details; the member replies in private.
    item = await fw.run(
        DISTRICT_OFFICER,
        wf.ask,
        item.id,
        item.version,
        via_chat=COMMITTEE_CHAT,
        question="Đoạn đường nào, dài bao nhiêu?",
    )
    assert (item.status, item.taken_by) == ("asked", DISTRICT_OFFICER)
    [question] = await fw.outbox(MEM1, ":asked:")
    assert reply_acts(question) == [ReplyAct.INFO]
    item = await fw.run(MEM1, wf.reply_info, item.id, "Từ nhà văn hóa đến cổng làng, 300 m")
    assert item.status == "taken"
    assert len(await fw.outbox(COMMITTEE_CHAT, ":card:")) == 2  # a fresh card with the details
    assert len(await fw.outbox(DISTRICT_OFFICER, ":holder:")) == 1

    # 6. The district answers: the member (accept / reopen) and the branch's group hear it.
    clock.move(days=3)
    item = await fw.run(
        DISTRICT_OFFICER,
        wf.answer,
        item.id,
        item.version,
        via_chat=COMMITTEE_CHAT,
        text="Huyện đã đưa vào kế hoạch sửa trong quý I",
    )
    assert (item.status, item.answered_level, item.answered_on_time) == (
        "answered",
        "district",
        True,
    )
    [told] = await fw.outbox(MEM1, ":answer:")
    assert reply_acts(told) == [ReplyAct.ACCEPT, ReplyAct.REOPEN]
    assert "quý I" in (told.text or "")
    [group] = await fw.outbox(BRANCH_CHAT)
    assert "quý I" in (group.text or "") and not callbacks(group)

    # 7. The member reopens it with a reason: back to the district, open, a fresh deadline.
    clock.move(days=1)
    item = await fw.run(MEM1, wf.reopen, item.id, item.version, "Quý I lâu quá")
    assert (item.status, item.reopened, item.level_type) == ("open", 1, "district")
    assert item.deadline == office_deadline(clock.now(), timedelta(days=15))
    assert len(await fw.outbox(COMMITTEE_CHAT, ":card:")) == 3
    assert len(await fw.outbox(DISTRICT_OFFICER, ":holder:")) == 2

    # 8. An admin answers again, in private; no second reopen is offered.
    item = await fw.run(ADMIN, wf.answer, item.id, item.version, text="Sửa trong tháng 12")
    answers = await fw.outbox(MEM1, ":answer:")
    assert len(answers) == 2 and reply_acts(answers[-1]) == [ReplyAct.ACCEPT]
    assert len(await fw.outbox(BRANCH_CHAT)) == 2

    # 9. The member accepts: closed; the admin who answered is told.
    item = await fw.run(MEM1, wf.accept, item.id, item.version)
    assert item.status == "closed" and item.closed_at == clock.now()
    assert len(await fw.outbox(ADMIN, ":accepted:")) == 1
    assert await fw.events(item.id) == [
        "raised",
        "forwarded",
        "taken",
        "forwarded",
        "asked",
        "info",
        "answered",
        "reopened",
        "answered",
        "accepted",
    ]
    assert item.version == 10
    assert item.first_answered_at == t0 + timedelta(days=5)


async def fw_actor(fw: FeedbackWorld, who: int) -> object:
    async with fw.w.factory() as s:
        return await fw.actor(s, who)


async def test_a_private_item_is_answered_to_the_submitter_only(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    secret = await fw.raise_(MEM1, text="Việc riêng tư", private=True)
    public = await fw.raise_(MEM1, text="Việc chung")
    # The secretary answers both inside the branch.
    await fw.run(SEC1, wf.answer, secret.id, secret.version, text="Đã trao đổi riêng")
    await fw.run(DEP1, wf.answer, public.id, public.version, text="Chi bộ sẽ bàn")
    assert len(await fw.outbox(MEM1, ":answer:")) == 2
    [group] = await fw.outbox(BRANCH_CHAT)
    assert "Chi bộ sẽ bàn" in (group.text or "") and "riêng" not in (group.text or "")


async def test_forward_targets_by_level(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    async with fw.w.factory() as s, s.begin():
        deps = (
            await s.scalars(
                select(FeedbackOption)
                .where(FeedbackOption.kind == OptionKind.DEPARTMENT.value)
                .order_by(FeedbackOption.position)
            )
        ).all()
        deps[1].chat_id = -100777  # Ban Tổ chức has a group
    item = await fw.raise_(SEC1, on_behalf=True)  # straight to the commune
    assert (item.level_type, item.level_id) == ("unit", org.u1)
    admin = await fw_actor(fw, ADMIN)
    names = [(t.type, t.id) for t in await fw.read(wf.forward_targets, admin, item.id)]
    # Along the tree only: up to the district and its departments, never the other commune.
    assert names == [(DISTRICT, org.district)] + [(LevelType.DEPARTMENT, d.id) for d in deps]
    # To a department with a group: the card goes there, and its group acts on it.
    dep = LevelRef(LevelType.DEPARTMENT, deps[1].id)
    item = await fw.run(ADMIN, wf.forward, item.id, item.version, to=dep)
    assert len(await fw.outbox(-100777, ":card:")) == 1
    item = await fw.run(STRANGER, wf.take, item.id, item.version, via_chat=-100777)
    assert item.status == "taken"
    # From a department: the district, the other departments, every unit.
    got = [(t.type, t.id) for t in await fw.read(wf.forward_targets, admin, item.id)]
    assert (LevelType.DEPARTMENT, deps[1].id) not in got and (UNIT, org.u1) in got
    # A commune without a group: its card goes to the district's admin in private.
    item = await fw.run(ADMIN, wf.forward, item.id, item.version, to=LevelRef(UNIT, org.u2))
    assert len(await fw.outbox(ADMIN, ":card:")) == 1


async def test_every_bad_press_is_refused_and_changes_nothing(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    at_branch = await fw.raise_(MEM1, text="Ở chi bộ")
    at_unit = await fw.raise_(MEM1, text="Lên xã")
    at_unit = await fw.run(SEC1, wf.forward, at_unit.id, 1, to=LevelRef(UNIT, org.u1))
    async with fw.w.factory() as s:
        other_unit = (await s.get(Branch, org.other_branch)).unit_id  # type: ignore[union-attr]
        category = (
            await s.scalars(select(FeedbackOption.id).where(FeedbackOption.kind == "category"))
        ).first()
    before = await fw.state()

    async def refused(key: str, who: int, fn: object, *args: object, **kw: object) -> None:
        err = await fw.refused(who, fn, *args, **kw)  # type: ignore[arg-type]
        assert err.key == key, (err.key, key)
        assert await fw.state() == before

    b, u = at_branch, at_unit
    # Not their level: a plain member, another branch's secretary, another district.
    await refused("fb.not_your_level", MEM1, wf.take, b.id, b.version)
    await refused("fb.not_your_level", SEC2, wf.answer, b.id, b.version, text="x")
    await refused("fb.not_your_level", SEC_OTHER, wf.take, b.id, b.version)
    await refused("fb.not_your_level", ADMIN_OTHER, wf.close, b.id, b.version, reason="x")
    await refused("fb.not_your_level", SEC3, wf.take, 2_000_000, 1)  # no such item
    # A unit's card pressed from another chat, or with no chat, or by the branch that sent it.
    await refused("fb.not_your_level", STRANGER, wf.take, u.id, u.version, via_chat=OTHER_CHAT)
    await refused("fb.not_your_level", STRANGER, wf.take, u.id, u.version)
    await refused("fb.not_your_level", SEC1, wf.answer, u.id, u.version, text="x")
    await refused("fb.not_your_level", STRANGER, wf.take, u.id, u.version, via_chat=COMMITTEE_CHAT)
    await refused("fb.not_your_level", STRANGER, wf.take, b.id, b.version, via_chat=BRANCH_CHAT)
    # Forwarding to what does not exist, to another district, to where it is, or down.
    for to in (
        LevelRef(LevelType.DEPARTMENT, 987_654),
        LevelRef(LevelType.DEPARTMENT, category or 1),  # a category is no department
        LevelRef(UNIT, other_unit),
        LevelRef(DISTRICT, org.other_district),
        LevelRef(UNIT, org.district),  # the district is no unit
        LevelRef(DISTRICT, org.u2),
        LevelRef(UNIT, org.u1),  # where it is
        LevelRef(LevelType.BRANCH, org.b1),
    ):
        await refused("fb.bad_target", ADMIN, wf.forward, u.id, u.version, to=to)
    await refused(
        "fb.bad_target", SEC1, wf.forward, b.id, b.version, to=LevelRef(DISTRICT, org.district)
    )
    # Bad texts.
    await refused("fb.text_empty", ADMIN, wf.answer, u.id, u.version, text=" \x00\n ")
    await refused("fb.text_too_long", ADMIN, wf.answer, u.id, u.version, text="a" * (TEXT_MAX + 1))
    await refused("fb.text_empty", ADMIN, wf.ask, u.id, u.version, question="")
    await refused("fb.reason_empty", ADMIN, wf.close, u.id, u.version, reason="  ")
    await refused("fb.reason_too_long", ADMIN, wf.reject, u.id, u.version, reason="x" * 1001)
    # An older card.
    await refused("fb.stale", ADMIN, wf.answer, u.id, u.version - 1, text="x")
    # Not the submitter's to accept, reopen or add to; nothing was asked.
    await refused("fb.not_your_item", SEC1, wf.reply_info, b.id, "x")
    await refused("fb.not_asked", MEM1, wf.reply_info, b.id, "x")
    await refused("fb.bad_state", MEM1, wf.accept, b.id, b.version)

    # A second answer pressed twice quickly: one answer is recorded.
    u = await fw.run(ADMIN, wf.answer, u.id, u.version, text="Trả lời một")
    before = await fw.state()
    await refused("fb.stale", ADMIN, wf.answer, u.id, u.version - 1, text="Trả lời hai")
    await refused("fb.bad_state", ADMIN, wf.answer, u.id, u.version, text="Trả lời hai")
    await refused("fb.not_your_item", SEC1, wf.reopen, u.id, u.version, "x")
    await refused("fb.reason_empty", MEM1, wf.reopen, u.id, u.version, "")
    assert (await fw.events(u.id)).count("answered") == 1
    # Reopening twice.
    u = await fw.run(MEM1, wf.reopen, u.id, u.version, "Chưa rõ")
    u = await fw.run(ADMIN, wf.answer, u.id, u.version, text="Rõ hơn")
    before = await fw.state()
    await refused("fb.reopen_used", MEM1, wf.reopen, u.id, u.version, "Vẫn chưa rõ")
    # A taken item is not taken twice.
    b = await fw.run(SEC1, wf.take, b.id, b.version)
    before = await fw.state()
    await refused("fb.already_taken", DEP1, wf.take, b.id, b.version)
    # Closed: no answer, no forward, no accept.
    b = await fw.run(SEC1, wf.close, b.id, b.version, reason="Đã giải quyết tại chi bộ")
    assert len(await fw.outbox(MEM1, ":closed:")) == 1
    before = await fw.state()
    await refused("fb.item_closed", SEC1, wf.answer, b.id, b.version, text="x")
    await refused("fb.item_closed", ADMIN, wf.forward, b.id, b.version, to=LevelRef(UNIT, org.u1))
    await refused("fb.item_closed", MEM1, wf.accept, b.id, b.version)
    try:
        await fw.read(wf.forward_targets, await fw_actor(fw, SEC1), b.id)
    except FeedbackError as err:
        assert err.key == "fb.item_closed"
    else:
        raise AssertionError("forward targets of a closed item")


async def test_a_question_nobody_can_receive_is_refused(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    item = await fw.raise_(MEM1)
    async with fw.w.factory() as s, s.begin():
        user = await s.get(TelegramUser, MEM1)
        assert user is not None
        user.reachable = False  # the member blocked the bot
    before = await fw.state()
    err = await fw.refused(SEC1, wf.ask, item.id, item.version, question="Ở đâu?")
    assert err.key == "fb.cannot_ask" and await fw.state() == before


async def test_the_auto_close_job_is_registered() -> None:
    registry = create_registry()
    register_all(registry)
    assert "feedback.auto_close" in registry.specs


async def test_deadlines_near_and_overdue_with_their_holders(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org, clock = fw.org, fw.w.clock
    t0 = clock.now()
    # Deadlines fall at the end of an office day (17:00 on a weekday that is not a holiday).
    a = await fw.raise_(MEM1)  # at the branch, due Tue 08/12 17:00
    clock.move(days=5)
    b = await fw.raise_(SEC1, on_behalf=True)  # at commune T01U01 (a group), due Mon 14/12 17:00
    b = await fw.run(UNIT_OFFICER, wf.take, b.id, b.version, via_chat=UNIT_CHAT)
    clock.move(days=5)
    c = await fw.raise_(SEC3, org.b3, on_behalf=True)  # commune T01U02, no group: Fri 18/12 17:00

    clock.t = t0 + timedelta(days=14)
    now = clock.now()
    assert await fw.read(items_due, now) == []
    [near] = await fw.read(items_due, now, within=timedelta(days=2))
    assert (near.item_id, near.number, near.deadline) == (a.id, "KN-2026-0001", a.deadline)
    assert near.level == LevelRef(LevelType.BRANCH, org.b1) and near.holders == (SEC1, DEP1)

    clock.t = t0 + timedelta(days=16)
    now = clock.now()
    assert [d.item_id for d in await fw.read(items_due, now)] == [a.id]
    soon = await fw.read(items_due, now, within=timedelta(days=6), overdue=False)
    assert [(d.item_id, d.holders, d.status) for d in soon] == [
        (b.id, (UNIT_OFFICER, ADMIN, UNIT_CHAT), "taken")
    ]
    every = await fw.read(items_due, now, within=timedelta(days=10))
    assert [(d.item_id, d.holders) for d in every] == [
        (a.id, (SEC1, DEP1)),
        (b.id, (UNIT_OFFICER, ADMIN, UNIT_CHAT)),
        (c.id, (ADMIN,)),
    ]
    # The card says it is overdue.
    admin = await fw_actor(fw, ADMIN)
    view = await fw.read(wf.item_view, admin, a.id)
    i18n = fw.w.ctx.i18n
    assert i18n.t("fb.card.overdue", "vi") in card_text(i18n, "vi", view, now=now)
    assert i18n.t("fb.card.overdue", "vi") not in card_text(i18n, "vi", view)
    # Answered (late): no longer due.
    a = await fw.run(SEC1, wf.answer, a.id, a.version, text="Muộn nhưng đã trả lời")
    assert a.answered_on_time is False
    assert await fw.read(items_due, now) == []


async def test_answers_left_without_a_word_close_after_30_days(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    clock = fw.w.clock
    item = await fw.raise_(MEM1)
    item = await fw.run(SEC1, wf.answer, item.id, item.version, text="Đã xử lý")
    clock.move(days=29)
    assert await fw.read(wf.auto_close, fw.w.ctx) == 0
    clock.move(days=1, seconds=1)
    job = JobContext(fw.w.factory, clock)
    await auto_close_job(job)
    item = await fw.item(item.id)
    assert item.status == FeedbackStatus.CLOSED and item.closed_at == clock.now()
    assert (await fw.events(item.id))[-1] == "auto_closed"
    assert len(await fw.outbox(MEM1, ":auto_closed:")) == 1
    before = await fw.state()
    await auto_close_job(job)  # again: nothing closes twice, nobody is told twice
    assert await fw.state() == before


async def test_item_view_only_for_those_concerned(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    item = await fw.raise_(MEM1)
    for who in (MEM1, SEC1, DEP1, ADMIN):
        view = await fw.read(wf.item_view, await fw_actor(fw, who), item.id)
        assert view.number == "KN-2026-0001" and view.branch.id == fw.org.b1
    for who in (SEC2, SEC_OTHER, ADMIN_OTHER, STRANGER):
        try:
            await fw.read(wf.item_view, await fw_actor(fw, who), item.id)
        except FeedbackError as err:
            assert err.key == "fb.not_your_level"
        else:
            raise AssertionError(who)


async def test_a_card_of_long_texts_fits_one_message(engine: AsyncEngine) -> None:
    """Texts at their limits, all '&' (five times longer once escaped): the card still fits one
    message, with no entity cut in half."""
    fw = await feedback_world(engine)
    item = await fw.raise_(MEM1, text="&" * TEXT_MAX)
    item = await fw.run(SEC1, wf.ask, item.id, item.version, question='"' * TEXT_MAX)
    item = await fw.run(MEM1, wf.reply_info, item.id, "<" * TEXT_MAX)
    item = await fw.run(SEC1, wf.answer, item.id, item.version, text=">" * TEXT_MAX)
    item = await fw.run(MEM1, wf.reopen, item.id, item.version, "&" * 1000)
    view = await fw.read(wf.item_view, await fw_actor(fw, SEC1), item.id)
    i18n = fw.w.ctx.i18n
    for text in [card_text(i18n, loc, view) for loc in ("vi", "en")] + [
        r.text or "" for r in await fw.outbox()
    ]:
        assert len(text) <= 4096
        assert re.fullmatch(r"([^&]|&(amp|lt|gt|quot|#x27);)*", text, re.S), text[-80:]


async def test_two_answers_pressed_at_once_record_one(engine: AsyncEngine) -> None:
    """Two presses of the same card at the same moment (two sessions): the item's row lock
    lets one answer in; the other finds a newer version."""
    fw = await feedback_world(engine)
    item = await fw.raise_(SEC1, on_behalf=True)
    results = await asyncio.gather(
        *(
            fw.run(who, wf.answer, item.id, item.version, via_chat=UNIT_CHAT, text=f"Trả lời {who}")
            for who in (UNIT_OFFICER, STRANGER)
        ),
        return_exceptions=True,
    )
    refusals = [r for r in results if isinstance(r, FeedbackError)]
    assert [r.key for r in refusals] == ["fb.stale"] and len(results) == 2
    assert (await fw.events(item.id)).count("answered") == 1
    assert len(await fw.outbox(SEC1, ":answer:")) == 1  # the submitter hears one answer
    assert len(await fw.outbox(BRANCH_CHAT, ":group:")) == 1


async def test_a_commune_admin_acts_for_their_commune_only(engine: AsyncEngine) -> None:
    """A commune admin (committee_admins.unit_id set) acts on an item at their unit's level
    without its chat, and no longer once it went up to the district."""
    fw = await feedback_world(engine)
    org = fw.org
    async with fw.w.factory() as s, s.begin():
        s.add(CommitteeAdmin(district_id=org.district, unit_id=org.u1, telegram_id=COMMUNE_ADMIN))
        s.add(TelegramUser(id=COMMUNE_ADMIN, first_name="Xã"))
    item = await fw.raise_(SEC1, on_behalf=True)  # a secretary's item goes to the commune
    assert (item.level_type, item.level_id) == ("unit", org.u1)
    item = await fw.run(COMMUNE_ADMIN, wf.take, item.id, item.version)
    assert item.taken_by == COMMUNE_ADMIN
    item = await fw.run(
        COMMUNE_ADMIN, wf.forward, item.id, item.version, to=LevelRef(DISTRICT, org.district)
    )
    assert item.level_type == "district"
    err = await fw.refused(COMMUNE_ADMIN, wf.take, item.id, item.version)
    assert err.key == "fb.not_your_level"
