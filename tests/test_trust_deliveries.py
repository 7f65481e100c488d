"""Trust, class 1: a delivery queued for a group's target goes to the chat that target has
when it leaves (relinked: the new group; unlinked: failed "unlinked"), never to a former chat.
Several kinds that wait (a reminder, a nudge, a broadcast copy with its reply) through the real
sender against the sandbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.outbox import OutboxMessage, OutboxState, enqueue
from sandbox.testing import run_sandbox
from storage.db import create_session_factory
from storage.models import ChatBinding, OutboxEntry
from tests.test_outbox import add_district, fast_config, running_sender, wait_all_final

OLD, NEW, UNIT_CHAT, OTHER = -801, -802, -803, -804
BRANCH, UNIT, OTHER_BRANCH = 11, 12, 13


async def test_deliveries_follow_the_target_to_its_current_chat(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    async with sf() as s, s.begin():
        district = await add_district(s)
        for chat, kind, target in ((OLD, "branch", BRANCH), (UNIT_CHAT, "unit", UNIT)):
            s.add(
                ChatBinding(chat_id=chat, target_type=kind, target_id=target, district_id=district)
            )
    async with sf() as s, s.begin():
        for chat, kind, origin, key in (
            (OLD, "reminder", "meeting", "reminder"),
            (OLD, "nudge", "nudge", "nudge"),
            (OLD, "broadcast", "broadcast", "broadcast"),
            (UNIT_CHAT, "broadcast", "broadcast", "unit copy"),
            (OTHER, "reminder", "meeting", "never bound"),
        ):
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=chat, kind=kind, text=key, dedupe_key=key, origin_type=origin
                ),
            )
        await s.execute(update(OutboxEntry).values(reply_to_message_id=None))
    async with sf() as s, s.begin():
        queued = min((await s.scalars(select(OutboxEntry.created_at))).all())
        later = queued + timedelta(seconds=5)
        # After Gửi: the branch relinks to a new group, the old group now stands for another
        # branch, and the unit unlinks its group.
        await s.execute(
            update(ChatBinding).values(active=False, unbound_at=later, unbound_reason="relinked")
        )
        s.add(
            ChatBinding(
                chat_id=NEW,
                target_type="branch",
                target_id=BRANCH,
                district_id=district,
                bound_at=later,
            )
        )
        s.add(
            ChatBinding(
                chat_id=OLD,
                target_type="branch",
                target_id=OTHER_BRANCH,
                district_id=district,
                bound_at=later,
            )
        )
    async with run_sandbox() as sb:
        sb.add_user(1, "A", started=True)
        for chat in (OLD, NEW, UNIT_CHAT, OTHER):
            sb.create_group(chat, f"G{chat}", members={1: "creator"}, bot_status="member")
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 5, within=30)
        sent = {
            chat: sorted(m["text"] for m in sb.bot_messages(chat))
            for chat in (OLD, NEW, UNIT_CHAT, OTHER)
        }
    assert sent == {
        OLD: [],
        NEW: ["broadcast", "nudge", "reminder"],
        UNIT_CHAT: [],
        OTHER: ["never bound"],
    }
    async with sf() as s:
        rows = {r.text: r for r in (await s.scalars(select(OutboxEntry))).all()}
    assert rows["unit copy"].state == OutboxState.FAILED and rows["unit copy"].error == "unlinked"
    assert {rows[k].sent_chat_id for k in ("broadcast", "nudge", "reminder")} == {NEW}
