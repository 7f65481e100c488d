"""Trust, class 1: a delivery queued for a group's target goes to the chat that target has
when it leaves (relinked: the new group; unlinked: failed "unlinked"), never to a former chat.
Several kinds that wait (a reminder, a nudge, a broadcast copy with its reply) through the real
sender against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.outbox import OutboxKind as K
from bot.outbox import OutboxMessage, OutboxState, enqueue
from sandbox.testing import SandboxHandle, run_sandbox
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
            (OLD, K.REMINDER, "meeting", "reminder"),
            (OLD, K.NUDGE, "nudge", "nudge"),
            (OLD, K.BROADCAST, "broadcast", "broadcast"),
            (UNIT_CHAT, K.BROADCAST, "broadcast", "unit copy"),
            (OTHER, K.REMINDER, "meeting", "never bound"),
        ):
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=chat, kind=kind, text=key, dedupe_key=key, origin_type=origin
                ),
            )
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


@pytest.fixture
async def sb() -> AsyncIterator[SandboxHandle]:
    async with run_sandbox() as handle:
        yield handle


async def test_a_scheduled_broadcast_goes_to_the_group_linked_when_it_leaves(
    engine: AsyncEngine, sb: SandboxHandle
) -> None:
    """The issue's story: Gửi at 11:00 for 09:00 tomorrow; B01 relinks to a new group and the
    commune unlinks its group before 09:00. At 09:00 the new group gets the copy, the former
    group nothing; the commune's copy is reported failed ("unlinked"); Đã nhận counts in the
    new group."""
    from bot.services import broadcasts as bc
    from bot.services.access.policy import load_actor
    from bot.services.broadcasts import Audience
    from bot.services.broadcasts import AudiencePart as P
    from bot.services.broadcasts.progress import install_hooks, sync
    from storage.models import Broadcast
    from tests import orgdata as o
    from tests.broadcast_world import G_B1, G_B4, G_U1, bc_world
    from tests.test_broadcasts_delivery import running_sender

    w = await bc_world(engine)
    install_hooks()
    sb.add_user(o.ADMIN, "Quản trị", started=True)
    sb.add_user(o.SEC1, "Bí", started=True)
    source = sb.send_text(o.ADMIN, "Hướng dẫn số 1")["message"]["message_id"]
    g_new = -1009
    start = w.clock.now()
    async with w.factory() as s, s.begin():
        await s.execute(update(ChatBinding).values(bound_at=start - timedelta(days=30)))
    audience = Audience(parts=frozenset({P.ALL_BRANCH_GROUPS, P.UNIT_CHATS}))
    at = start + timedelta(hours=22)
    draft = await w.draft(
        audience, ids=(source,), ack_required=True, ack_deadline=at + timedelta(days=2), send_at=at
    )
    await w.send(draft)
    w.clock.t = start + timedelta(hours=2)
    async with w.factory() as s, s.begin():
        now = w.clock.now()
        for chat in (G_B1, G_U1):
            await s.execute(
                update(ChatBinding)
                .where(ChatBinding.chat_id == chat)
                .values(active=False, unbound_at=now, unbound_reason="relinked")
            )
        s.add(
            ChatBinding(
                chat_id=g_new,
                target_type="branch",
                target_id=w.org.b1,
                district_id=w.org.district,
                bound_at=now,
            )
        )
    w.clock.t = at + timedelta(minutes=1)
    for chat in (G_B1, G_B4, G_U1, g_new):
        sb.create_group(chat, f"Nhóm {chat}", {o.SEC1: "creator"}, bot_status="member")
    async with running_sender(sb, w, fast_config()):
        await wait_all_final(w.factory, 4, within=30)  # 3 copies and the progress
    assert [m.get("text") for m in sb.bot_messages(g_new)] == ["Hướng dẫn số 1"]
    assert sb.bot_messages(G_B1) == [] and sb.bot_messages(G_U1) == []
    assert len(sb.bot_messages(G_B4)) == 1
    async with w.factory() as s, s.begin():
        b = await s.get(Broadcast, draft)
        assert b is not None
        await sync(s, b, w.clock.now(), w.ctx)
    by_target = {(r.target_type, r.target_id): r for r in await w.recipients(draft)}
    assert by_target[("branch", w.org.b1)].chat_id == g_new
    assert by_target[("branch", w.org.b1)].state == "sent"
    assert by_target[("unit", w.org.u1)].state == "failed"
    assert (by_target[("unit", w.org.u1)].error or "").startswith("unlinked")
    async with w.factory() as s, s.begin():
        sec1 = await load_actor(s, o.SEC1)
        result = await bc.acknowledge(s, w.ctx, sec1, draft, g_new, via_chat=g_new)
    assert result.recorded
