"""Dừng mid-way and Gửi lại: a text to every branch group; the bot had been removed from three
of them without noticing (their copies fail), the admin stops the broadcast a quarter of the
way, the three groups add the bot back and link again (the bot's removal ended their links:
until then a copy is never sent there), and the admin retries the failed ones. Nothing goes
twice, nothing stopped goes at all, and the progress message says each step."""

from __future__ import annotations

from storage.models.broadcasts import RecipientState
from tests.e2e.access import link_code
from tests.e2e.broadcasts_world import ADMIN, BroadcastWorld, Msg
from tests.helpers import buttons

TEXT = "Thông báo: họp trực tuyến toàn Đảng bộ lúc 14:00 thứ Sáu"
BOLD = [{"type": "bold", "offset": 0, "length": 10}]


async def _send_to_all(w: BroadcastWorld) -> tuple[int, Msg]:
    """Compose the text to every branch group, press Gửi; the broadcast and its progress."""
    env = w.env
    panel = await w.start(ADMIN, lambda: env.world.send_text(ADMIN, TEXT, entities=BOLD))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.part.all")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    summary = await w.preview(ADMIN, panel)
    (b,) = await w.broadcasts()
    await w.tap(ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    head = w.t("bc.progress.head", excerpt=TEXT)

    def progress() -> Msg | None:
        for m in env.world.bot_messages(ADMIN):
            if m["message_id"] > summary["message_id"] and m.get("text", "").startswith(head):
                return m
        return None

    return b.id, await w.wait(progress, timeout=20)


async def test_stop_midway_then_retry_the_failed(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    kicked = w.live[:3]
    for b in kicked:  # the bot was removed from these groups, and does not know yet
        env.world.add_fault("kicked", chat_id=b.chat, count=1)
    bid, progress = await _send_to_all(w)

    def quarter() -> bool | None:
        got = sum(1 for b in w.live if b.chat and w.copies(b.chat, bid, TEXT))
        return True if got >= len(w.live) // 4 else None

    await w.wait(quarter, timeout=30)
    stop = w.button(progress, w.t("bc.button.stop"))
    at_press = sum(1 for b in w.live if b.chat and w.copies(b.chat, bid, TEXT))
    answer = await w.tap(ADMIN, progress, stop)
    # The sender goes on while Dừng is on its way and handled (at 30 a second, a loaded
    # machine's slow tap let nine more leave): what counts is what left after it was answered.
    at_answer = sum(1 for b in w.live if b.chat and w.copies(b.chat, bid, TEXT))
    await w.delivered()
    recipients = await w.mirrored(bid)
    states = {r.chat_id: r.state for r in recipients if r.chat_id is not None}
    cancelled = [c for c, s in states.items() if s == RecipientState.CANCELLED]
    assert answer["text"] == w.t("bcui.progress.stopped", n=len(cancelled))
    sent = [c for c, s in states.items() if s == RecipientState.SENT]
    # Dừng cancels what has not left: only the few requests already on their way still went.
    assert at_press <= len(sent) <= at_answer + 8, (at_press, at_answer, len(sent))
    # What was stopped never went; everything else went once; the three failed.
    for b in w.live:
        assert b.chat is not None
        got = len(w.copies(b.chat, bid, TEXT))
        if b in kicked:
            assert states[b.chat] == RecipientState.FAILED and got == 0
        elif states[b.chat] == RecipientState.CANCELLED:
            assert got == 0
        else:
            assert states[b.chat] == RecipientState.SENT and got == 1
    # The progress message: stopped, the failures by reason, and Gửi lại for them.
    # The stopped line up to its time ('⏹ Đã dừng vào '; the time itself reads 'Thứ Hai, … lúc …').
    stopped = w.t("bc.progress.stopped", when="\x00", sent=0, queued=0, failed=0, remaining=0)
    stopped = stopped.split("\x00")[0]
    retry = w.t("bc.button.retry", n=len(kicked))

    failures = w.t("bc.progress.failure_line", reason=w.t("bc.fail.kicked"), n=3)

    def ready() -> Msg | None:
        now = w.now(progress)
        done = any(b["text"] == retry for b in buttons(now)) and failures in now["text"]
        return now if done else None

    report = await w.wait(ready, timeout=20)
    assert stopped in report["text"]
    assert w.t("bc.progress.cancelled", n=len(cancelled)) in report["text"]
    # The groups added the bot back and were linked again (/linkcode, /link); Gửi lại sends
    # the three failed ones, and only them.
    env.world.clear_faults()
    for b in kicked:
        assert b.chat is not None
        code = await link_code(env, b.secretary)
        await env.ask(b.secretary, f"/link {code}", b.chat)
    answer = await w.tap(ADMIN, report, w.button(report, retry))
    assert answer["text"] == w.t("bcui.progress.retried", n=3)
    await w.delivered()
    for b in w.live:
        assert b.chat is not None
        want = 0 if states[b.chat] == RecipientState.CANCELLED else 1
        assert len(w.copies(b.chat, bid, TEXT)) == want, b
    after = {r.chat_id: r.state for r in await w.mirrored(bid) if r.chat_id is not None}
    assert [after[b.chat] for b in kicked] == [RecipientState.SENT] * 3
    # Gửi lại again finds nothing to send; Dừng after the end stops nothing.
    before = await w.snapshot()
    answer = await w.tap(ADMIN, report, w.button(report, w.t("bc.button.refresh")), strict=False)
    assert await w.snapshot() == before
    assert env.world.rate_limit_log()["violations"] == []
    assert answer is not None
