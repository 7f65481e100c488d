"""The live count on a correction keeps what changed: after the first tap the group's
"schedule changed" message was re-rendered with the plain header and lost its old -> new line
(found when direct edits started waiting for the group's limits and a pending edit landed after
the correction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.live_edits import CoalescedEdits, Edit
from bot.services.meetings import LiveCounts
from storage.models import TelegramUser
from storage.models.outbox import OutboxEntry
from tests.helpers import local
from tests.orgdata import DEP1, MEM1, SEC1, meeting_world

GROUP = -100321


async def test_a_correction_keeps_its_change_line_under_the_counts(engine: AsyncEngine) -> None:
    users = [TelegramUser(id=u, first_name="A") for u in (SEC1, DEP1, MEM1)]
    world = await meeting_world(engine, GROUP, users)
    async with world.factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        res = await svc.schedule_meeting(
            s, actor, world.ctx, world.org.b1, kind="regular", starts_at=local(2026, 12, 3, 19, 30)
        )
    mid = res.meeting.id
    async with world.factory() as s, s.begin():
        await s.execute(update(OutboxEntry).values(state="sent", telegram_message_id=555))
    async with world.factory() as s, s.begin():
        await svc.reschedule_meeting(
            s, await load_actor(s, SEC1), world.ctx, mid, starts_at=local(2026, 12, 4, 20, 0)
        )
    async with world.factory() as s, s.begin():
        await s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.state == "pending")
            .values(state="sent", telegram_message_id=556)
        )
        await svc.record_rsvp(s, world.clock, mid, MEM1, "yes")
    edits: list[tuple[int, int, str]] = []

    async def edit(chat_id: int, message_id: int, text: str, _markup: dict[str, Any]) -> None:
        edits.append((chat_id, message_id, text))

    await LiveCounts().flush(world.factory, world.ctx, edit)
    by_message = {(chat, message): text for chat, message, text in edits}
    assert set(by_message) == {(GROUP, 555), (GROUP, 556)}
    text = by_message[(GROUP, 556)]  # the correction: the live message
    assert "03/12/2026 lúc 19:30</s> → <b>Thứ Sáu, 04/12/2026 lúc 20:00" in text
    assert "Có mặt: 1" in text
    # The announcement before it shows the meeting as it is now and points to the live one.
    announcement = by_message[(GROUP, 555)]
    assert world.ctx.i18n.t("mtg.announce.superseded", "vi") in announcement
    assert "Thứ Sáu, 04/12/2026 lúc 20:00" in announcement and "19:30" not in announcement


async def test_an_edit_refused_for_good_is_not_retried_every_pass() -> None:
    """A member who blocked the bot (or deleted the reminder) makes their reminder's edit fail
    for good: given up, not kept pending (a pass every 3 s would retry and log it forever); a
    passing failure stays pending."""
    tries: list[int] = []

    async def edit(chat_id: int, message_id: int, _text: str, _markup: Any) -> None:
        tries.append(chat_id)
        if chat_id == MEM1:
            raise RuntimeError("Forbidden: bot was blocked by the user")
        raise RuntimeError("Too Many Requests: retry after 5")

    editor = CoalescedEdits()
    todo = [Edit(7, MEM1, 10, "a", None), Edit(8, GROUP, 11, "b", None)]
    assert await editor.apply(todo, edit) == 0
    assert editor.pending == {8}
    assert editor.shown(MEM1, 10, "a") and not editor.shown(GROUP, 11, "b")
