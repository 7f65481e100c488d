"""A broadcast scheduled for 09:00 (Hẹn giờ → today → 09:00) survives a restart: the process
is replaced before its time, and the new one sends it at 09:00, once to each chat, and the
progress message goes from "scheduled" to the final report."""

from __future__ import annotations

import dataclasses

import time_machine

from sandbox.testing import run_sandbox
from tests.e2e.broadcasts_world import ADMIN, START, BroadcastWorld, Msg, _populate, plain
from tests.e2e.harness import PRODUCTION_PACE, running_bot
from tests.e2e.rosters_world import _started
from tests.helpers import local

TEXT = "Lịch tiếp công dân của Đảng ủy tháng 12"


async def _schedule_for_nine(w: BroadcastWorld) -> tuple[int, Msg, Msg]:
    env = w.env
    unit_id, _code, name = w.units[0]
    panel = await w.start(ADMIN, lambda: env.world.send_text(ADMIN, TEXT))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.units", mark="▫️", n=0)))
    await w.tap(ADMIN, panel, w.button(panel, name))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.done")))
    assert f"• {w.t('bcui.part.units')}: {name}" in w.now(panel)["text"]
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.later")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.day.today")))
    assert "08:00" not in [b["text"] for b in w.now(panel)["reply_markup"]["inline_keyboard"][0]]
    await w.tap(ADMIN, panel, w.button(panel, "09:00"))
    nine = w.t("people.when", weekday=w.t("people.weekday.0"), date="30/11/2026", time="09:00")
    assert w.t("bcui.options.at", when=nine) in w.now(panel)["text"]
    summary = await w.preview(ADMIN, panel)
    (b,) = await w.broadcasts()
    await w.tap(ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    assert w.now(summary)["text"] == w.t("bcui.sent.later", when=nine)
    await w.delivered()
    head = w.t("bc.progress.head", excerpt=TEXT)
    (progress,) = [
        m for m in env.world.bot_messages(ADMIN) if (m.get("text") or "").startswith(head)
    ]
    return b.id, summary, progress


async def test_a_scheduled_broadcast_survives_a_restart(dan_phuong_url: str) -> None:
    traveller = time_machine.travel(START, tick=True)
    clock = traveller.start()
    try:
        async with run_sandbox(port=0) as sb:
            async with running_bot(dan_phuong_url, sandbox=sb, settings_env=PRODUCTION_PACE) as env:
                await _started(env)
                w = await _populate(env)
                w.clock = clock
                bid, _summary, progress = await _schedule_for_nine(w)
                mine = [b for b in w.in_unit(w.units[0][0]) if b.live]
                scheduled = plain(
                    w.raw("bc.progress.scheduled", when="Thứ Hai, 30/11/2026 lúc 09:00", queued=0)
                )
                assert scheduled.split(" tới")[0] in progress["text"]
                assert all(w.copies(b.chat or 0, bid, TEXT) == [] for b in mine)
            # The process is replaced before nine; the new one finds the broadcast due.
            clock.move_to(local(2026, 11, 30, 9, 0))
            async with running_bot(dan_phuong_url, sandbox=sb, settings_env=PRODUCTION_PACE) as env:
                await _started(env)
                w = dataclasses.replace(w, env=env)
                await w.delivered()
                for b in mine:
                    assert b.chat is not None
                    assert len(w.copies(b.chat, bid, TEXT)) == 1
                outside = [b for b in w.live if b.unit_id != w.units[0][0]]
                assert all(w.copies(b.chat or 0, bid, TEXT) == [] for b in outside)
                done = plain(w.raw("bc.progress.done", when="", sent=0, queued=0, failed=0))

                def final() -> Msg | None:
                    now = w.now(progress)
                    return now if done.split(" vào")[0] in now["text"] else None

                report = await w.wait(final, timeout=20)
                assert f"{len(mine)}/{len(mine)}" in report["text"]
                assert env.world.rate_limit_log()["violations"] == []
    finally:
        traveller.stop()
