"""Issue 13's bad inputs end to end, each refused with a clear translated message and nothing
changed (items, events, files, audit rows, outbox rows, the conversations): empty and oversized
texts, an unsupported file, too many files, forged callback data (another branch's member, a
plain member, a chat that is not the level's), an item closed or held by another level, a
forward target that does not exist, a second reopening, and presses made twice at once (one act
is recorded).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.buttons.feedback import CardAct, CardCb, ForwardCb, ReplyAct, ReplyCb
from handlers.feedback.callbacks import RaiseCb, RaiseStep
from storage.models.feedback import LevelType
from tests.e2e.feedback_world import (
    DISTRICT_CHAT,
    NEWCOMER,
    UNIT_CHAT,
    FbWorld,
    card_button,
    reply_button,
)
from tests.e2e.rosters_world import Msg
from tests.helpers import button

DOC = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _unchanged(fb: FbWorld, before: dict[str, Any], states: list[Any]) -> None:
    assert await fb.snapshot() == before
    assert await fb.fsm_states() == states


async def _anchor(fb: FbWorld, chat: int) -> Msg:
    """A message of the bot in `chat` to press forged data on (a client can send any data)."""
    sent = await fb.env.app.bot.send_message(chat, "·")
    return {"message_id": sent.message_id, "chat": {"id": chat}}


async def _refused(fb: FbWorld, who: int, msg: Msg, data: str, key: str, **params: Any) -> None:
    """A press refused with `key` and nothing changed."""
    before, states = await fb.snapshot(), await fb.fsm_states()
    answer = await fb.press(who, msg, data, strict=False)
    assert answer.get("text") == fb.refused(key, **params), answer
    await _unchanged(fb, before, states)


async def _typed_refusal(fb: FbWorld, who: int, text: str, key: str, **params: Any) -> None:
    """A typed text refused with `key` (a reply), nothing changed, the question still open."""
    before, states = await fb.snapshot(), await fb.fsm_states()
    reply = await fb.say(who, text, "⛔")
    assert reply["text"] == fb.refused(key, **params)
    await _unchanged(fb, before, states)


async def test_raising_refuses_bad_texts_and_files(fb: FbWorld) -> None:
    who = fb.member
    screen = await fb.say(who, "/feedback", fb.category_screen)
    # A forged category (an index outside the draft's list) has expired.
    await _refused(fb, who, screen, RaiseCb(s=RaiseStep.CATEGORY, v=99).pack(), "kit.expired")
    screen = await fb.tap(who, screen, "Hạ tầng")
    await _typed_refusal(fb, who, "x" * 3001, "fb.text_too_long", max=3000, length=3001)
    await _typed_refusal(fb, who, "  \u200b  ".replace("\u200b", " "), "fb.text_empty")
    await fb.say(who, "Cống thoát nước bị tắc.", fb.t("fbui.raise.files", max=10))
    # A voice note is not a file the item keeps.
    before, states = await fb.snapshot(), await fb.fsm_states()
    after = fb.env.last_bot_id(who)
    voice = {"voice": {"file_id": "AwACAgIAAxkBAAIB", "file_unique_id": "AgADv1", "duration": 3}}
    fb.env.world.control._user_message(who, None, voice)
    reply = await fb.env.world.wait_for_bot_message(who, after=after)
    assert reply["text"] == fb.refused("fb.bad_file")
    await _unchanged(fb, before, states)
    # Ten documents are kept, the eleventh is refused.
    for i in range(1, 11):
        after = fb.env.last_bot_id(who)
        fb.env.world.upload_document(who, None, f"anh-{i}.pdf", DOC, "application/pdf")
        await fb.env.world.wait_for_bot_message(
            who, lambda m, i=i: f"({i}/10)" in (m.get("text") or ""), after=after
        )
    before, states = await fb.snapshot(), await fb.fsm_states()
    after = fb.env.last_bot_id(who)
    fb.env.world.upload_document(who, None, "anh-11.pdf", DOC, "application/pdf")
    reply = await fb.env.world.wait_for_bot_message(who, after=after)
    assert reply["text"] == fb.refused("fb.too_many_files", max=10)
    await _unchanged(fb, before, states)
    # "Gửi" pressed twice at once: one item.
    tenth = fb.last(who, lambda m: "(10/10)" in (m.get("text") or ""))
    check = await fb.tap(who, tenth, fb.t("fbui.raise.files_done"))
    send = button(check, fb.t("fbui.raise.send"))
    first = fb.env.world.press_button(who, check["message_id"], who, send)
    second = fb.env.world.press_button(who, check["message_id"], who, send)
    answers = [await fb.env.world.wait_for_callback_answer(q) for q in (first, second)]
    await fb.env.settle()  # (its 20 files' copies to the secretaries take a while to send)
    (item,) = await fb.items()
    assert len(await fb.files(item.id)) == 10
    assert fb.refused("kit.expired") in [a.get("text") for a in answers]


async def test_forged_presses_other_levels_missing_targets_and_closed_items(fb: FbWorld) -> None:
    item = await fb.raised(fb.member, "Đề nghị sửa cầu máng.")
    v = item.version
    card = fb.card(fb.secretary, item.id)
    take = CardCb(item_id=item.id, version=v, a=CardAct.TAKE).pack()
    answer = CardCb(item_id=item.id, version=v, a=CardAct.ANSWER).pack()
    # Another commune's secretary, a plain member of the branch, the commune's group (the item
    # is still at the branch), an id that does not exist: "not yours", no prompt.
    await _refused(fb, fb.outsider, await _anchor(fb, fb.outsider), take, "fb.not_your_level")
    await _refused(fb, fb.member2, await _anchor(fb, fb.member2), answer, "fb.not_your_level")
    await _refused(fb, fb.unit_cadre, await _anchor(fb, UNIT_CHAT), take, "fb.not_your_level")
    ghost = CardCb(item_id=999_999, version=1, a=CardAct.FORWARD).pack()
    await _refused(fb, fb.secretary, card, ghost, "fb.not_your_level")
    # Targets that do not exist, or are not the branch's next level.
    for level, level_id in (
        (LevelType.UNIT, 999_999),
        (LevelType.DEPARTMENT, 999_999),
        (LevelType.BRANCH, fb.branch_id),
        (LevelType.DISTRICT, fb.district_id),
    ):
        forged = ForwardCb(item_id=item.id, version=v, level=level, level_id=level_id).pack()
        await _refused(fb, fb.secretary, card, forged, "fb.bad_target")
    forged = ForwardCb(item_id=item.id, version=v, level=LevelType.UNIT, level_id=fb.unit_id)
    await _refused(
        fb, fb.outsider, await _anchor(fb, fb.outsider), forged.pack(), "fb.not_your_level"
    )

    # Up to the commune, then the district: the older cards are other levels' now.
    await fb.press(fb.secretary, card, card_button(card, CardAct.FORWARD))
    targets = fb.targets(fb.secretary)
    await fb.press(fb.secretary, targets, button(targets, "Đảng bộ xã Đan Phượng"))
    await _refused(fb, fb.secretary, card, card_button(card, CardAct.ANSWER), "fb.not_your_level")
    unit_card = fb.card(UNIT_CHAT, item.id)
    # Someone in the commune's group the bot cannot write to: told to start it first.
    answer_data = card_button(unit_card, CardAct.ANSWER)
    await _refused(fb, NEWCOMER, unit_card, answer_data, "fbui.open_private")
    await fb.press(fb.unit_cadre, unit_card, card_button(unit_card, CardAct.FORWARD))
    targets = fb.targets(UNIT_CHAT)
    await fb.press(fb.unit_cadre, targets, button(targets, "Huyện ủy Đan Phượng"))
    old = card_button(unit_card, CardAct.TAKE)
    await _refused(fb, fb.unit_cadre, unit_card, old, "fb.not_your_level")
    # The forward list pressed again: the item has moved on.
    await _refused(fb, fb.unit_cadre, targets, button(targets, "Huyện ủy"), "fb.not_your_level")

    # Rejected with a reason (too long first: refused, the question stays open).
    card = fb.card(DISTRICT_CHAT, item.id)
    await fb.press(fb.district_cadre, card, card_button(card, CardAct.REJECT))
    await _typed_refusal(
        fb, fb.district_cadre, "y" * 1001, "fb.reason_too_long", max=1000, length=1001
    )
    item = await fb.item(item.id)
    await fb.typed(fb.district_cadre, "Không thuộc thẩm quyền.", "fbui.done.reject", item)
    assert (await fb.item(item.id)).status == "rejected"
    # Closed: every button of it is refused, for everyone.
    v = (await fb.item(item.id)).version
    for act in (CardAct.ANSWER, CardAct.FORWARD, CardAct.TAKE):
        data = CardCb(item_id=item.id, version=v, a=act).pack()
        await _refused(fb, fb.district_cadre, card, data, "fb.item_closed")
    reopen = ReplyCb(item_id=item.id, version=v, a=ReplyAct.REOPEN).pack()
    await _refused(fb, fb.member, await _anchor(fb, fb.member), reopen, "fb.item_closed")


async def test_reopen_twice_and_presses_made_twice_at_once(fb: FbWorld) -> None:
    item = await fb.raised(fb.secretary, "Đề nghị bổ sung kinh phí sinh hoạt.", on_behalf=True)
    assert item.level_type == "unit"
    card = fb.card(UNIT_CHAT, item.id)
    # Two people take it at the same moment: one is recorded, the other is told it is stale.
    take = card_button(card, CardAct.TAKE)
    queries = [
        fb.env.world.press_button(who, card["message_id"], UNIT_CHAT, take)
        for who in (fb.unit_cadre, fb.admin)
    ]
    answers = [await fb.env.world.wait_for_callback_answer(q) for q in queries]
    await fb.w.delivered()
    assert sorted(a.get("text") or "" for a in answers) == sorted(
        [fb.t("fbui.card.taken"), fb.refused("fb.stale")]
    )
    assert (await fb.actions(item.id)).count("taken") == 1

    # Two people press "answer" on the same card and both type: one answer is recorded; the
    # second is refused (the item changed) and its question ends.
    card = fb.card(UNIT_CHAT, item.id)
    answer = card_button(card, CardAct.ANSWER)
    for who in (fb.unit_cadre, fb.admin):
        await fb.press(who, card, answer)
    await _typed_refusal(fb, fb.unit_cadre, "z" * 3001, "fb.text_too_long", max=3000, length=3001)
    await fb.typed(fb.unit_cadre, "Xã sẽ hỗ trợ 2 triệu đồng.", "fbui.done.answer", item)
    before = await fb.snapshot()
    reply = await fb.say(fb.admin, "Câu trả lời thứ hai.", "⛔")
    assert reply["text"] == fb.refused("fb.stale")
    assert await fb.snapshot() == before
    assert not [s for s in await fb.fsm_states() if s[1] is not None and str(fb.admin) in s[0]]
    assert (await fb.actions(item.id)).count("answered") == 1

    # The secretary speaks for the branch's item: reopens it once, not twice.
    got = fb.reply_msg(fb.secretary, item.id)
    await fb.press(fb.secretary, got, reply_button(got, ReplyAct.REOPEN))
    await fb.typed(fb.secretary, "Chưa đủ, đề nghị xem xét thêm.", "fbui.done.reopen", item)
    card = fb.card(UNIT_CHAT, item.id)
    await fb.press(fb.unit_cadre, card, card_button(card, CardAct.ANSWER))
    await fb.typed(fb.unit_cadre, "Xã hỗ trợ thêm 1 triệu đồng.", "fbui.done.answer", item)
    v = (await fb.item(item.id)).version
    again = ReplyCb(item_id=item.id, version=v, a=ReplyAct.REOPEN).pack()
    got = fb.reply_msg(fb.secretary, item.id)
    await _refused(fb, fb.secretary, got, again, "fb.reopen_used", limit=1)
    # Accepting twice at once: one acceptance.
    accept = reply_button(got, ReplyAct.ACCEPT)
    queries = [
        fb.env.world.press_button(fb.secretary, got["message_id"], fb.secretary, accept)
        for _ in range(2)
    ]
    await asyncio.gather(*(fb.env.world.wait_for_callback_answer(q) for q in queries))
    await fb.w.delivered()
    assert (await fb.actions(item.id)).count("accepted") == 1
    assert (await fb.item(item.id)).status == "closed"
