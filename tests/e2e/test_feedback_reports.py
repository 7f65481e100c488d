"""Issue 13 end to end: proposals written in a meeting report and heard on a working group's
visit become feedback items with one tap on the report's last screen ("Chuyển thành kiến
nghị"), on the branch's behalf, linked to the report, one level above the branch. A second tap,
or a tap by someone else, is refused with nothing changed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.buttons.feedback import ConvertCb
from bot.services.feedback.common import item_number
from bot.services.meetings.report_steps import Act
from handlers.meetings.report_keyboards import RepCb
from handlers.rosters.visits import Step, VrCb
from storage.models import HeardProposal, Meeting
from storage.models.feedback import FeedbackSource
from storage.models.rosters import VisitQuality
from tests.e2e.feedback_world import FbWorld
from tests.e2e.rosters_world import Msg
from tests.helpers import buttons

PROPOSALS = ["Đề nghị nạo vét mương thoát nước xóm Đông", "Đề nghị hỗ trợ hộ nghèo dịp Tết"]


def _converts(msg: Msg) -> list[ConvertCb]:
    return [
        ConvertCb.unpack(b["callback_data"])
        for b in buttons(msg)
        if b["callback_data"].startswith("fbx:")
    ]


async def _step(fb: FbWorld, who: int, msg: Msg, data: str) -> Msg:
    """Press a wizard button (by its data) and return the wizard's message once edited."""
    before = msg.get("edit_date"), msg.get("text"), msg.get("reply_markup")
    answer = await fb.env.press(who, msg, data, strict=False)
    assert answer.get("show_alert") is not True, answer

    def edited(m: Msg) -> bool:
        now = m.get("edit_date"), m.get("text"), m.get("reply_markup")
        return m["message_id"] == msg["message_id"] and now != before

    found: Msg = await fb.env.world.wait_for_bot_message(msg["chat"]["id"], edited)
    return found


async def _reportable_meeting(fb: FbWorld) -> int:
    """A meeting of the branch that has started (the clock moved to one if need be)."""
    async with fb.env.app.session_factory() as s:
        meetings = list(
            await s.scalars(
                select(Meeting)
                .where(Meeting.branch_id == fb.branch_id, Meeting.status != "cancelled")
                .order_by(Meeting.starts_at)
            )
        )
    now = fb.w.ctx.now()
    started = [m for m in meetings if m.starts_at <= now]
    if started:
        return started[-1].id
    fb.w.move_to(meetings[0].starts_at + timedelta(hours=3))
    return meetings[0].id


async def test_a_meeting_reports_proposals_become_items(fb: FbWorld) -> None:
    mid = await _reportable_meeting(fb)
    sec = fb.secretary
    wizard = await fb.say(sec, f"/report {mid}", "")
    for act in (Act.HELD_YES, Act.NEXT, Act.NEXT, Act.MINUTES_NONE):
        wizard = await _step(fb, sec, wizard, RepCb(mid=mid, act=act).pack())
    await fb.say(sec, "Triển khai kế hoạch tháng", "")
    await fb.say(sec, "Công tác phát triển đảng viên", "")
    summary = await fb.say(sec, "\n".join(PROPOSALS), "")
    sent = await _step(fb, sec, summary, RepCb(mid=mid, act=Act.SEND).pack())
    assert fb.t("fbui.convert.hint") in sent["text"]
    converts = _converts(sent)
    assert [(c.source, c.source_id, c.index) for c in converts] == [
        (FeedbackSource.MEETING_REPORT, mid, 0),
        (FeedbackSource.MEETING_REPORT, mid, 1),
    ]
    before = await fb.snapshot()

    # Someone else's tap (forged into their own chat) changes nothing.
    anchor = await fb.env.app.bot.send_message(fb.outsider, "·")
    other = {"message_id": anchor.message_id, "chat": {"id": fb.outsider}}
    answer = await fb.press(fb.outsider, other, converts[1].pack(), strict=False)
    assert answer.get("text") == fb.refused("fb.not_your_branch")
    assert await fb.snapshot() == before

    answer = await fb.press(sec, sent, converts[1].pack())
    (item,) = await fb.items()
    number = item_number(item.year, item.number)
    assert answer.get("text") == fb.t("fbui.convert.done", number=number)
    assert (item.source_type, item.source_id, item.source_index) == ("meeting_report", mid, 1)
    assert (item.text, item.raised_as, item.level_type) == (PROPOSALS[1], "branch", "unit")
    shown = fb.last(sec, lambda m: m["message_id"] == sent["message_id"])
    assert [b["text"].startswith("✅ " + number) for b in buttons(shown)] == [False, True]
    # Its card went to the commune's group.
    from tests.e2e.feedback_world import UNIT_CHAT

    assert fb.card(UNIT_CHAT, item.id)

    # The same tap again: refused, nothing new.
    before = await fb.snapshot()
    answer = await fb.press(sec, shown, converts[1].pack())
    assert answer.get("text") == fb.refused("fb.already_converted")
    assert await fb.snapshot() == before


async def test_a_visit_reports_heard_proposals_become_items(fb: FbWorld) -> None:
    w = fb.w
    rosters = await w.publish(w.groups[:1])
    visit = (await w.visits(rosters[w.groups[0].id].id))[0]
    visitor = w.tg[visit.visitor_member_id]
    w.move_to(visit.starts_at + timedelta(hours=2))
    pick = await fb.say(visitor, "/visit", "")
    msg = await _step(fb, visitor, pick, VrCb(visit_id=visit.id, s=Step.PICK).pack())
    msg = await _step(fb, visitor, msg, VrCb(visit_id=visit.id, s=Step.ATTENDED).pack())
    good = VrCb(visit_id=visit.id, s=Step.QUALITY, q=VisitQuality.GOOD).pack()
    msg = await _step(fb, visitor, msg, good)
    note = await fb.say(visitor, "\n".join(PROPOSALS), "")
    thanks = await _step(fb, visitor, note, VrCb(visit_id=visit.id, s=Step.SKIP_NOTE).pack())
    async with fb.env.app.session_factory() as s:
        heard = list(
            await s.scalars(
                select(HeardProposal)
                .where(HeardProposal.visit_id == visit.id)
                .order_by(HeardProposal.id)
            )
        )
    assert [h.text for h in heard] == PROPOSALS
    converts = _converts(thanks)
    assert [(c.source, c.source_id) for c in converts] == [
        (FeedbackSource.VISIT_REPORT, h.id) for h in heard
    ]

    answer = await fb.press(visitor, thanks, converts[0].pack())
    (item,) = await fb.items()
    assert answer.get("text") == fb.t(
        "fbui.convert.done", number=item_number(item.year, item.number)
    )
    assert (item.source_type, item.source_id, item.raised_as) == (
        "visit_report",
        heard[0].id,
        "visitor",
    )
    assert item.branch_id == visit.branch_id and item.level_type in ("unit", "district")
    async with fb.env.app.session_factory() as s:
        assert (await s.get(HeardProposal, heard[0].id)).feedback_id == item.id  # type: ignore[union-attr]

    before = await fb.snapshot()
    shown = fb.last(visitor, lambda m: m["message_id"] == thanks["message_id"])
    answer = await fb.press(visitor, shown, converts[0].pack())
    assert answer.get("text") == fb.refused("fb.already_converted")
    assert await fb.snapshot() == before
