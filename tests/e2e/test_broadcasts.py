"""Guidance broadcasts end to end, through the sandbox with its flood limits on: a formatted
PDF to every dan-phuong branch group, the progress message, acknowledgements, the reminder,
the record (/broadcasts, the .xlsx)."""

from __future__ import annotations

from tests.e2e.broadcasts_world import ADMIN, PDF, BroadcastWorld

BOLD = [{"type": "bold", "offset": 0, "length": 8}]
CAPTION = "Kế hoạch học tập Nghị quyết Trung ương"


async def test_smoke(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    doc = env.world.world_state.document_from_bytes(PDF, "ke-hoach.pdf", "application/pdf")
    content = {"document": doc, "caption": CAPTION, "caption_entities": BOLD}
    panel = await w.start(ADMIN, lambda: env.world.send_content(ADMIN, content))
    print(panel["text"])
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.part.all")))
    print(w.now(panel)["text"])
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    print(w.now(panel)["text"])
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.ack")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.pin")))
    print(w.now(panel)["text"])
    summary = await w.preview(ADMIN, panel)
    print(summary["text"])
    await w.tap(ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    print(w.now(summary)["text"])
    await w.delivered()
    for m in env.world.bot_messages(ADMIN)[-3:]:
        print("ADMIN:", m.get("text") or m.get("caption"))
    assert False
