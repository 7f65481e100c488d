"""The outbox: enqueueing in the caller's transaction, and the sender against the sandbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.outbox import OutboxMessage, OutboxState, Sender, SenderConfig, enqueue
from bot.outbox.service import FailureEvent, FailureHooks
from sandbox.testing import SandboxHandle, run_sandbox
from storage.db import create_session_factory
from storage.models import ChatBinding, OutboxEntry, TelegramUser, Unit
from storage.repositories.outbox import OutboxRepository

S = OutboxState
FINAL = {S.SENT, S.FAILED, S.MAYBE_SENT}


# ---- helpers (also used by the other outbox test modules) -------------------------------
def fast_config(**overrides: Any) -> SenderConfig:
    """High limits and short polls, so a few hundred messages take a second or two."""
    values: dict[str, Any] = {
        "global_per_sec": 400.0,
        "per_chat_per_sec": 50.0,
        "per_chat_burst": 3.0,
        "per_group_per_min": 1200.0,
        "poll_interval": 0.05,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "request_timeout": 5.0,
    }
    values.update(overrides)
    return SenderConfig(**values)


@asynccontextmanager
async def running_sender(
    sb: SandboxHandle,
    session_factory: async_sessionmaker[AsyncSession],
    config: SenderConfig,
    hooks: FailureHooks | None = None,
) -> AsyncIterator[Sender]:
    bot = sb.bot()
    sender = Sender(bot, session_factory, config=config, hooks=hooks or FailureHooks())
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()
        await bot.session.close()


async def counts(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as s:
        return await OutboxRepository(s).counts_by_state()


async def wait_all_final(
    session_factory: async_sessionmaker[AsyncSession], total: int, within: float = 60.0
) -> dict[str, int]:
    """Wait (polling the database) until every row has a final state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        c = await counts(session_factory)
        if sum(n for st, n in c.items() if st in FINAL) >= total:
            return c
        if loop.time() > deadline:
            raise TimeoutError(f"not all final after {within}s: {c}")
        await asyncio.sleep(0.05)


def delivered_texts(sb: SandboxHandle, chat_ids: list[int]) -> Counter[str]:
    out: Counter[str] = Counter()
    for chat_id in chat_ids:
        for msg in sb.bot_messages(chat_id):
            out[msg.get("text") or msg.get("caption") or ""] += 1
    return out


async def enqueue_many(
    session_factory: async_sessionmaker[AsyncSession],
    items: list[tuple[int, str, str]],
) -> None:
    """(chat_id, kind, text) rows, text doubling as the dedupe key."""
    async with session_factory() as s, s.begin():
        for chat_id, kind, text in items:
            await enqueue(s, OutboxMessage(chat_id=chat_id, kind=kind, text=text, dedupe_key=text))


async def add_district(session: AsyncSession) -> int:
    unit = Unit(code="D1", name="Huyện ủy", kind="district_committee")
    session.add(unit)
    await session.flush()
    return unit.id


# ---- enqueue --------------------------------------------------------------------------
async def test_rollback_enqueues_nothing_and_commit_keeps_it(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    with pytest.raises(RuntimeError):
        async with sf() as s, s.begin():
            await enqueue(s, OutboxMessage(chat_id=1, text="lost"))
            raise RuntimeError("the causing change failed")
    async with sf() as s, s.begin():
        entry_id = await enqueue(s, OutboxMessage(chat_id=1, text="kept", kind="reminder"))
    assert entry_id is not None
    async with sf() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
    assert [(r.text, r.state, r.priority) for r in rows] == [("kept", "pending", 1)]


async def test_same_dedupe_key_twice_is_one_message(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    async with sf() as s, s.begin():
        first = await enqueue(s, OutboxMessage(chat_id=5, text="a", dedupe_key="rem:1"))
        second = await enqueue(s, OutboxMessage(chat_id=5, text="b", dedupe_key="rem:1"))
    async with sf() as s, s.begin():
        third = await enqueue(s, OutboxMessage(chat_id=5, text="c", dedupe_key="rem:1"))
    assert first is not None and second is None and third is None
    async with sf() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxEntry)) == 1


def test_message_needs_exactly_one_content() -> None:
    with pytest.raises(ValueError):
        OutboxMessage(chat_id=1).validate()
    with pytest.raises(ValueError):
        OutboxMessage(chat_id=1, text="x", photo="file").validate()


# ---- sender ---------------------------------------------------------------------------
async def test_sender_delivers_every_kind_of_content_once(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    async with run_sandbox() as sb:
        sb.add_user(101, "An", started=True)
        sb.create_group(-500, "Chi bộ 1", members={101: "creator"}, bot_status="administrator")
        source = sb.send_text(101, "original to copy")["message"]
        doc = sb.upload_document(101, None, "a.txt", b"hello")["message"]["document"]
        async with sf() as s, s.begin():
            await enqueue(s, OutboxMessage(chat_id=101, text="<b>hi</b> An", kind="interactive"))
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=-500,
                    text="roster",
                    kind="roster",
                    pin=True,
                    reply_markup={"inline_keyboard": [[{"text": "OK", "callback_data": "ok:1"}]]},
                ),
            )
            await enqueue(s, OutboxMessage(chat_id=-500, copy_from=(101, source["message_id"])))
            await enqueue(s, OutboxMessage(chat_id=101, document=doc["file_id"], caption="doc"))
        async with running_sender(sb, sf, fast_config()):
            c = await wait_all_final(sf, 4, within=20)
        assert c == {"sent": 4}
        private = [m.get("text") or m.get("caption") for m in sb.bot_messages(101)]
        assert private == ["hi An", "doc"]
        group = sb.bot_messages(-500)
        assert [m.get("text") for m in group] == ["roster", "original to copy"]
        assert [m["message_id"] for m in sb.pinned(-500)] == [group[0]["message_id"]]
        async with sf() as s:
            rows = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
        assert all(r.telegram_message_id and r.attempts == 1 for r in rows)
        assert rows[1].telegram_message_id == group[0]["message_id"]


async def test_flood_and_faults_every_message_once_or_failed(engine: AsyncEngine) -> None:
    """Flood limits on, random 429s and 5xx, blocked users and a kicked group."""
    sf = create_session_factory(engine)
    users = list(range(1000, 1120))
    groups = [-(2000 + i) for i in range(6)]
    blocked = set(users[:5])
    kicked = groups[0]
    async with sf() as s, s.begin():
        district = await add_district(s)
        for g in groups:
            s.add(ChatBinding(chat_id=g, target_type="branch", target_id=-g, district_id=district))
        for u in users:
            s.add(TelegramUser(id=u, first_name="x"))
    async with run_sandbox(seed=7) as sb:
        for u in users:
            sb.add_user(u, f"U{u}", started=True)
        for g in groups:
            sb.create_group(g, f"G{g}", members={users[-1]: "creator"}, bot_status="member")
        for u in blocked:
            sb.block_bot(u)
        sb.remove_bot_from_group(kicked, users[-1])
        sb.set_flood(True, global_per_sec=150, per_chat_per_sec=1, per_group_per_min=20)
        sb.add_fault("retry_after", probability=0.04, retry_after=1)
        sb.add_fault("server_error", probability=0.05, status=500)
        sb.add_fault("bad_gateway", probability=0.01)
        items: list[tuple[int, str, str]] = []
        for u in users:
            items += [(u, "reminder", f"r{u}"), (u, "broadcast", f"b{u}")]
        for g in groups:
            items += [(g, "broadcast", f"g{g}:{i}") for i in range(12)]
        await enqueue_many(sf, items)
        config = fast_config(
            global_per_sec=150, per_chat_per_sec=1, per_group_per_min=20, backoff_cap=1.0
        )
        async with running_sender(sb, sf, config) as sender:
            c = await wait_all_final(sf, len(items), within=90)
        seen = delivered_texts(sb, users + groups)
        assert sb.violations() == []
        assert sender.stats.retry_after > 0 and sender.stats.transient > 0
    async with sf() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
        reachable = dict((await s.execute(select(TelegramUser.id, TelegramUser.reachable))).all())
        bindings = {b.chat_id: b for b in (await s.scalars(select(ChatBinding))).all()}
    expected_failed = {r.text for r in rows if r.chat_id in blocked or r.chat_id == kicked}
    for r in rows:
        if r.text in expected_failed:
            # The group's first copy meets Telegram's 403, which ends the group's link; the
            # rest are failed at their claim with the same reason, never sent (class 1).
            refused = r.error_code == 403 or (r.chat_id == kicked and r.error_code is None)
            assert (
                r.state == S.FAILED
                and refused
                and (r.error or "").startswith(("kicked", "blocked"))
            ), r.error
            assert seen[r.text] == 0
        else:
            assert r.state == S.SENT, (r.text, r.state, r.error)
            assert seen[r.text] == 1, r.text
    assert c == {"sent": len(items) - len(expected_failed), "failed": len(expected_failed)}
    assert all(not reachable[u] for u in blocked) and reachable[users[-1]]
    assert not bindings[kicked].active and bindings[kicked].unbound_reason == "kicked"
    assert all(bindings[g].active for g in groups[1:])


async def test_read_timeouts_follow_the_per_kind_policy(engine: AsyncEngine) -> None:
    """Reminders are resent after a timeout; broadcasts end maybe_sent; both are counted."""
    sf = create_session_factory(engine)
    users = list(range(3000, 3060))
    async with run_sandbox(seed=3) as sb:
        for u in users:
            sb.add_user(u, f"U{u}", started=True)
        # Half the timeouts deliver before hanging, half do not; the client gives up after 1 s.
        sb.add_fault("timeout", probability=0.06, delay=3.0, deliver=True)
        sb.add_fault("timeout", probability=0.06, delay=3.0, deliver=False)
        items = [(u, "reminder", f"r{u}") for u in users] + [
            (u, "broadcast", f"b{u}") for u in users
        ]
        await enqueue_many(sf, items)
        async with running_sender(sb, sf, fast_config(request_timeout=1.0)) as sender:
            await wait_all_final(sf, len(items), within=60)
            sb.release_hung_requests()
        seen = delivered_texts(sb, users)
    async with sf() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
    reminders = [r for r in rows if r.kind == "reminder"]
    broadcasts = [r for r in rows if r.kind == "broadcast"]
    # Reminders: all delivered; a duplicate only where a timed-out attempt had delivered.
    assert all(r.state == S.SENT and seen[r.text] >= 1 for r in reminders)
    assert all(seen[r.text] - 1 <= r.uncertain_attempts for r in reminders)
    # Broadcasts: never twice; each timed out one is maybe_sent, counted once.
    assert all(seen[r.text] <= 1 for r in broadcasts)
    maybe = [r for r in broadcasts if r.state == S.MAYBE_SENT]
    assert all(r.state in (S.SENT, S.MAYBE_SENT) for r in broadcasts)
    assert all(r.uncertain_attempts == 1 for r in maybe)
    assert all(seen[r.text] == 1 for r in broadcasts if r.state == S.SENT)
    assert sender.stats.maybe_sent == len(maybe) > 0
    assert sender.stats.uncertain == sum(r.uncertain_attempts for r in reminders) > 0


async def test_group_upgrade_moves_binding_and_message(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    async with sf() as s, s.begin():
        district = await add_district(s)
        s.add(ChatBinding(chat_id=-700, target_type="branch", target_id=1, district_id=district))
    async with run_sandbox() as sb:
        sb.add_user(1, "A", started=True)
        sb.create_group(-700, "G", members={1: "creator"}, bot_status="member")
        sb.migrate_to_supergroup(-700, -1000000000700)
        await enqueue_many(sf, [(-700, "reminder", "after upgrade")])
        async with running_sender(sb, sf, fast_config()):
            await wait_all_final(sf, 1, within=20)
        assert [m["text"] for m in sb.bot_messages(-1000000000700)] == ["after upgrade"]
    async with sf() as s:
        binding = (await s.scalars(select(ChatBinding))).one()
        row = (await s.scalars(select(OutboxEntry))).one()
    assert binding.chat_id == -1000000000700 and binding.active
    assert row.state == S.SENT and row.sent_chat_id == -1000000000700


async def test_permanent_errors_fail_at_once_and_tell_the_feature(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    events: list[FailureEvent] = []

    async def hook(_session: AsyncSession, ev: FailureEvent) -> None:
        events.append(ev)

    hooks = FailureHooks()
    hooks.register("meeting_reminder", hook)
    async with run_sandbox() as sb:
        sb.add_user(9, "A", started=True)
        async with sf() as s, s.begin():
            await enqueue(
                s,
                OutboxMessage(
                    chat_id=9, text="x" * 5000, origin_type="meeting_reminder", origin_id=42
                ),
            )
            await enqueue(s, OutboxMessage(chat_id=9, text="<b>broken", dedupe_key="bad-html"))
            await enqueue(s, OutboxMessage(chat_id=-999, text="nowhere"))
        async with running_sender(sb, sf, fast_config(), hooks=hooks):
            c = await wait_all_final(sf, 3, within=20)
    assert c == {"failed": 3}
    async with sf() as s:
        rows = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    assert [r.attempts for r in rows] == [1, 1, 1]
    assert all(r.error_code == 400 for r in rows)
    assert "too long" in (rows[0].error or "")
    assert rows[2].error is not None and rows[2].error.startswith("chat_not_found")
    assert [(e.origin_id, e.reason) for e in events] == [("42", "rejected")]


async def test_5xx_until_the_deadline_then_failed(engine: AsyncEngine) -> None:
    sf = create_session_factory(engine)
    async with run_sandbox() as sb:
        sb.add_user(9, "A", started=True)
        sb.add_fault("server_error", status=502)
        async with sf() as s, s.begin():
            await enqueue(s, OutboxMessage(chat_id=9, text="never"))
            row_deadline = (await s.scalars(select(OutboxEntry))).one()
            # 3 s leave room for three tries at backoff 0.1-0.3 s even on a loaded machine.
            row_deadline.deadline = row_deadline.not_before + timedelta(seconds=3)
        async with running_sender(sb, sf, fast_config(backoff_base=0.1, backoff_cap=0.3)) as snd:
            c = await wait_all_final(sf, 1, within=20)
    assert c == {"failed": 1}
    async with sf() as s:
        row = (await s.scalars(select(OutboxEntry))).one()
    assert row.attempts >= 3 and row.error is not None and row.error.startswith("deadline")
    assert snd.stats.transient == row.attempts


async def test_a_short_retry_stays_claimed_and_a_stop_gives_it_back(engine: AsyncEngine) -> None:
    """A 5xx backoff waits in memory with the row still claimed (nothing else can take it, a
    crash leaves it to lease recovery); a clean stop releases it with its next attempt time."""
    sf = create_session_factory(engine)
    async with run_sandbox() as sb:
        sb.add_user(9, "A", started=True)
        sb.add_fault("server_error", status=500, count=1)
        async with sf() as s, s.begin():
            await enqueue(s, OutboxMessage(chat_id=9, text="later"))
        config = fast_config(backoff_base=20.0, backoff_cap=20.0, hold_retries_up_to=30.0)
        async with running_sender(sb, sf, config) as sender:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while True:  # until the 5xx's outcome is written
                async with sf() as s:
                    row = (await s.scalars(select(OutboxEntry))).one()
                if row.error_code is not None:
                    break
                assert loop.time() < deadline, "the 5xx never came"
                await asyncio.sleep(0.01)
            assert row.state == S.CLAIMED and row.claim_token == sender.token
            assert row.error_code == 500 and row.attempts == 1
            assert row.next_attempt_at >= row.not_before + timedelta(seconds=9)
            assert sender.scheduler.held == 1
        async with sf() as s:
            released = (await s.scalars(select(OutboxEntry))).one()
        assert released.state == S.PENDING and released.claim_token is None
        assert released.next_attempt_at == row.next_attempt_at
        assert sb.bot_messages(9) == []
        async with sf() as s, s.begin():  # as if the backoff had run out
            released = (await s.scalars(select(OutboxEntry))).one()
            released.next_attempt_at = released.not_before
        async with running_sender(sb, sf, fast_config()):
            c = await wait_all_final(sf, 1, within=20)
        assert c == {"sent": 1}
        assert [m["text"] for m in sb.bot_messages(9)] == ["later"]


@pytest.mark.parametrize(
    ("text", "chat_id", "reason"),
    [
        ("Forbidden: bot was blocked by the user", 5, "blocked"),
        ("Forbidden: bot can't initiate conversation with a user", 5, "not_started"),
        ("Forbidden: user is deactivated", 5, "deactivated"),
        ("Forbidden: bot can't send messages to bots", 5, "forbidden"),
        ("Forbidden: bot was kicked from the supergroup chat", -100, "kicked"),
        ("Forbidden: bot is not a member of the group chat", -7, "kicked"),
    ],
)
def test_what_a_403_means(text: str, chat_id: int, reason: str) -> None:
    from bot.outbox.sender import forbidden_reason

    assert forbidden_reason(text, chat_id) == reason


async def test_a_person_who_never_started_the_bot_is_not_written_to_again(
    engine: AsyncEngine,
) -> None:
    """Seen in a group but never opened a private chat: the reminder fails as `not_started`
    and the person is unreachable (the next reminder job skips them) until they write."""
    sf = create_session_factory(engine)
    async with sf() as s, s.begin():
        s.add(TelegramUser(id=77, first_name="x"))
    async with run_sandbox() as sb:
        sb.add_user(77, "Quiet", started=False)
        await enqueue_many(sf, [(77, "reminder", "r77")])
        async with running_sender(sb, sf, fast_config()):
            c = await wait_all_final(sf, 1, within=20)
    assert c == {"failed": 1}
    async with sf() as s:
        row = (await s.scalars(select(OutboxEntry))).one()
        user = await s.get(TelegramUser, 77)
    assert row.error is not None and row.error.startswith("not_started:")
    assert row.error_code == 403 and row.attempts == 1
    assert user is not None and not user.reachable
