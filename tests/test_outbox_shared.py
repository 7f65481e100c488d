"""Several senders at once: the global limit shared through Redis (REDIS_URL set), and each
chat served by one sender at a time (its per-chat limits and retry_after live there)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.outbox import Sender
from bot.outbox.shared import SharedWindow
from sandbox.testing import run_sandbox
from storage.db import create_engine, create_session_factory
from tests.test_outbox import counts, delivered_texts, enqueue_many, fast_config, wait_all_final
from tests.test_outbox_process import pg_url  # noqa: F401 - the fixture

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def key() -> AsyncIterator[str]:
    name = f"test:outbox:window:{uuid.uuid4().hex}"
    yield name
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(name)
    await redis.aclose()


def window(key: str, rate: float) -> SharedWindow:
    return SharedWindow(Redis.from_url(REDIS_URL), key, rate, hold=10.0)


async def test_places_are_shared_and_refused_requests_give_theirs_back(key: str) -> None:
    first, second = window(key, 3), window(key, 3)
    try:
        assert await first.take("a") == 0
        assert await second.take("b") == 0
        assert await first.take("c") == 0
        wait = await second.take("d")  # three requests may still be counted: the fourth waits
        assert 0 < wait <= 11.0
        await first.finish("a", counted=False)  # a 429 or 5xx: the server did not count it
        assert await second.take("d") == 0
        await second.finish("b", counted=True)  # answered: counted one window from now
        assert 0 < await first.take("e") <= 1.0
    finally:
        await first.close()
        await second.close()


async def test_without_redis_each_sender_paces_alone() -> None:
    shared = SharedWindow(Redis.from_url("redis://127.0.0.1:1/0"), "k", 10, retry_in=60)
    try:
        assert await shared.take("a") == 0
        await shared.finish("a", counted=True)
        assert await shared.take("b") == 0
        assert shared.failures == 1  # one failed call, then Redis is left alone for a while
        shared._down_until = 0.0  # the while has passed
        assert await shared.take("c") == 0
        assert shared.failures == 2
    finally:
        await shared.close()


async def _two_senders(url: str, key: str | None, users: list[int], rate: float) -> tuple[int, int]:
    """Two senders, each allowed the whole rate: (global 429s issued, requests sent while a
    429 was running)."""
    engine = create_engine(url)
    sf = create_session_factory(engine)
    try:
        async with run_sandbox() as sb:
            for u in users:
                sb.add_user(u, "U", started=True)
            sb.set_flood(True, global_per_sec=rate, per_chat_per_sec=50, per_group_per_min=1200)
            done_before = sum((await counts(sf)).values())  # an earlier run's rows, all final
            await enqueue_many(sf, [(u, "reminder", f"m{u}") for u in users])
            senders = []
            for _ in range(2):
                bot = sb.bot()
                shared = window(key, rate) if key else None
                sender = Sender(bot, sf, config=fast_config(global_per_sec=rate), shared=shared)
                senders.append(sender)
            for sender in senders:
                await sender.start()
            try:
                final = await wait_all_final(sf, done_before + len(users), within=60)
            finally:
                for sender in senders:
                    await sender.stop()
                    await sender.bot.session.close()
            seen = delivered_texts(sb, users)
            log = sb.rate_limit_log()
    finally:
        await engine.dispose()
    assert final.get("sent", 0) == done_before + len(users) and all(
        seen[f"m{u}"] == 1 for u in users
    )
    assert all(s.stats.sent > 0 for s in senders)
    return sum(1 for i in log["issued"] if i["scope"] == "global"), len(log["violations"])


async def test_two_senders_share_the_global_limit(pg_url: str, key: str) -> None:  # noqa: F811
    rate = 40.0
    alone, _ = await _two_senders(pg_url, None, list(range(30_000, 30_200)), rate)
    assert alone > 0  # each at the full rate: together twice the limit
    assert await _two_senders(pg_url, key, list(range(31_000, 31_200)), rate) == (0, 0)


async def test_a_chat_is_served_by_one_sender_at_a_time(pg_url: str) -> None:  # noqa: F811
    """Two senders, one busy chat that gets a 429: the other sender never writes to it
    meanwhile, and the chat's 1/s limit holds across both."""
    engine = create_engine(pg_url)
    sf = create_session_factory(engine)
    busy, others = 40_000, list(range(40_001, 40_041))
    try:
        async with run_sandbox() as sb:
            for u in [busy, *others]:
                sb.add_user(u, "U", started=True)
            sb.set_flood(True, global_per_sec=400, per_chat_per_sec=1, per_group_per_min=20)
            sb.add_fault("retry_after", chat_id=busy, count=1, retry_after=2)
            items = [(busy, "reminder", f"busy{i}") for i in range(6)]
            items += [(u, "reminder", f"m{u}") for u in others]
            await enqueue_many(sf, items)
            config = fast_config(per_chat_per_sec=1.0, per_chat_burst=1.0, per_chat_held=2)
            senders = [Sender(sb.bot(), sf, config=config) for _ in range(2)]
            for sender in senders:
                await sender.start()
            try:
                final = await wait_all_final(sf, len(items), within=60)
            finally:
                for sender in senders:
                    await sender.stop()
                    await sender.bot.session.close()
            seen = delivered_texts(sb, [busy, *others])
            log = sb.rate_limit_log()
    finally:
        await engine.dispose()
    assert final == {"sent": len(items)} and all(seen[text] == 1 for _c, _k, text in items)
    assert log["violations"] == []  # nobody wrote to the chat during its retry_after
    assert [i for i in log["issued"] if i["scope"] != "fault"] == []  # nor faster than 1/s
