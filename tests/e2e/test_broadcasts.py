"""Guidance broadcasts end to end, through the sandbox with its flood limits on: a PDF with a
formatted caption to every dan-phuong branch group, the live progress message and its final
report, acknowledgements by secretaries and the presses that do not count, the one reminder,
and the record (/broadcasts, the table by unit, the .xlsx)."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from bot.app.jobs.broadcasts import reminders_job
from bot.services.broadcasts import AckCb
from tests.e2e.broadcasts_world import ADMIN, PDF, BranchInfo, BroadcastWorld, Msg, plain
from tests.helpers import buttons, local

BOLD = [{"type": "bold", "offset": 0, "length": 8}]
CAPTION = "Kế hoạch học tập Nghị quyết Trung ương"


async def _compose_pdf(w: BroadcastWorld) -> tuple[Msg, Msg]:
    """The admin sends the PDF, picks every branch group, asks for Đã nhận (3 days) and a pin;
    the preview's copy and its summary."""
    env = w.env
    doc = env.world.world_state.document_from_bytes(PDF, "ke-hoach.pdf", "application/pdf")
    content = {"document": doc, "caption": CAPTION, "caption_entities": BOLD}
    panel = await w.start(ADMIN, lambda: env.world.send_content(ADMIN, content))
    assert w.t("bcui.audience.nothing") in panel["text"]
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.part.all")))
    assert "• " + w.t("bcui.part.all") in w.now(panel)["text"]
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.ack")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.pin")))
    options = w.now(panel)["text"]
    assert w.t("bcui.options.pin_on") in options
    assert w.t("bcui.button.days", n=3) in [b["text"][2:] for b in buttons(w.now(panel))]
    summary = await w.preview(ADMIN, panel)
    copy = [m for m in env.world.bot_messages(ADMIN) if m["message_id"] < summary["message_id"]][-1]
    return copy, summary


def _line(w: BroadcastWorld, b: BranchInfo) -> str:
    reason = "bc.reason.bot_removed" if b.removed else "bc.reason.not_linked"
    return f"• {b.name} — {w.t(reason)}"


async def test_a_formatted_pdf_to_every_branch_group(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    copy, summary = await _compose_pdf(w)
    (draft,) = await w.broadcasts()
    bid = draft.id
    deadline = (
        "Thứ Năm, 03/12/2026 lúc 17:00"  # three days after Monday, at the end of the office day
    )
    # The preview is the message itself, as recipients will see it, with their button.
    mine = [m for m in env.world.messages(ADMIN) if not m["is_bot_message"]]
    (source,) = [m for m in mine if "document" in m]
    assert copy["document"]["file_id"] == source["document"]["file_id"]  # copied, not uploaded
    assert copy["caption"] == CAPTION and copy["caption_entities"] == BOLD
    assert [b["text"] for b in buttons(copy)] == [w.t("bc.button.ack_by", deadline=deadline)]
    # Then how many chats, and the ones it cannot reach by name, with why.
    gone = [b for b in w.branches if not b.live]
    assert len(gone) >= 10 and len(w.live) + len(gone) == len(w.branches)
    text = summary["text"]
    assert w.t("bcui.preview.title", n=len(w.live)) in text
    assert w.t("bcui.preview.unreachable", n=len(gone)) in text
    for b in gone:
        assert _line(w, b) in text
    # Gửi: the summary says so, and every bound group gets one copy, pinned.
    await w.tap(ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    assert w.now(summary)["text"] == w.t("bcui.sent.now")
    assert buttons(w.now(summary)) == []
    await w.delivered()
    for b in w.live:
        assert b.chat is not None
        (got,) = w.copies(b.chat, bid)
        assert got["document"]["file_id"] == copy["document"]["file_id"]
        assert (got["caption"], got["caption_entities"]) == (CAPTION, BOLD)
        assert [p["message_id"] for p in env.world.pinned(b.chat)] == [got["message_id"]]
    for b in gone:
        if b.chat is not None:
            assert env.world.bot_messages(b.chat) == []
    # The progress message was edited as it went, and ends with the final report.
    head = w.t("bc.progress.head", excerpt=CAPTION)
    done = plain(w.raw("bc.progress.done", when="", sent=0, queued=0, failed=0)).split(" vào")[0]
    (progress,) = [
        m
        for m in env.world.bot_messages(ADMIN)
        if m["message_id"] > summary["message_id"] and (m.get("text") or "").startswith(head)
    ]

    def final() -> Msg | None:
        now = w.now(progress)
        return now if done in now["text"] else None

    report = await w.wait(final, timeout=20)
    edits = [e for e in env.world.sent_log() if e["method"] == "editMessageText"]
    assert len([e for e in edits if e["chat_id"] == ADMIN]) >= 2
    assert f"{len(w.live)}/{len(w.live)}" in report["text"]
    assert w.t("bc.progress.unreachable", n=len(gone)) in report["text"]
    # Nothing was refused for going too fast, the broadcast or anyone's answers.
    limits = env.world.rate_limit_log()
    assert limits == {"issued": [], "violations": []}

    # Acknowledgements --------------------------------------------------------------------
    a, b, c = w.live[0], w.live[1], w.live[2]
    assert a.chat and b.chat and c.chat and a.deputy
    a_copy, b_copy = w.copies(a.chat, bid)[0], w.copies(b.chat, bid)[0]
    ack = AckCb(broadcast_id=bid).pack()
    before = await w.snapshot()
    # A plain member's press is politely refused, naming who should press.
    said = await w.tap(b.member, b_copy, ack)
    assert said["show_alert"] and said["text"].startswith(w.t("bc.ack.leaders_only", names="")[:30])
    # Another branch's secretary, in this group, neither.
    env.world.set_member_status(b.chat, c.secretary, "member")
    said = await w.tap(c.secretary, b_copy, ack)
    assert said["show_alert"] and said["text"].startswith(w.t("bc.ack.leaders_only", names="")[:30])
    # A forged button for another broadcast, in this group: not a recipient.
    said = await w.tap(b.secretary, b_copy, AckCb(broadcast_id=bid + 7).pack(), strict=False)
    assert said == {**said, "show_alert": True, "text": w.refused("bc.not_recipient")}
    assert await w.snapshot() == before
    # The secretary's press counts; the deputy after them hears it was done already.
    said = await w.tap(a.secretary, a_copy, ack)
    assert said["text"] == w.t("bc.ack.thanks", name=a.name) and not said["show_alert"]
    said = await w.tap(a.deputy, a_copy, ack)
    assert said["show_alert"] and said["text"].startswith(w.t("bc.ack.already", when="")[:20])
    acked = [r for r in await w.recipients(bid) if r.ack_at is not None]
    assert [(r.chat_id, r.ack_by) for r in acked] == [(a.chat, a.secretary)]

    # The reminder, once, a day before the deadline, as a reply in the silent groups ---------
    sent_before = {x.chat: len(env.world.bot_messages(x.chat)) for x in w.live if x.chat}
    w.clock.move_to(local(2026, 12, 2, 17, 5))
    await reminders_job(w.jobs)
    await w.delivered()
    await reminders_job(w.jobs)  # a second run sends nothing more
    await w.delivered()
    remind = w.t("bc.remind.branch", deadline=deadline)
    for x in w.live:
        assert x.chat is not None
        new = env.world.bot_messages(x.chat)[sent_before[x.chat] :]
        if x is a:
            assert new == []
            continue
        (reminder,) = new
        assert reminder["text"] == remind
        assert reminder["reply_to_message"]["message_id"] == w.copies(x.chat, bid)[0]["message_id"]
        assert [bt["callback_data"] for bt in buttons(reminder)] == [ack]

    # The record: /broadcasts, the table by unit and who is silent, the .xlsx -----------------
    listing = await env.ask(ADMIN, "/broadcasts")
    # Class 11: a broadcast is told apart by its day and excerpt, its id only in the button.
    (sent,) = await w.broadcasts()
    assert sent.queued_at is not None
    queued = sent.queued_at.astimezone(w.ctx.tz)
    (row,) = [bt for bt in buttons(listing) if bt["text"].startswith(f"{queued:%d/%m} · ")]
    assert f"#{bid}" not in row["text"] and CAPTION[:10] in row["text"]
    await w.tap(ADMIN, listing, row["callback_data"])
    detail = w.now(listing)["text"]
    assert w.t("bcui.detail.silent", n=len(w.live) - 1 + len(gone)) in detail
    by = w.t("people.when", weekday=w.t("people.weekday.3"), date="03/12/2026", time="17:00")
    assert w.t("bcui.detail.acks", acked=1, sent=len(w.live), deadline=by) in detail
    after = env.last_bot_id(ADMIN)
    await w.tap(ADMIN, listing, w.button(listing, w.t("bcui.button.xlsx")))
    sheet = await env.world.wait_for_bot_message(ADMIN, lambda m: "document" in m, after=after)
    assert sheet["document"]["file_name"] == w.t("bc.sheet.file", date=f"{queued:%Y-%m-%d-%H%M}")
    book = load_workbook(io.BytesIO(env.world.file_content(sheet["document"]["file_id"])))
    units_sheet, people_sheet = book.worksheets
    assert people_sheet.max_row == 1 + len(w.branches)
    assert units_sheet.max_row >= 1 + len(w.units)
    # Nothing went twice anywhere.
    for x in w.live:
        assert x.chat is not None and len(w.copies(x.chat, bid)) == 1
