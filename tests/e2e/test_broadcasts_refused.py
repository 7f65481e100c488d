"""Every bad input of a broadcast gets a clear translated answer, changes nothing, and nothing
is ever sent twice: /broadcast by someone who is no admin, a message Telegram cannot copy, a
commune admin naming another commune (or another admin's draft), an empty audience, an old
preview confirmed after the audience changed, Gửi pressed twice, Huỷ after Gửi.

(Đã nhận twice, by a non-secretary, in another branch's group, and a forged Đã nhận for another
broadcast are in `test_broadcasts.py`.)"""

from __future__ import annotations

from sqlalchemy import func, select

from handlers.broadcasts.callbacks import AudAct, AudCb, SendCb
from storage.models.outbox import OutboxEntry
from tests.e2e.broadcasts_world import ADMIN, COMMUNE_ADMIN, NOBODY, BroadcastWorld, Msg
from tests.helpers import buttons

TEXT = "Hướng dẫn kiểm điểm cuối năm"
QUIZ = {
    "id": "9",
    "question": "Nghị quyết số mấy?",
    "options": [
        {"persistent_id": "a", "text": "1", "voter_count": 0},
        {"persistent_id": "b", "text": "2", "voter_count": 0},
    ],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "quiz",
    "allows_multiple_answers": False,
    "allows_revoting": False,
    "members_only": False,
}


async def _draft(w: BroadcastWorld, who: int, text: str = TEXT) -> tuple[int, Msg]:
    panel = await w.start(who, lambda: w.env.world.send_text(who, text))
    bid = max(b.id for b in await w.broadcasts())
    return bid, panel


async def test_no_admin_and_a_message_that_cannot_be_copied(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    before = await w.snapshot()
    said = await env.ask(NOBODY, "/broadcast")
    assert said["text"] == w.refusal("bc.not_admin")
    env.world.send_text(NOBODY, TEXT)  # not taken as a broadcast: no conversation was begun
    await env.settle()
    assert await w.snapshot() == before
    # An admin forwards a quiz the bot cannot copy: refused, and the conversation waits on.
    assert (await env.ask(ADMIN, "/broadcast"))["text"] == w.t("bcui.ask_message")
    after = env.last_bot_id(ADMIN)
    env.world.send_content(ADMIN, {"poll": QUIZ})
    said = await env.world.wait_for_bot_message(ADMIN, after=after)
    assert said["text"] == w.refusal("bc.cannot_copy")
    assert await w.snapshot() == before
    # A forwarded post is fine: it is copied as it is.
    after = env.last_bot_id(ADMIN)
    origin = {"type": "hidden_user", "sender_user_name": "Ban Tuyên giáo", "date": 1_700_000_000}
    env.world.send_content(ADMIN, {"text": TEXT, "forward_origin": origin})
    panel = await env.world.wait_for_bot_message(ADMIN, after=after)
    assert panel["text"].startswith(w.t("bcui.audience.title").split("\n")[0])
    (draft,) = await w.broadcasts()
    assert (draft.kind, draft.excerpt) == ("text", TEXT)


async def test_a_commune_admin_stays_in_their_commune(bc: BroadcastWorld) -> None:
    w = bc
    other_commune = w.units[2][0]
    theirs, _panel = await _draft(w, ADMIN)
    bid, panel = await _draft(w, COMMUNE_ADMIN)
    before = await w.snapshot()
    forged = AudCb(b=bid, a=AudAct.UNIT, unit=other_commune, p=0).pack()
    said = await w.tap(COMMUNE_ADMIN, panel, forged, strict=False)
    assert said == {**said, "text": w.refused("bc.other_unit"), "show_alert": True}
    # The district admin's draft is not theirs to send (nor to see).
    said = await w.tap(COMMUNE_ADMIN, panel, SendCb(b=theirs, version=1).pack(), strict=False)
    assert said["text"] == w.refused("bc.not_found")
    forged = AudCb(b=theirs, a=AudAct.NEXT).pack()
    said = await w.tap(COMMUNE_ADMIN, panel, forged, strict=False)
    assert said["text"] == w.refused("bc.not_found")
    assert await w.snapshot() == before


async def test_empty_audience_old_preview_and_gui_twice(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    unit_id, _code, unit_name = w.units[0]
    mine = [b for b in w.in_unit(unit_id) if b.live]
    bid, panel = await _draft(w, ADMIN)
    before = await w.snapshot()
    # Nobody chosen: Tiếp is refused; so is taking away the last choice.
    said = await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    assert said == {**said, "text": w.refused("bc.empty_audience"), "show_alert": True}
    assert await w.snapshot() == before
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.part.secretaries")))
    chosen = await w.snapshot()
    said = await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.part.secretaries")))
    assert said["text"] == w.refused("bc.empty_audience")
    assert await w.snapshot() == chosen
    # Preview one: the unit's groups and their secretaries.
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.units", mark="▫️", n=0)))
    await w.tap(ADMIN, panel, w.button(panel, unit_name))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.done")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    old = await w.preview(ADMIN, panel)
    # Then the secretaries are taken off and a new preview made.
    await w.tap(ADMIN, old, w.button(old, w.t("bcui.button.edit")))
    await w.tap(ADMIN, old, w.button(old, w.t("bcui.button.back")))
    await w.tap(ADMIN, old, w.button(old, w.t("bcui.part.secretaries")))
    await w.tap(ADMIN, old, w.button(old, w.t("bcui.button.next")))
    new = await w.preview(ADMIN, old)
    # Gửi on the first preview: refused, it showed another audience.
    stale = SendCb(b=bid, version=1).pack()
    for m in env.world.bot_messages(ADMIN):
        for b in buttons(m):
            if b["text"] == w.t("bcui.button.send") and m["message_id"] < new["message_id"]:
                stale = b["callback_data"]
    before = await w.snapshot()
    said = await w.tap(ADMIN, old, stale, strict=False)
    assert said == {**said, "text": w.refused("bc.stale"), "show_alert": True}
    assert await w.snapshot() == before
    # Gửi on the new one goes; pressed again (a double tap), refused.
    send = w.button(new, w.t("bcui.button.send"))
    await w.tap(ADMIN, new, send)
    said = await w.tap(ADMIN, new, send, strict=False)
    assert said["text"] == w.refused("bc.already_sent")
    said = await w.tap(ADMIN, old, stale, strict=False)
    assert said["text"] in (w.refused("bc.already_sent"), w.refused("bc.stale"))
    said = await w.tap(ADMIN, new, f"bcux:{bid}", strict=False)  # Huỷ after Gửi
    assert said["text"] == w.refused("bc.already_sent")
    await w.delivered()
    # Exactly one copy in each of the unit's groups; none to secretaries, nothing elsewhere.
    for b in w.live:
        want = 1 if b in mine else 0
        assert b.chat is not None and len(w.copies(b.chat, bid, TEXT)) == want
        assert w.copies(b.secretary, bid, TEXT) == []
    async with env.app.session_factory() as s:
        rows = await s.scalar(
            select(func.count()).where(
                OutboxEntry.origin_type == "broadcast", OutboxEntry.origin_id == str(bid)
            )
        )
    assert rows == len(mine)
