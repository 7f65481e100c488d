"""Issue 21, class 12 (feedback) end to end: a member's /feedback offers the private choice and
says whose name the item carries; after the secretary forwards it, the deputy's copy of the
card is redrawn (no stale Nhận xử lý / Chuyển left); the deadline on the card ends an office
day. Expected texts come from the catalogs.
"""

from __future__ import annotations

from bot.buttons.feedback import CardAct
from bot.services.vn_calendar import VN_TZ, format_datetime, to_local
from tests.e2e.feedback_world import FbWorld, card_button, number
from tests.helpers import button, buttons

TEXT = "Đèn đường xóm Chùa hỏng đã hai tháng, đề nghị sửa."
COMMUNE = "Đảng bộ xã Đan Phượng"


async def test_class12_member_wizard_offers_private_and_deputy_copy_is_refreshed(
    fb: FbWorld,
) -> None:
    who = fb.member
    screen = await fb.say(who, "/feedback", fb.category_screen)
    screen = await fb.tap(who, screen, "Hạ tầng")
    files = await fb.say(who, TEXT, fb.t("fbui.raise.files", max=10))
    check = await fb.tap(who, files, fb.t("fbui.raise.files_done"))
    # Whose name: the member's own, said so; private: offered to a member too.
    assert fb.t("fbui.raise.as_only_self") in check["text"]
    assert fb.t("fbui.raise.private_off") in check["text"]
    check = await fb.tap(who, check, fb.t("fbui.raise.private_set"))
    assert fb.t("fbui.raise.private_on") in check["text"]
    await fb.tap(who, check, fb.t("fbui.raise.send"))
    await fb.w.delivered()
    (item,) = [i for i in await fb.items() if i.text == TEXT]
    assert item.private and item.raised_as == "member"
    # The deadline: the end of an office day, on the card.
    due = to_local(item.deadline, VN_TZ)
    assert (due.hour, due.minute) == (17, 0) and due.weekday() < 5
    card = fb.card(fb.secretary, item.id)
    assert format_datetime(item.deadline, "vi") in card["text"]

    # The secretary forwards from her copy; the deputy's copy loses its buttons and says where.
    deputy_card = fb.card(fb.deputy, item.id)
    assert buttons(deputy_card)
    await fb.press(fb.secretary, card, card_button(card, CardAct.FORWARD))
    targets = fb.targets(fb.secretary)
    await fb.press(fb.secretary, targets, button(targets, COMMUNE))
    await fb.w.delivered()
    await fb.env.world.wait_for_bot_message(
        fb.deputy,
        lambda m: m["message_id"] == deputy_card["message_id"] and not buttons(m),
    )
    now = fb.last(fb.deputy, lambda m: m["message_id"] == deputy_card["message_id"])
    assert number(item) in now["text"] and COMMUNE in now["text"]
    assert now["text"] != deputy_card["text"]


async def test_class3_feedback_wizard_leaves_no_stale_keyboard(fb: FbWorld) -> None:
    """Issue 21, class 3, the feedback wizard: after the member types the step's answer (the
    text, then a file), every earlier message either lost its keyboard or its buttons still
    work; none answers "expired" while the wizard runs."""
    who = fb.member
    screen = await fb.say(who, "/feedback", fb.category_screen)
    screen = await fb.tap(who, screen, "Hạ tầng")
    files = await fb.say(who, TEXT, fb.t("fbui.raise.files", max=10))
    fb.env.world.upload_document(who, None, "anh.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    await fb.env.settle()
    expired = fb.t("kit.expired")
    for earlier in (screen, files):
        now = fb.last(who, lambda m, mid=earlier["message_id"]: m["message_id"] == mid)
        for data in [b["callback_data"] for b in buttons(now)]:
            if data.endswith(":x") or "cancel" in data:  # Hủy would end the wizard
                continue
            answer = await fb.press(who, now, data, strict=False)
            assert expired not in (answer.get("text") or ""), (now["text"], data)
    last = fb.last(who, lambda m: bool(buttons(m)))
    assert fb.t("fbui.raise.files_done") in [b["text"] for b in buttons(last)]
