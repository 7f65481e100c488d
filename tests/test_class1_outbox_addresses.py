"""Trust, class 1 at the outbox's claim: a delivery queued for a group's target goes to the
chat that target has when it leaves, never to a former chat; a target with no chat now is
reported unreachable. Through the real sender against the sandbox, at the fixed clock.

- a row already readdressed once and retried later (`retry-failed`, a broadcast's Gửi lại)
  after its target relinked again goes to the newest chat, not the one it was readdressed to;
- the bot removed from the target's group and re-added there without a new link: the group is
  a former chat, the row is failed, never delivered there;
- when the addresses cannot be resolved (the database refuses the look-up), the group rows
  are held back and retried later, never sent as queued; the error is logged once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import SystemClock
from bot.outbox import OutboxKind as K
from bot.outbox import OutboxMessage, OutboxState, addresses, enqueue
from sandbox.testing import SandboxHandle, run_sandbox
from storage.db import create_session_factory
from storage.models import ChatBinding, OutboxEntry
from storage.repositories.outbox import OutboxRepository
from tests.test_outbox import add_district, fast_config, running_sender, wait_all_final

OLD, NEW, NEWER, OTHER = -901, -902, -903, -904
BRANCH, OTHER_BRANCH = 21, 22
PERSON = 1
SECRET = "Hướng dẫn mật 0912345678"


async def _relink(
    sf: async_sessionmaker[AsyncSession],
    district: int,
    chat: int,
    *,
    target: int = BRANCH,
    reason: str = "relinked",
    now: datetime | None = None,
) -> None:
    """The branch's group is unlinked (`reason`) and `chat` linked in its place, at `now`
    (the test's own clock when it has one)."""
    now = now or SystemClock().now()
    async with sf() as s, s.begin():
        await s.execute(
            update(ChatBinding)
            .where(
                ChatBinding.target_type == "branch",
                ChatBinding.target_id == target,
                ChatBinding.active.is_(True),
            )
            .values(active=False, unbound_at=now, unbound_reason=reason)
        )
        s.add(
            ChatBinding(
                chat_id=chat,
                target_type="branch",
                target_id=target,
                district_id=district,
                bound_at=now,
            )
        )


async def _world(sf: async_sessionmaker[AsyncSession]) -> int:
    async with sf() as s, s.begin():
        district = await add_district(s)
        s.add(
            ChatBinding(chat_id=OLD, target_type="branch", target_id=BRANCH, district_id=district)
        )
    return district


async def _queue(
    sf: async_sessionmaker[AsyncSession], items: Sequence[tuple[int, str, str]]
) -> None:
    async with sf() as s, s.begin():
        for chat, kind, key in items:
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=chat,
                    kind=kind,
                    text=key,
                    dedupe_key=key,
                    origin_type="test",
                ),
            )


def _groups(sb: SandboxHandle, *chats: int) -> None:
    sb.add_user(PERSON, "A", started=True)
    for chat in chats:
        sb.create_group(chat, f"G{chat}", members={PERSON: "creator"}, bot_status="member")


def _texts(sb: SandboxHandle, *chats: int) -> dict[int, list[str]]:
    return {chat: sorted(m.get("text") or "" for m in sb.bot_messages(chat)) for chat in chats}


async def _settled(sf: async_sessionmaker[AsyncSession], within: float = 30.0) -> None:
    """Wait until no row is waiting or on its way (cancelled ones count as ended)."""
    waiting = (OutboxState.PENDING, OutboxState.CLAIMED, OutboxState.SENDING)
    for _ in range(int(within / 0.05)):
        async with sf() as s:
            left = (
                await s.scalars(select(OutboxEntry.id).where(OutboxEntry.state.in_(waiting)))
            ).all()
        if not left:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"rows still waiting after {within}s")


async def _rows(sf: async_sessionmaker[AsyncSession]) -> dict[str, OutboxEntry]:
    async with sf() as s:
        return {r.text or "": r for r in (await s.scalars(select(OutboxEntry))).all()}


async def test_class1_a_readdressed_row_retried_after_another_relink_goes_to_the_newest_chat(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """Queued for the branch's group OLD; the branch relinks to NEW, the rows are readdressed
    there and Telegram refuses them once; the branch relinks again to NEWER (NEW now stands for
    another branch). `retry-failed` and a broadcast's Gửi lại (`requeue`) send them again: to
    NEWER, never to NEW, whose binding began after the rows were queued."""
    sf = create_session_factory(engine)
    district = await _world(sf)
    await _queue(sf, [(OLD, K.REMINDER, "reminder"), (OLD, K.BROADCAST, "broadcast")])
    fixed_clock.shift(timedelta(minutes=5))
    await _relink(sf, district, NEW)
    async with run_sandbox() as sb:
        _groups(sb, OLD, NEW, NEWER)
        # NEW refuses both copies once, for good (a 400): they end failed, readdressed to NEW.
        sb.add_fault("server_error", status=400, chat_id=NEW, count=2)
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 2, within=30)
        rows = await _rows(sf)
        assert {r.state for r in rows.values()} == {OutboxState.FAILED}
        assert {r.chat_id for r in rows.values()} == {NEW}
        fixed_clock.shift(timedelta(minutes=5))
        await _relink(sf, district, NEWER)
        async with sf() as s, s.begin():  # the former group now stands for another branch
            s.add(
                ChatBinding(
                    chat_id=NEW,
                    target_type="branch",
                    target_id=OTHER_BRANCH,
                    district_id=district,
                    bound_at=SystemClock().now(),
                )
            )
        fixed_clock.shift(timedelta(minutes=5))
        async with sf() as s, s.begin():
            repo = OutboxRepository(s)
            now = SystemClock().now()
            await repo.requeue([rows["broadcast"].id], now)  # Gửi lại
            await repo.requeue_failed(now)  # python -m bot outbox retry-failed
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 2, within=30)
        sent = _texts(sb, OLD, NEW, NEWER)
    assert sent == {OLD: [], NEW: [], NEWER: ["broadcast", "reminder"]}
    rows = await _rows(sf)
    assert {r.sent_chat_id for r in rows.values()} == {NEWER}
    assert {r.state for r in rows.values()} == {OutboxState.SENT}


async def test_class1_a_readdressed_row_whose_target_unlinked_later_is_never_sent(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """Readdressed to NEW, refused there once; then the branch unlinks NEW with no group in
    its place. Retried, the row is failed "unlinked", never sent to NEW."""
    sf = create_session_factory(engine)
    district = await _world(sf)
    await _queue(sf, [(OLD, K.REMINDER, "reminder")])
    fixed_clock.shift(timedelta(minutes=5))
    await _relink(sf, district, NEW)
    async with run_sandbox() as sb:
        _groups(sb, OLD, NEW)
        sb.add_fault("server_error", status=400, chat_id=NEW, count=1)
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 1, within=30)
        fixed_clock.shift(timedelta(minutes=5))
        now = SystemClock().now()
        async with sf() as s, s.begin():
            await s.execute(
                update(ChatBinding)
                .where(ChatBinding.chat_id == NEW)
                .values(active=False, unbound_at=now, unbound_reason="unlinked")
            )
            await OutboxRepository(s).requeue_failed(now)
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 1, within=30)
        sent = _texts(sb, OLD, NEW)
    assert sent == {OLD: [], NEW: []}
    row = (await _rows(sf))["reminder"]
    assert (row.state, row.error) == (OutboxState.FAILED, "unlinked")


async def test_class1_the_bot_removed_and_re_added_without_a_link_gets_nothing(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """The bot was removed from the branch's group after the reminder was queued and added
    back later without a new /link: the group is no longer the branch's, so the reminder is
    reported failed (the bot removed) and never delivered there."""
    sf = create_session_factory(engine)
    await _world(sf)
    await _queue(sf, [(OLD, K.REMINDER, "reminder"), (OLD, K.BROADCAST, "broadcast")])
    fixed_clock.shift(timedelta(minutes=5))
    now = SystemClock().now()
    async with sf() as s, s.begin():
        await s.execute(
            update(ChatBinding).values(active=False, unbound_at=now, unbound_reason="bot_left")
        )
    async with run_sandbox() as sb:
        _groups(sb, OLD)  # the bot is a member there again
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 2, within=30)
        sent = _texts(sb, OLD)
    assert sent == {OLD: []}
    rows = await _rows(sf)
    assert {r.state for r in rows.values()} == {OutboxState.FAILED}
    assert {(r.error or "").split(":")[0] for r in rows.values()} == {"kicked"}


async def test_class1_addresses_not_resolved_hold_the_group_rows_back(
    engine: AsyncEngine,
    fixed_clock: time_machine.Traveller,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The look-up of the addresses fails (the database refuses it) three times: the group
    row is not sent while it fails, neither to the former chat nor anywhere; a person's
    message claimed with it goes; the error is logged once. When the look-up works again the
    row goes to the target's current chat."""
    sf = create_session_factory(engine)
    district = await _world(sf)
    await _queue(sf, [(OLD, K.BROADCAST, SECRET), (PERSON, K.REMINDER, "private")])
    fixed_clock.shift(timedelta(minutes=5))
    await _relink(sf, district, NEW)
    real = addresses.resolve
    failures = {"left": 3}

    async def broken(session: AsyncSession, rows: Sequence[OutboxEntry]) -> addresses.Addressing:
        if failures["left"] > 0:
            failures["left"] -= 1
            await session.execute(text("SELECT no_such_column FROM chat_bindings"))
        return await real(session, rows)

    monkeypatch.setattr(addresses, "resolve", broken)
    caplog.set_level(logging.INFO)
    async with run_sandbox() as sb:
        _groups(sb, OLD, NEW)
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 2, within=30)
        sent = _texts(sb, OLD, NEW, PERSON)
    assert failures["left"] == 0
    assert sent == {OLD: [], NEW: [SECRET], PERSON: ["private"]}
    rows = await _rows(sf)
    assert rows[SECRET].sent_chat_id == NEW and rows[SECRET].attempts == 1
    errors = [r for r in caplog.records if "resolving addresses failed" in r.getMessage()]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert all(SECRET not in r.getMessage() for r in caplog.records)


async def test_class1_a_row_queued_to_a_chat_already_former_follows_its_target(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """A feature that queues from a chat id it stored earlier (a broadcast's Đã nhận reminder
    replies in the chat the copy went to) may queue to a group its target left before the row
    was queued. That group is a former chat all the same: the row goes to the target's group
    now, or fails "unlinked" when the target has none; never to the former group."""
    sf = create_session_factory(engine)
    district = await _world(sf)
    async with sf() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=OTHER, target_type="branch", target_id=OTHER_BRANCH, district_id=district
            )
        )
    fixed_clock.shift(timedelta(minutes=5))
    await _relink(sf, district, NEW)
    now = SystemClock().now()
    async with sf() as s, s.begin():
        await s.execute(
            update(ChatBinding)
            .where(ChatBinding.chat_id == OTHER)
            .values(active=False, unbound_at=now, unbound_reason="unlinked")
        )
    fixed_clock.shift(timedelta(minutes=5))
    await _queue(sf, [(OLD, K.REMINDER, "reminder"), (OTHER, K.NUDGE, "nudge")])
    async with run_sandbox() as sb:
        _groups(sb, OLD, NEW, OTHER)
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 2, within=30)
        sent = _texts(sb, OLD, NEW, OTHER)
    assert sent == {OLD: [], NEW: ["reminder"], OTHER: []}
    rows = await _rows(sf)
    assert rows["reminder"].sent_chat_id == NEW
    assert (rows["nudge"].state, rows["nudge"].error) == (OutboxState.FAILED, "unlinked")


async def test_class1_a_broadcast_reminder_never_asks_a_group_that_never_got_the_copy(
    engine: AsyncEngine,
) -> None:
    """The copy reached B01's group; B01 relinked to a new group before the Đã nhận reminder
    was due. The reminder (a reply to the copy in the chat it went to) is for B01, so it
    never goes to the former group; and the new group never received "this message", so it
    is not asked there either: withdrawn. The other silent chats get theirs."""
    from bot.services import broadcasts as bc
    from bot.services.broadcasts import Audience
    from bot.services.broadcasts import AudiencePart as P
    from bot.services.broadcasts.acks import reminder_at
    from bot.services.broadcasts.progress import FORMER_GROUP, install_hooks
    from tests import orgdata as o
    from tests.broadcast_world import G_B1, G_B4, bc_world
    from tests.test_broadcasts_delivery import running_sender as bc_sender

    w = await bc_world(engine)
    install_hooks()
    start = w.clock.now()
    async with w.factory() as s, s.begin():
        await s.execute(update(ChatBinding).values(bound_at=start - timedelta(days=30)))
    audience = Audience(parts=frozenset({P.ALL_BRANCH_GROUPS}))
    draft = await w.draft(audience, ack_required=True, ack_deadline=start + timedelta(days=3))
    await w.send(draft)
    await w.deliver()  # the copies reached G_B1 and G_B4
    g_new = -1009
    w.clock.t = start + timedelta(hours=2)
    # G_B1 is B1's one group: it moves to g_new.
    await _relink(
        w.factory, w.org.district, g_new, target=w.org.b1, reason="moved", now=w.clock.now()
    )
    broadcast = await w.broadcast(draft)
    w.clock.t = reminder_at(broadcast)  # type: ignore[assignment]
    async with w.factory() as s, s.begin():
        assert await bc.reminders_due(s, w.ctx) == 2  # G_B1 (as the copy's chat) and G_B4
    async with run_sandbox() as sb:
        sb.add_user(o.SEC1, "Bí", started=True)
        for chat in (G_B1, G_B4, g_new):
            sb.create_group(chat, f"Nhóm {chat}", {o.SEC1: "creator"}, bot_status="member")
        async with bc_sender(sb, w, fast_config()):
            await _settled(w.factory)
        sent = {chat: len(sb.bot_messages(chat)) for chat in (G_B1, G_B4, g_new)}
    assert sent == {G_B1: 0, G_B4: 1, g_new: 0}
    reminders = {r.sent_chat_id or r.chat_id: r for r in await w.outbox("broadcast_reminder")}
    assert reminders[g_new].state == OutboxState.CANCELLED
    assert reminders[g_new].error == FORMER_GROUP
    assert reminders[G_B4].state == OutboxState.SENT
