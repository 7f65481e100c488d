"""Issue 13 end to end, the whole road of one item on the dan-phuong data: a member raises it
with /feedback (a photo attached), the secretary forwards it to the commune, a cadre in the
commune's group takes it and forwards it to the district, the district's group asks a question,
the member gives the details, the district answers (the member and the branch's group hear it),
the member reopens it, the district answers again, the member accepts. Then a deadline passes
and /inbox shows the item overdue.

Every step is a Telegram update; expected texts come from the catalogs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.feedback.callbacks import CardAct, CardCb, ForwardCb, ReplyAct, ReplyCb
from storage.models.feedback import LevelType
from tests.e2e.feedback_world import BRANCH_CHAT, DISTRICT_CHAT, UNIT_CHAT, FbWorld
from tests.e2e.rosters_world import START, Msg, plain
from tests.helpers import button, buttons

# The smallest valid PNG (the sandbox checks a photo is an image).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e5273ea40000000049454e44ae426082"
)
TEXT = "Đường liên thôn đoạn qua xóm Chùa xuống cấp, đề nghị sớm sửa chữa."


def _cb(msg: Msg, act: CardAct) -> str:
    return next(
        b["callback_data"]
        for b in buttons(msg)
        if b["callback_data"].startswith("fbc:") and CardCb.unpack(b["callback_data"]).a is act
    )


def _reply(msg: Msg, act: ReplyAct) -> str:
    return next(
        b["callback_data"]
        for b in buttons(msg)
        if b["callback_data"].startswith("fbr:") and ReplyCb.unpack(b["callback_data"]).a is act
    )


async def raise_item(
    fb: FbWorld, who: int, text: str = TEXT, *, photo: bool = False, as_branch: bool | None = None
) -> int:
    """/feedback → "Hạ tầng" → the text → (a photo) → Xong → (whose name) → Gửi: the new
    item's id."""
    screen = await fb.say(who, "/feedback", fb.t("fbui.raise.category", branch="").split("—")[0])
    screen = await fb.tap(who, screen, "Hạ tầng")
    assert plain(fb.w.raw("fbui.raise.text", category="Hạ tầng", max=3000)) in screen["text"]
    files = await fb.say(who, text, fb.t("fbui.raise.files", max=10))
    if photo:
        after = fb.env.last_bot_id(who)
        fb.env.world.upload_photo(who, None, PNG)
        files = await fb.env.world.wait_for_bot_message(
            who, lambda m: "(1/10)" in (m.get("text") or ""), after=after
        )
    check = await fb.tap(who, files, fb.t("fbui.raise.files_done"))
    if as_branch is not None:
        assert check["text"] == fb.t("fbui.raise.as")
        key = "fbui.raise.as_branch" if as_branch else "fbui.raise.as_self"
        check = await fb.tap(who, check, fb.t(key))
    assert fb.t("fbui.raise.check") in check["text"] and text in check["text"]
    before = {i.id for i in await fb.items()}
    sent = await fb.tap(who, check, fb.t("fbui.raise.send"))
    await fb.w.delivered()
    (new,) = [i for i in await fb.items() if i.id not in before]
    assert (
        fb.t(f"fbui.raise.sent_{new.level_type}", number=f"KN-2026-{new.number:04d}")
        == (sent["text"])
    )
    return new.id


async def type_text(fb: FbWorld, who: int, text: str, done_key: str, number: str) -> None:
    """The prompt is in private: type the text; the bot says it is done."""
    assert fb.t("fbui.cancel") in [b["text"] for b in buttons(fb.last(who))]
    await fb.say(who, text, fb.t(done_key, item=number))
    await fb.w.delivered()


async def test_a_members_item_from_the_branch_to_the_district_and_back(fb: FbWorld) -> None:
    item_id = await raise_item(fb, fb.member, photo=True)
    item = await fb.item(item_id)
    number = f"KN-2026-{item.number:04d}"
    assert (item.level_type, item.level_id, item.status) == ("branch", fb.branch_id, "open")
    assert item.raised_as == "member" and item.category == "infra" and item.text == TEXT
    assert [f.kind for f in await fb.files(item_id)] == ["photo"]

    # The secretary (and the deputy) got the card in private, with the photo.
    card = fb.card(fb.secretary, item_id)
    assert number in card["text"] and TEXT in card["text"]
    assert fb.card(fb.deputy, item_id)
    assert any(m.get("photo") for m in fb.w.sent(fb.secretary))
    # Chuyển: the one level above the branch, in reply to the card.
    await fb.press(fb.secretary, card, _cb(card, CardAct.FORWARD))
    targets = fb.last(
        fb.secretary, lambda m: any(b["callback_data"].startswith("fbf:") for b in buttons(m))
    )
    assert [b["text"] for b in buttons(targets)][:-1] == ["Đảng bộ xã Đan Phượng"]
    await fb.press(fb.secretary, targets, button(targets, "Đảng bộ xã Đan Phượng"))
    item = await fb.item(item_id)
    assert (item.level_type, item.level_id) == ("unit", fb.unit_id)
    done = fb.last(fb.secretary, lambda m: m["message_id"] == targets["message_id"])
    assert done["text"] == fb.t("fbui.forward.done", item=number, level="Đảng bộ xã Đan Phượng")
    assert not buttons(fb.last(fb.secretary, lambda m: m["message_id"] == card["message_id"]))
    # The member is told it moved up.
    moved = fb.t("fb.notice.moved", number=number, level="Đảng bộ xã Đan Phượng")
    assert moved in [m["text"] for m in fb.w.sent(fb.member)]

    # In the commune's group: a cadre takes it (the card is redrawn), then forwards it up.
    card = fb.card(UNIT_CHAT, item_id)
    answer = await fb.press(fb.unit_cadre, card, _cb(card, CardAct.TAKE))
    assert answer.get("text") == fb.t("fbui.card.taken")
    card = fb.card(UNIT_CHAT, item_id)
    assert fb.t("fb.status.taken") in card["text"]
    await fb.press(fb.unit_cadre, card, _cb(card, CardAct.FORWARD))
    targets = fb.last(
        UNIT_CHAT, lambda m: any(b["callback_data"].startswith("fbf:") for b in buttons(m))
    )
    district = button(targets, "Huyện ủy Đan Phượng")
    assert ForwardCb.unpack(district).level is LevelType.DISTRICT
    await fb.press(fb.unit_cadre, targets, district)
    item = await fb.item(item_id)
    assert (item.level_type, item.level_id, item.status) == ("district", fb.district_id, "open")
    assert not buttons(fb.last(UNIT_CHAT, lambda m: m["message_id"] == card["message_id"]))

    # In the district's group: a question; the prompt comes in private.
    card = fb.card(DISTRICT_CHAT, item_id)
    answer = await fb.press(fb.district_cadre, card, _cb(card, CardAct.ASK))
    assert answer.get("text") == fb.t("fbui.prompt.see_private")
    assert fb.t("fbui.prompt.ask", item=number) in fb.last(fb.district_cadre)["text"]
    await type_text(fb, fb.district_cadre, "Đoạn đường dài bao nhiêu mét?", "fbui.done.ask", number)
    assert (await fb.item(item_id)).status == "asked"
    question = fb.reply_msg(fb.member, item_id)
    assert "Đoạn đường dài bao nhiêu mét?" in question["text"]
    # The member gives the details.
    await fb.press(fb.member, question, _reply(question, ReplyAct.INFO))
    await type_text(
        fb, fb.member, "Khoảng 300 mét, từ cổng làng đến chùa.", "fbui.done.info", number
    )
    assert (await fb.item(item_id)).status == "taken"  # the asker handles it
    assert not buttons(fb.last(fb.member, lambda m: m["message_id"] == question["message_id"]))

    # The district answers (on the fresh card that brought the details).
    card = fb.card(DISTRICT_CHAT, item_id)
    assert "Khoảng 300 mét" in card["text"]
    group_before = len(fb.w.sent(BRANCH_CHAT))
    await fb.press(fb.district_cadre, card, _cb(card, CardAct.ANSWER))
    await type_text(
        fb, fb.district_cadre, "Đã đưa vào kế hoạch sửa chữa quý I.", "fbui.done.answer", number
    )
    item = await fb.item(item_id)
    assert (item.status, item.answer, item.answered_on_time) == (
        "answered",
        "Đã đưa vào kế hoạch sửa chữa quý I.",
        True,
    )
    reply = fb.reply_msg(fb.member, item_id)
    assert "Đã đưa vào kế hoạch sửa chữa quý I." in reply["text"]
    assert [b["text"] for b in buttons(reply)] == [
        fb.t("fb.button.accept"),
        fb.t("fb.button.reopen"),
    ]
    group = fb.w.sent(BRANCH_CHAT)[group_before:]
    assert len(group) == 1 and "Đã đưa vào kế hoạch sửa chữa quý I." in group[0]["text"]

    # Not settled: reopened with a reason, back to the district.
    await fb.press(fb.member, reply, _reply(reply, ReplyAct.REOPEN))
    await type_text(
        fb, fb.member, "Cần làm trước Tết vì đường rất hỏng.", "fbui.done.reopen", number
    )
    item = await fb.item(item_id)
    assert (item.status, item.reopened) == ("open", 1)
    card = fb.card(DISTRICT_CHAT, item_id)
    assert "Cần làm trước Tết" in card["text"]
    await fb.press(fb.district_cadre, card, _cb(card, CardAct.ANSWER))
    await type_text(
        fb, fb.district_cadre, "Sẽ sửa xong trước 20/01/2027.", "fbui.done.answer", number
    )
    reply = fb.reply_msg(fb.member, item_id)
    assert "Sẽ sửa xong trước 20/01/2027." in reply["text"]
    assert [b["text"] for b in buttons(reply)] == [fb.t("fb.button.accept")]  # reopened once
    assert len(fb.w.sent(BRANCH_CHAT)) == group_before + 2

    answer = await fb.press(fb.member, reply, _reply(reply, ReplyAct.ACCEPT))
    assert answer.get("text") == fb.t("fbui.reply.accepted", item=number)
    item = await fb.item(item_id)
    assert item.status == "closed"
    assert await fb.actions(item_id) == [
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


async def test_a_deadline_passes_and_inbox_shows_the_item_overdue(fb: FbWorld) -> None:
    inbox = pytest.importorskip("handlers.feedback.inbox")
    del inbox
    text = "Đề nghị lắp thêm đèn đường ở ngõ 5."
    item_id = await raise_item(fb, fb.secretary, text, as_branch=True)
    item = await fb.item(item_id)
    assert (item.level_type, item.raised_as) == ("unit", "branch")
    fb.w.move_to(START + timedelta(days=16))
    screen = await fb.say(fb.admin, "/inbox", f"KN-2026-{item.number:04d}")
    assert "⏰" in screen["text"] or "quá hạn" in screen["text"].lower()
