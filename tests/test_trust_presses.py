"""Trust, part A: only the right people act, through `feed_update` on the production
dispatcher (the sandbox answers getChatMember). Each test is named for its class and tries
several instances: who presses, where, naming whose chat.

- class 2: ids in a button name what to act on, never who may act or for whom;
- class 3: a press in a level's chat counts only for a known current member of it;
- class 4: authorship never outlives the role;
- class 6: a nudge's button works for exactly the people who may do the thing;
- class 7: typed numbers go through `bot.inputs`, unused arguments are answered.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import select, update

from bot.app import App, create_app
from bot.buttons.broadcasts import AckCb, ProgressAct, ProgressCb
from bot.buttons.feedback import CardAct, CardCb
from bot.buttons.nudges import NudgeAct, NudgeCb, SnoozeCb
from bot.services.vn_calendar import VN_TZ, format_datetime
from sandbox.testing import run_sandbox
from storage.models import (
    Broadcast,
    BroadcastRecipient,
    CommitteeAdmin,
    FeedbackItem,
    NudgeEvent,
    NudgeTrack,
)
from storage.models.nudges import NudgePolicy, NudgeStep
from tests import orgdata as o
from tests.e2e.harness import TOKEN, make_settings
from tests.feedback_world import (
    BRANCH_CHAT,
    COMMITTEE_CHAT,
    PEOPLE,
    UNIT_CHAT,
    UNIT_OFFICER,
    FeedbackWorld,
    feedback_world,
)
from tests.helpers import FakeClock, local

FORMER_ADMIN = 951  # a committee admin of T01 once, removed since
LEFT = o.MEM1  # left the commune's group (still holds its messages)


@dataclass
class Env:
    app: App
    world: Any
    fw: FeedbackWorld
    anchors: dict[int, int]  # chat id -> a bot message to press buttons on
    item_id: int  # a feedback item held at commune T01U01
    broadcast_id: int  # guidance asking for Đã nhận, sent to the commune's and B01's groups


@pytest.fixture
async def e(database_url: str) -> AsyncIterator[Env]:
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        clock = FakeClock(local(2026, 11, 23, 11))
        app = create_app(make_settings(database_url, sb.base_url), clock=clock)
        fw = await feedback_world(app.engine)
        org = fw.org
        for uid in (*PEOPLE, UNIT_OFFICER, o.STRANGER, FORMER_ADMIN):
            world.add_user(uid, f"N{uid}", "vi", started=True)
        world.create_group(
            UNIT_CHAT,
            "Đảng ủy xã",
            {o.SEC2: "member", UNIT_OFFICER: "member", o.STRANGER: "member", LEFT: "left"},
            bot_status="member",
        )
        world.create_group(
            BRANCH_CHAT, "Thôn Một", {o.SEC1: "creator", o.MEM1: "member"}, bot_status="member"
        )
        world.create_group(COMMITTEE_CHAT, "Huyện ủy", {o.ADMIN: "creator"}, bot_status="member")
        item = await fw.raise_(o.SEC1, on_behalf=True)  # straight to the commune
        now = clock.now()
        async with fw.w.factory() as s, s.begin():
            s.add(CommitteeAdmin(district_id=org.district, telegram_id=FORMER_ADMIN, active=False))
            b = Broadcast(
                district_id=org.district,
                created_by=FORMER_ADMIN,
                source_chat_id=FORMER_ADMIN,
                source_message_ids=[1],
                kind="text",
                excerpt="Hướng dẫn",
                ack_required=True,
                ack_deadline=now - timedelta(hours=1),
                status="sending",
                queued_at=now - timedelta(days=2),
            )
            s.add(b)
            await s.flush()
            for chat, kind, target, branch in (
                (UNIT_CHAT, "unit", org.u1, None),
                (BRANCH_CHAT, "branch", org.b1, org.b1),
            ):
                s.add(
                    BroadcastRecipient(
                        broadcast_id=b.id,
                        chat_id=chat,
                        target_type=kind,
                        target_id=target,
                        branch_id=branch,
                        unit_id=org.u1,
                        name=f"chat {chat}",
                        state="sent",
                    )
                )
            broadcast_id = b.id
        anchors = {}
        for chat_id in (*PEOPLE, o.STRANGER, FORMER_ADMIN, UNIT_CHAT, BRANCH_CHAT):
            anchors[chat_id] = (await app.bot.send_message(chat_id, "·")).message_id
        yield Env(app, world, fw, anchors, item.id, broadcast_id)
        await app.close()


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _refusal(e: Env, key: str, **params: Any) -> str:
    reason = e.app.i18n.t(key, "vi", **params)
    return _plain(e.app.i18n.t("people.refused", "vi", reason=reason))


async def _press(e: Env, who: int, chat: int, data: str) -> str:
    """Press `data` on a bot message in `chat` as `who`; the answer's text."""
    e.world.pending.clear()
    query_id = e.world.press_button(who, e.anchors[chat], chat, data, strict=False)
    await e.app.dp.feed_update(e.app.bot, Update.model_validate(e.world.pending[-1]))
    answer = e.world.callback_answer(query_id)
    assert answer is not None, f"{data} by {who} in {chat} was never answered"
    return _plain(str(answer.get("text") or ""))


async def _reply(e: Env, who: int, text: str) -> str:
    e.world.pending.clear()
    await e.app.dp.feed_update(e.app.bot, Update.model_validate(e.world.send_text(who, text)))
    return _plain(e.world.bot_messages(who)[-1]["text"])


async def _acks(e: Env) -> dict[int | None, int | None]:
    async with e.app.session_factory() as s:
        rows = await s.scalars(
            select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == e.broadcast_id)
        )
        return {r.chat_id: r.ack_by for r in rows}


async def _item(e: Env) -> FeedbackItem:
    async with e.app.session_factory() as s:
        item = await s.get(FeedbackItem, e.item_id)
        assert item is not None
        return item


# class 2 ----------------------------------------------------------------------------------------


async def test_class2_a_button_naming_a_chat_never_gives_the_right_to_act_for_it(e: Env) -> None:
    ack_unit = NudgeCb(a=NudgeAct.ACK, id=e.broadcast_id, c=UNIT_CHAT).pack()
    ack_branch = NudgeCb(a=NudgeAct.ACK, id=e.broadcast_id, c=BRANCH_CHAT).pack()
    # A plain member, a stranger, another district's secretary, in their own private chats,
    # and a member of the branch's group pressing there: none may acknowledge for the commune.
    for who, chat in ((o.MEM1, o.MEM1), (o.STRANGER, o.STRANGER), (o.SEC_OTHER, o.SEC_OTHER)):
        await _press(e, who, chat, ack_unit)
    await _press(e, o.MEM1, BRANCH_CHAT, ack_unit)
    # Nor for the branch: only its secretary or deputy.
    await _press(e, o.MEM1, o.MEM1, ack_branch)
    await _press(e, o.SEC2, o.SEC2, ack_branch)
    assert await _acks(e) == {UNIT_CHAT: None, BRANCH_CHAT: None}
    # The right people, wherever the nudge reached them.
    assert await _press(e, o.SEC1, o.SEC1, ack_branch) == _plain(
        e.app.i18n.t("bc.ack.thanks", "vi", name=f"chat {BRANCH_CHAT}")
    )
    await _press(e, o.ADMIN, o.ADMIN, ack_unit)  # the district's admin answers for it
    assert await _acks(e) == {UNIT_CHAT: o.ADMIN, BRANCH_CHAT: o.SEC1}


# class 3 ----------------------------------------------------------------------------------------


async def test_class3_a_press_in_a_levels_chat_counts_only_for_a_known_current_member(
    e: Env,
) -> None:
    item = await _item(e)
    take = CardCb(item_id=item.id, version=item.version, a=CardAct.TAKE).pack()
    not_member = _refusal(e, "kit.not_chat_member")
    unknown = _refusal(e, "kit.unknown_in_chat")
    # One who left the group, one who was never in it, two the organisation does not know
    # (in the group): refused with the reason, nothing recorded.
    for who, reason in ((LEFT, not_member), (o.SEC3, not_member)):
        assert await _press(e, who, UNIT_CHAT, take) == reason, who
    for who in (o.STRANGER, UNIT_OFFICER):
        assert await _press(e, who, UNIT_CHAT, take) == unknown, who
    assert (await _item(e)).taken_by is None
    # Đã nhận in the commune's chat: the same rule.
    ack = AckCb(broadcast_id=e.broadcast_id).pack()
    await _press(e, o.STRANGER, UNIT_CHAT, ack)
    await _press(e, LEFT, UNIT_CHAT, ack)
    assert (await _acks(e))[UNIT_CHAT] is None
    # A known current member of the commune's group acts there.
    await _press(e, o.SEC2, UNIT_CHAT, take)
    assert (await _item(e)).status == "taken"
    await _press(e, o.SEC2, UNIT_CHAT, ack)
    assert (await _acks(e))[UNIT_CHAT] == o.SEC2


async def _nudged(e: Env, chats: tuple[int, ...]) -> dict[int, int]:
    """The feedback-due nudge of the commune's item as the sweep leaves it: one message per
    chat (the commune's group, the admin in private); chat -> its batch (first event) id."""
    item = await _item(e)
    now = e.app.clock.now()
    async with e.app.session_factory() as s, s.begin():
        track = NudgeTrack(
            key=f"fb:{item.id}:{item.level_type}:{item.level_id}",
            kind=NudgePolicy.FEEDBACK_DUE,
            district_id=item.district_id,
            unit_id=item.unit_id,
            branch_id=item.branch_id,
            since=now - timedelta(days=1),
            started_at=now - timedelta(hours=1),
        )
        s.add(track)
        await s.flush()
        batches = {}
        for chat in chats:
            event = NudgeEvent(
                track_id=track.id,
                key=track.key,
                kind=track.kind,
                district_id=track.district_id,
                unit_id=track.unit_id,
                chat_id=chat,
                step=NudgeStep.NUDGE1,
                at=now - timedelta(hours=1),
            )
            s.add(event)
            await s.flush()
            event.batch_id = batches[chat] = event.id
        return batches


async def _snoozes(e: Env) -> list[tuple[int, str]]:
    async with e.app.session_factory() as s:
        rows = await s.scalars(select(NudgeEvent).order_by(NudgeEvent.id))
        return [(r.chat_id, r.step) for r in rows if r.step.startswith("snooze")]


async def test_class3_a_nudges_snooze_counts_only_for_whom_it_was_sent(e: Env) -> None:
    """Nhắc lại sau puts off the nudge and its escalation: in a level's group only for a known
    current member of it, in private only for the recipient."""
    batch = await _nudged(e, (UNIT_CHAT, o.ADMIN))
    group, mine = (SnoozeCb(b=batch[c]).pack() for c in (UNIT_CHAT, o.ADMIN))
    not_member = _refusal(e, "kit.not_chat_member")
    unknown = _refusal(e, "kit.unknown_in_chat")
    not_yours = _refusal(e, "nudge.not_yours")
    # In the commune's group: one who left it, one never in it, two the organisation does
    # not know (in the group, as anyone viewing a public supergroup).
    for who, reason in ((LEFT, not_member), (o.SEC3, not_member)):
        assert await _press(e, who, UNIT_CHAT, group) == reason, who
    for who in (o.STRANGER, UNIT_OFFICER):
        assert await _press(e, who, UNIT_CHAT, group) == unknown, who
    # The group's button pressed from a private chat, the admin's private one pressed in the
    # group by its member or by someone else in their own chat: not theirs.
    assert await _press(e, o.SEC2, o.SEC2, group) == not_yours
    assert await _press(e, o.SEC2, UNIT_CHAT, mine) == not_yours
    assert await _press(e, o.MEM1, o.MEM1, mine) == not_yours
    assert await _snoozes(e) == []
    # A known current member of the group, and the recipient in private: put off a day.
    until = format_datetime(e.app.clock.now() + timedelta(days=1), "vi", VN_TZ)
    snoozed = _plain(e.app.i18n.t("nudge.snoozed", "vi", until=until))
    assert await _press(e, o.SEC2, UNIT_CHAT, group) == snoozed
    assert await _press(e, o.ADMIN, o.ADMIN, mine) == snoozed
    assert await _snoozes(e) == [(UNIT_CHAT, "snooze1"), (o.ADMIN, "snooze1")]


# class 4 ----------------------------------------------------------------------------------------


async def test_class4_a_removed_admin_can_no_longer_act_on_their_own_broadcast(e: Env) -> None:
    not_found = _refusal(e, "bc.not_found")
    for act in (ProgressAct.STOP, ProgressAct.RETRY, ProgressAct.REFRESH):
        data = ProgressCb(broadcast_id=e.broadcast_id, a=act).pack()
        assert await _press(e, FORMER_ADMIN, FORMER_ADMIN, data) == not_found, act
    async with e.app.session_factory() as s:
        b = await s.get(Broadcast, e.broadcast_id)
        assert b is not None and b.status == "sending" and b.stopped_at is None
    # Made an admin again: the broadcast is theirs to act on again.
    async with e.app.session_factory() as s, s.begin():
        await s.execute(update(CommitteeAdmin).values(active=True))
    data = ProgressCb(broadcast_id=e.broadcast_id, a=ProgressAct.REFRESH).pack()
    assert await _press(e, FORMER_ADMIN, FORMER_ADMIN, data) != not_found


# class 6 ----------------------------------------------------------------------------------------


async def test_class6_a_nudges_answer_button_works_for_the_groups_members(e: Env) -> None:
    answer = NudgeCb(a=NudgeAct.ANSWER, id=e.item_id).pack()
    before = len(e.world.bot_messages(UNIT_CHAT))
    assert await _press(e, o.SEC2, UNIT_CHAT, answer) == ""  # the card, where they act on it
    card = e.world.bot_messages(UNIT_CHAT)[before:]
    assert len(card) == 1 and card[0].get("reply_markup"), card
    # The same button for people who may not act there.
    assert await _press(e, LEFT, UNIT_CHAT, answer) == _refusal(e, "kit.not_chat_member")
    assert await _press(e, o.MEM1, o.MEM1, answer) == _refusal(e, "fb.not_your_level")
    assert len(e.world.bot_messages(UNIT_CHAT)) == before + 1


# class 7 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "text", "key", "params"),
    [
        (o.ADMIN, "/nudges １２/２０２６", "nudge.figures.bad_period", {}),
        (o.ADMIN, "/nudges ١٢/٢٠٢٦", "nudge.figures.bad_period", {}),
        (o.ADMIN, "/nudges 13/2026", "nudge.figures.bad_period", {}),
        (o.ADMIN, "/feedback_stats ２０２６", "fbr.bad_period", {"text": "２０２６"}),
        (o.WG_LEADER, "/coverage ２０２７-Q1", "roster.bad_period", {"text": "２０２７-Q1"}),
        (o.WG_MEMBER, "/busy 31/02/2027", "roster.busy.bad_date", {"date": "31/02/2027"}),
        (o.WG_MEMBER, "/busy １５/01/2027", "roster.busy.bad_date", {"date": "１５/01/2027"}),
        (o.WG_MEMBER, "/busy 15/01/2027 extra", "roster.busy.usage", {}),
        (o.MEM1, "/help me", "kit.args_unused", {"command": "help", "args": "me"}),
        (o.WG_MEMBER, "/visit 12", "kit.args_unused", {"command": "visit", "args": "12"}),
        (o.SEC1, "/inbox ２", "kit.args_unused", {"command": "inbox", "args": "２"}),
    ],
)
async def test_class7_typed_numbers_and_unused_arguments_are_answered(
    e: Env, who: int, text: str, key: str, params: dict[str, str]
) -> None:
    assert await _reply(e, who, text) == _refusal(e, key, **params)


async def test_class7_busy_with_a_day_marks_it(e: Env) -> None:
    shown = await _reply(e, o.WG_MEMBER, "/busy 15/12/2026")
    assert shown.startswith(_plain(e.app.i18n.t("roster.busy.on", "vi", day="15/12")))


# class 2, by construction: the audit of every button's fields -----------------------------------

# Fields typed as a Telegram user or chat id, and why each names what to act on, not who acts.
PEOPLE_OR_CHAT_FIELDS = {
    ("ndg", "c"): "the recipient chat acknowledged for; the presser's rights are checked",
    ("ndz", "b"): "a nudge message's first event (a 64-bit row id), checked against the chat",
}


def test_class2_no_button_carries_who_may_act(e: Env) -> None:
    from typing import get_args

    from bot.inputs import TelegramChatId, TelegramId
    from tests.test_fuzz_updates import callback_classes

    people = {id(m) for m in (*get_args(TelegramId)[1:], *get_args(TelegramChatId)[1:])}
    found = {
        (cls.__prefix__, name)
        for cls in callback_classes(e.app.dp)
        for name, f in cls.model_fields.items()
        if any(id(m) in people for m in f.metadata)
        or any(w in name for w in ("user", "actor", "presser", "telegram", "as_", "chat"))
    }
    assert found == set(PEOPLE_OR_CHAT_FIELDS), found
