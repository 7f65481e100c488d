"""/broadcasts: the record, a page at a time (the kit's pager), each broadcast opening to its
figures; who may not see it is refused, and a read changes nothing."""

from __future__ import annotations

from bot.services import broadcasts as svc
from bot.services.access.policy import load_actor
from bot.services.broadcasts import compose
from handlers.broadcasts.callbacks import HistAct, HistCb
from tests.e2e.broadcasts_world import ADMIN, COMMUNE_ADMIN, NOBODY, BroadcastWorld
from tests.helpers import buttons

PAGE = svc.DEFAULT_CONFIG.page_size


async def _sent(w: BroadcastWorld, n: int) -> list[int]:
    """`n` broadcasts by the admin to the units' committee chats (none is linked: nothing is
    sent, every recipient is unreachable), queued through the services."""
    ids = []
    # The admin's messages first, each handled by the bot before the services write (a handler
    # waiting on the write lock held below would otherwise be starved on a loaded machine).
    mids = [
        w.env.world.send_text(ADMIN, f"Thông báo số {i}")["message"]["message_id"] for i in range(n)
    ]
    await w.env.settle()
    async with w.env.app.session_factory() as s, s.begin():
        actor = await load_actor(s, ADMIN)
        for i, mid in enumerate(mids):
            source = compose.Source(ADMIN, (mid,), "text", f"Thông báo số {i}")
            draft = await compose.start_draft(s, w.ctx, actor, w.district, source)
            audience = svc.Audience(parts=frozenset({svc.AudiencePart.UNIT_CHATS}))
            await compose.set_audience(s, w.ctx, actor, draft.id, audience)
            preview = await compose.preview(s, w.ctx, actor, draft.id)
            await compose.send(s, w.ctx, actor, draft.id, preview.version)
            ids.append(draft.id)
    await w.delivered()
    return ids


async def test_the_record_page_by_page(bc: BroadcastWorld) -> None:
    w, env = bc, bc.env
    ids = await _sent(w, PAGE + 2)
    listing = await env.ask(ADMIN, "/broadcasts")
    assert listing["text"] == w.t("bcui.history.title", page=1)
    # Class 11: each row is the day and the excerpt, the id only inside the button.
    rows = [b["text"].split(" · ")[1] for b in buttons(listing) if " · " in b["text"]]
    assert rows == [f"Thông báo số {i}" for i in reversed(range(len(ids)))][:PAGE]  # newest first
    assert not [b["text"] for b in buttons(listing) if "#" in b["text"]]
    before = await w.snapshot()
    await w.tap(ADMIN, listing, w.button(listing, w.t("people.next")))
    page2 = w.now(listing)
    assert page2["text"] == w.t("bcui.history.title", page=2)
    names = [b["text"].split(" · ")[1] for b in buttons(page2) if " · " in b["text"]]
    assert names == ["Thông báo số 1", "Thông báo số 0"]
    await w.tap(ADMIN, listing, w.button(page2, " · Thông báo số 0 · "))
    detail = w.now(listing)["text"]
    assert detail.startswith(w.t("bcui.detail.head", excerpt="Thông báo số 0"))
    assert w.t("bcui.detail.silent", n=len(w.units)) in detail
    assert w.t("bc.reason.not_linked") in detail
    await w.tap(ADMIN, listing, w.button(listing, w.t("bcui.button.list")))
    assert w.now(listing)["text"] == w.t("bcui.history.title", page=2)
    assert await w.snapshot() == before  # reading changes nothing
    # The commune admin sees none of the district admin's; a forged press to open one is
    # refused; someone who is no admin is told so.
    theirs = await env.ask(COMMUNE_ADMIN, "/broadcasts")
    assert theirs["text"] == w.t("bcui.history.none")
    forged = HistCb(a=HistAct.OPEN, b=ids[0], p=0).pack()
    said = await w.tap(COMMUNE_ADMIN, theirs, forged, strict=False)
    assert said["text"] == w.refused("bc.not_found")
    said = await env.ask(NOBODY, "/broadcasts")
    assert said["text"] == w.refusal("bc.not_admin")
    assert await w.snapshot() == before
