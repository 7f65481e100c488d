"""An album, by a commune's admin, to their commune's branch groups and its secretaries in
private: gathered from its items' updates into one draft, previewed as an album, delivered as
an album (copyMessages) with the Đã nhận button on a short message after it; nothing goes
outside the commune."""

from __future__ import annotations

import base64

from tests.e2e.broadcasts_world import COMMUNE_ADMIN, BroadcastWorld, Msg
from tests.helpers import buttons

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
CAPTION = "Tài liệu sinh hoạt chuyên đề tháng 12"


def _album(w: BroadcastWorld, chat: int, after: int = 0) -> list[Msg]:
    return [
        m
        for m in w.env.world.bot_messages(chat)
        if m["message_id"] > after and "photo" in m and m.get("media_group_id")
    ]


async def test_an_album_to_a_communes_groups_and_secretaries(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    commune = w.units[1][0]
    mine = w.in_unit(commune)
    outside = [b for b in w.branches if b.unit_id != commune]

    def send_album() -> None:
        env.world.upload_photo(COMMUNE_ADMIN, None, PNG, CAPTION, media_group_id="77")
        env.world.upload_photo(COMMUNE_ADMIN, None, PNG, None, media_group_id="77")

    panel = await w.start(COMMUNE_ADMIN, send_album)
    await env.settle()  # the album's second item ends quietly
    drafts = await w.broadcasts()
    assert [(d.kind, len(d.source_message_ids), d.unit_id) for d in drafts] == [
        ("album", 2, commune)
    ]
    # Their own commune is the only unit on offer.
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.button.units", mark="▫️", n=0)))
    unit_buttons = [b["text"] for b in buttons(w.now(panel))]
    assert [t for t in unit_buttons if t.startswith("▫️")] == [f"▫️ {w.units[1][2]}"]
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.button.done")))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.part.all")))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.part.secretaries")))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.button.ack")))
    last = env.last_bot_id(COMMUNE_ADMIN)
    summary = await w.preview(COMMUNE_ADMIN, panel)
    # The preview: the album as an album, then the button on its short message.
    shown = _album(w, COMMUNE_ADMIN, last)
    assert len(shown) == 2 and len({m["media_group_id"] for m in shown}) == 1
    assert shown[0]["caption"] == CAPTION
    prompt = [m for m in env.world.bot_messages(COMMUNE_ADMIN) if m["message_id"] > last][2]
    assert prompt["text"] == w.t("bc.ack.prompt")
    hint = await w.tap(COMMUNE_ADMIN, prompt, buttons(prompt)[0]["callback_data"])
    assert hint == {**hint, "text": w.t("bcui.preview.button_hint"), "show_alert": True}
    # Reached: the commune's linked groups and the secretaries who opened a private chat.
    groups = [b for b in mine if b.live]
    privates = [b for b in mine if b.private_ok]
    assert w.t("bcui.preview.title", n=len(groups) + len(privates)) in (summary["text"])
    for b in mine:
        if not b.private_ok:
            assert w.t("bc.reason.no_private_chat") in summary["text"]
    await w.tap(COMMUNE_ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    await w.delivered()
    bid = drafts[0].id
    for b in groups:
        assert b.chat is not None
        album = _album(w, b.chat)
        assert len(album) == 2 and album[0]["caption"] == CAPTION
        (after,) = w.copies(b.chat, bid)
        assert after["text"] == w.t("bc.ack.prompt")
        assert after["message_id"] == album[-1]["message_id"] + 1
    for b in privates:
        assert len(_album(w, b.secretary)) == 2
        (after,) = w.copies(b.secretary, bid)
        assert after["text"] == w.t("bc.ack.prompt_private")
    for b in outside:
        if b.chat is not None:
            assert env.world.bot_messages(b.chat) == []
        assert _album(w, b.secretary) == []
    # A secretary acknowledges in private.
    first = privates[0]
    (button_message,) = w.copies(first.secretary, bid)
    said = await w.tap(first.secretary, button_message, f"bca:{bid}")
    thanks = w.t("bc.ack.thanks", name="@").split("@")
    assert said["text"].startswith(thanks[0]) and said["text"].endswith(thanks[1])
    assert first.name in said["text"] and not said["show_alert"]
    recs = [r for r in await w.recipients(bid) if r.ack_at is not None]
    assert [r.chat_id for r in recs] == [first.secretary]
