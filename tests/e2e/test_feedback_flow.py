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

from bot.buttons.feedback import CardAct, ForwardCb, ReplyAct
from storage.models.feedback import LevelType
from tests.e2e.feedback_world import (
    BRANCH_CHAT,
    DISTRICT_CHAT,
    UNIT_CHAT,
    FbWorld,
    card_button,
    number,
    reply_button,
)
from tests.e2e.rosters_world import START, plain
from tests.helpers import button, buttons

TEXT = "Đường liên thôn đoạn qua xóm Chùa xuống cấp, đề nghị sớm sửa chữa."
COMMUNE, DISTRICT = "Đảng bộ xã Đan Phượng", "Huyện ủy Đan Phượng"


async def test_a_members_item_from_the_branch_to_the_district_and_back(fb: FbWorld) -> None:
    item = await fb.wizard(fb.member, TEXT, photo=True)
    no = number(item)
    assert (item.level_type, item.level_id, item.status) == ("branch", fb.branch_id, "open")
    assert item.raised_as == "member" and item.category == "infra" and item.text == TEXT
    assert [f.kind for f in await fb.files(item.id)] == ["photo"]

    # The secretary (and the deputy) got the card in private, with the photo.
    card = fb.card(fb.secretary, item.id)
    assert no in card["text"] and TEXT in card["text"]
    assert fb.card(fb.deputy, item.id)
    assert any(m.get("photo") for m in fb.w.sent(fb.secretary))
    # Chuyển: the one level above the branch, listed in reply to the card.
    await fb.press(fb.secretary, card, card_button(card, CardAct.FORWARD))
    targets = fb.targets(fb.secretary)
    assert [b["text"] for b in buttons(targets)] == [COMMUNE, fb.t("fbui.cancel")]
    await fb.press(fb.secretary, targets, button(targets, COMMUNE))
    item = await fb.item(item.id)
    assert (item.level_type, item.level_id) == ("unit", fb.unit_id)
    done = fb.last(fb.secretary, lambda m: m["message_id"] == targets["message_id"])
    assert done["text"] == fb.t("fbui.forward.done", item=no, level=COMMUNE)
    assert not buttons(fb.last(fb.secretary, lambda m: m["message_id"] == card["message_id"]))
    moved = fb.t("fb.notice.moved", number=no, level=COMMUNE)
    assert [m["text"] for m in fb.w.sent(fb.member)].count(moved) == 1

    # In the commune's group: a cadre takes it (the card is redrawn), then forwards it up.
    card = fb.card(UNIT_CHAT, item.id)
    answer = await fb.press(fb.unit_cadre, card, card_button(card, CardAct.TAKE))
    assert answer.get("text") == fb.t("fbui.card.taken")
    card = fb.card(UNIT_CHAT, item.id)
    assert fb.t("fb.status.taken") in card["text"]
    await fb.press(fb.unit_cadre, card, card_button(card, CardAct.FORWARD))
    targets = fb.targets(UNIT_CHAT)
    district = button(targets, DISTRICT)
    assert ForwardCb.unpack(district).level is LevelType.DISTRICT
    await fb.press(fb.unit_cadre, targets, district)
    item = await fb.item(item.id)
    assert (item.level_type, item.level_id, item.status) == ("district", fb.district_id, "open")
    assert not buttons(fb.last(UNIT_CHAT, lambda m: m["message_id"] == card["message_id"]))

    # In the district's group: a question; the prompt comes in private.
    card = fb.card(DISTRICT_CHAT, item.id)
    answer = await fb.press(fb.district_cadre, card, card_button(card, CardAct.ASK))
    assert answer.get("text") == fb.t("fbui.prompt.see_private")
    assert fb.t("fbui.prompt.ask", item=no) in fb.last(fb.district_cadre)["text"]
    await fb.typed(fb.district_cadre, "Đoạn đường dài bao nhiêu mét?", "fbui.done.ask", item)
    assert (await fb.item(item.id)).status == "asked"
    question = fb.reply_msg(fb.member, item.id)
    assert "Đoạn đường dài bao nhiêu mét?" in question["text"]
    # The member gives the details; the question's button is used up.
    await fb.press(fb.member, question, reply_button(question, ReplyAct.INFO))
    await fb.typed(fb.member, "Khoảng 300 mét, từ cổng làng đến chùa.", "fbui.done.info", item)
    assert (await fb.item(item.id)).status == "taken"  # the asker handles it
    assert not buttons(fb.last(fb.member, lambda m: m["message_id"] == question["message_id"]))

    # The district answers, on the fresh card that brought the details.
    card = fb.card(DISTRICT_CHAT, item.id)
    assert "Khoảng 300 mét" in card["text"]
    group_before = len(fb.w.sent(BRANCH_CHAT))
    first = "Đã đưa vào kế hoạch sửa chữa quý I."
    await fb.press(fb.district_cadre, card, card_button(card, CardAct.ANSWER))
    await fb.typed(fb.district_cadre, first, "fbui.done.answer", item)
    item = await fb.item(item.id)
    assert (item.status, item.answer, item.answered_on_time) == ("answered", first, True)
    reply = fb.reply_msg(fb.member, item.id)
    assert first in reply["text"]
    texts = [b["text"] for b in buttons(reply)]
    assert texts == [fb.t("fb.button.accept"), fb.t("fb.button.reopen")]
    group = fb.w.sent(BRANCH_CHAT)[group_before:]
    assert len(group) == 1 and first in group[0]["text"]
    # The pressed card shows the answer; only "close" is left on it.
    card = fb.last(DISTRICT_CHAT, lambda m: m["message_id"] == card["message_id"])
    assert first in card["text"]
    assert [b["text"] for b in buttons(card)] == [fb.t("fb.button.close")]

    # Not settled: reopened with a reason, back to the district.
    await fb.press(fb.member, reply, reply_button(reply, ReplyAct.REOPEN))
    await fb.typed(fb.member, "Cần làm trước Tết vì đường rất hỏng.", "fbui.done.reopen", item)
    item = await fb.item(item.id)
    assert (item.status, item.reopened) == ("open", 1)
    card = fb.card(DISTRICT_CHAT, item.id)
    assert "Cần làm trước Tết" in card["text"]
    second = "Sẽ sửa xong trước 20/01/2027."
    await fb.press(fb.district_cadre, card, card_button(card, CardAct.ANSWER))
    await fb.typed(fb.district_cadre, second, "fbui.done.answer", item)
    reply = fb.reply_msg(fb.member, item.id)
    assert second in reply["text"]
    assert [b["text"] for b in buttons(reply)] == [fb.t("fb.button.accept")]  # reopened once
    assert len(fb.w.sent(BRANCH_CHAT)) == group_before + 2

    answer = await fb.press(fb.member, reply, reply_button(reply, ReplyAct.ACCEPT))
    assert answer.get("text") == fb.t("fbui.reply.accepted", item=no)
    assert (await fb.item(item.id)).status == "closed"
    assert not buttons(fb.last(fb.member, lambda m: m["message_id"] == reply["message_id"]))
    assert await fb.actions(item.id) == [
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

    # The committee's figures for the quarter are this story's events: one item received,
    # answered once on time (the second answer is not a new one), reopened once, none open.
    stats = await fb.say(fb.admin, "/feedback_stats", plain(fb.t("fbr.stats.received", n=1)))
    text = plain(stats.get("html") or stats["text"])
    assert plain(fb.t("fbr.stats.answered", n=1, on_time=1, late=0)) in text
    assert plain(fb.t("fbr.stats.reopened", n=1)) in text
    assert plain(fb.t("fbr.stats.open", n=0, as_of="@")).split("@")[1] in text


async def test_a_visitor_raises_for_a_branch_the_group_visits(fb: FbWorld) -> None:
    """A working-group member picks the branch (theirs or one their group visits); for a
    visited branch they speak on its behalf, so the item goes straight above the branch."""
    w = fb.w
    group = next(g for g in w.groups if g.code == "D01WG1")  # covers the town and the commune
    visitor = w.tg[w.plain_member(group)]
    screen = await fb.say(visitor, "/feedback", fb.t("fbui.raise.branch").split("\n")[-1])
    names = [b["text"] for b in buttons(screen)]
    assert "Chi bộ Thôn 1 Đan Phượng" in names and len(names) > 10
    screen = await fb.tap(visitor, screen, "Chi bộ Thôn 1 Đan Phượng")
    screen = await fb.tap(visitor, screen, "Chính sách")
    files = await fb.say(visitor, "Hộ bà Lan cần hỗ trợ sửa nhà.", fb.t("fbui.raise.files", max=10))
    check = await fb.tap(visitor, files, fb.t("fbui.raise.files_done"))
    assert fb.t("fbui.raise.check_as", who=fb.t("fbui.raise.as_visitor_label")) in check["text"]
    await fb.tap(visitor, check, fb.t("fbui.raise.send"))
    await fb.w.delivered()
    (item,) = await fb.items()
    assert (item.branch_id, item.raised_as, item.category) == (fb.branch_id, "visitor", "social")
    assert (item.level_type, item.level_id) == ("unit", fb.unit_id)
    assert fb.card(UNIT_CHAT, item.id)


async def test_a_deadline_passes_and_inbox_shows_the_item_overdue(fb: FbWorld) -> None:
    item = await fb.wizard(fb.secretary, "Đề nghị lắp thêm đèn đường ở ngõ 5.", as_branch=True)
    assert (item.level_type, item.raised_as) == ("unit", "branch")
    fb.w.move_to(START + timedelta(days=16))
    screen = await fb.say(fb.admin, "/inbox", number(item))
    line = next(x for x in screen["text"].splitlines() if number(item) in x)
    assert fb.t("fbr.marker.overdue").strip() in line
    # One tap from its card, whose buttons act on it from the admin's private chat.
    (open_it,) = [b for b in buttons(screen) if b["callback_data"] == f"fbro:{item.id}"]
    await fb.press(fb.admin, screen, open_it["callback_data"])
    card = fb.card(fb.admin, item.id)
    answer = await fb.press(fb.admin, card, card_button(card, CardAct.TAKE))
    assert answer.get("text") == fb.t("fbui.card.taken")
    assert (await fb.item(item.id)).taken_by == fb.admin
    redrawn = fb.last(fb.admin, lambda m: m["message_id"] == card["message_id"])
    assert fb.t("fb.status.taken") in redrawn["text"] and fb.t("fb.card.overdue") in redrawn["text"]
