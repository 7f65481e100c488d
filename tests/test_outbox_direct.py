"""Direct calls: an answer to a person goes at once (it is not bulk), keeping its chat's
limit; while the sender keeps the window full, an answer gets the next free place, and together
they never exceed what the server counts; a 429 on an answer is waited out, not apologised
for; live edits take their place in the sender's pace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, SendChatAction, SendMessage

from bot.outbox.direct import SharedPace, answering, counted
from bot.outbox.limiter import ChatScheduler, GlobalPacer, LimitConfig


def test_an_answer_gets_the_next_place_while_the_sender_fills_the_window() -> None:
    """A simulated second: the sender takes every place it may; answers arrive now and then.
    Each answer leaves at the next free place (before the sender's next one), and the requests
    counted in any one-second window never exceed the rate."""
    rate, latency = 30.0, 0.04
    pacer = GlobalPacer(rate)
    # Answers all through the cycle: a sender leaving in clumps (a burst of 8 at 30/s) left
    # gaps each second repeated, and an answer arriving in one waited ~300 ms.
    answers_at = [round(0.5 + i * 0.137, 3) for i in range(30)] + [1.21]
    answers_at.sort()
    count = len(answers_at)
    waiting: list[float] = []  # arrival times of answers not yet sent
    waited: list[float] = []
    in_flight: list[float] = []  # answer times
    departures: list[float] = []
    t = 0.0
    while t < 5.5:
        for done in [d for d in in_flight if d <= t]:
            in_flight.remove(done)
            pacer.finish(t)
        while answers_at and answers_at[0] <= t:
            waiting.append(answers_at.pop(0))
            pacer.urgent += 1
        if waiting and pacer.wait_urgent(t) <= 0:
            waited.append(t - waiting.pop(0))
            pacer.urgent -= 1
            pacer.take(t)
            in_flight.append(t + latency)
            departures.append(t)
        elif pacer.wait(t) <= 0:
            pacer.take(t)
            in_flight.append(t + latency)
            departures.append(t)
        t = round(t + 0.001, 6)
    assert not waiting and len(waited) == count
    assert max(waited) < 2 / rate + latency  # the next place, not the end of a backlog
    for i, start in enumerate(departures):
        assert len([d for d in departures[i:] if d < start + 1.0]) <= rate
    assert len(departures) >= 5.3 * rate  # the sender still used the rest


def test_counted_calls() -> None:
    assert counted("sendMessage") and counted("editMessageText") and counted("copyMessages")
    assert not counted("sendChatAction") and not counted("answerCallbackQuery")
    assert not counted("pinChatMessage")


async def test_shared_pace_waits_counts_and_refunds() -> None:
    pacer = GlobalPacer(10.0, window=0.1)  # one place in a tenth of a second
    chats = ChatScheduler(LimitConfig(private_rate=100.0, safety=1.0))
    box: dict[str, Any] = {"limits": None}
    middleware = SharedPace(lambda: box["limits"])
    calls: list[str] = []

    async def make_request(bot: Any, method: Any) -> Any:
        calls.append(method.__api_method__)
        if method.__api_method__ == "sendMessage" and method.text == "429":
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)
        return "ok"

    send = SendMessage(chat_id=1, text="hi")
    assert await middleware(make_request, None, send) == "ok"  # type: ignore[arg-type]
    assert pacer.in_flight == 0 and not pacer._expiries  # no sender: nothing counted
    box["limits"] = (pacer, chats)
    assert await middleware(make_request, None, send) == "ok"  # type: ignore[arg-type]
    await middleware(make_request, None, AnswerCallbackQuery(callback_query_id="1"))  # type: ignore[arg-type]
    await middleware(make_request, None, SendChatAction(chat_id=1, action="typing"))  # type: ignore[arg-type]
    assert len(pacer._expiries) == 1  # only the message counted
    # The place is taken until a tenth of a second after that answer: the next call waits,
    # and is refused uncounted, so the one after it leaves at once and the next waits again.
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TelegramRetryAfter):
        await middleware(make_request, None, SendMessage(chat_id=2, text="429"))  # type: ignore[arg-type]
    assert loop.time() - started > 0.05
    assert not pacer._expiries and pacer.in_flight == 0  # refused: not counted
    started = loop.time()
    await middleware(make_request, None, send)  # type: ignore[arg-type]
    assert loop.time() - started < 0.05
    await middleware(make_request, None, send)  # type: ignore[arg-type]
    assert loop.time() - started > 0.05
    assert pacer.urgent == 0 and pacer.in_flight == 0


async def test_shared_pace_keeps_each_chats_limit() -> None:
    """A person tapping fast: after the burst, each edit waits for the chat's next token; a
    429 for a chat blocks it for its retry_after; other chats are not held up."""
    pacer = GlobalPacer(1000.0)
    chats = ChatScheduler(LimitConfig(private_rate=10.0, private_burst=2.0, safety=1.0))
    middleware = SharedPace(lambda: (pacer, chats))
    refuse = {"next": False}

    async def make_request(bot: Any, method: Any) -> Any:
        if refuse["next"]:
            refuse["next"] = False
            raise TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=1)
        return "ok"

    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(2):  # the burst
        await middleware(make_request, None, SendMessage(chat_id=5, text="x"))  # type: ignore[arg-type]
    assert loop.time() - started < 0.05
    await middleware(make_request, None, SendMessage(chat_id=5, text="x"))  # type: ignore[arg-type]
    assert loop.time() - started > 0.07  # a token comes every tenth of a second
    await middleware(make_request, None, SendMessage(chat_id=6, text="x"))  # type: ignore[arg-type]
    refuse["next"] = True
    with pytest.raises(TelegramRetryAfter):
        await middleware(make_request, None, SendMessage(chat_id=6, text="x"))  # type: ignore[arg-type]
    assert chats.direct_wait(6, loop.time()) > 0.9  # blocked for its retry_after
    assert chats.direct_wait(5, loop.time()) < 0.2


class FakeTime:
    """A monotonic clock that only `sleep` moves: waits are asserted, not slept."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@contextlib.contextmanager
def an_update_in_hand() -> Iterator[None]:
    token = answering.set(True)
    try:
        yield
    finally:
        answering.reset(token)


def _ok_after(refusals: list[int], calls: list[float], clock: FakeTime) -> Any:
    """A Bot API stand-in: answers 429 with each of `refusals` in turn, then "ok"."""

    async def make_request(bot: Any, method: Any) -> Any:
        calls.append(clock.now)
        if refusals:
            raise TelegramRetryAfter(
                method=method, message="Too Many Requests", retry_after=refusals.pop(0)
            )
        return "ok"

    return make_request


async def test_an_answer_is_not_delayed_by_a_full_bulk_window() -> None:
    """Two hundred people write at once and nothing else is sending: every answer leaves at
    once (the 30-a-second pace is for what the bot sends on its own); each is counted, so the
    sender, starting now, waits for them; a live edit still takes its place in the pace."""
    clock = FakeTime()
    pacer = GlobalPacer(30.0)
    chats = ChatScheduler()
    middleware = SharedPace(lambda: (pacer, chats), clock=clock, sleep=clock.sleep)
    calls: list[float] = []
    make_request = _ok_after([], calls, clock)
    with an_update_in_hand():
        for person in range(200):
            await middleware(make_request, None, SendMessage(chat_id=1000 + person, text="hi"))  # type: ignore[arg-type]
    assert len(calls) == 200 and clock.slept == []
    assert pacer.wait(clock.now) > 0.9  # the bulk yields: the window is full of answers
    await middleware(make_request, None, SendMessage(chat_id=-5, text="live count"))  # type: ignore[arg-type]
    assert sum(clock.slept) > 0.9  # a live edit is paced: it waited for the window


async def test_an_answer_takes_the_next_free_place_while_a_broadcast_fills_the_window() -> None:
    """The sender took all 30 places of the window: an answer waits only until the first of
    them leaves it (not a whole backlog), and meanwhile the sender leaves that place to it."""
    clock = FakeTime()
    pacer = GlobalPacer(30.0)
    chats = ChatScheduler()
    for _ in range(30):
        pacer.take(clock.now)
    for i in range(30):  # answered one after another, as the spreading bucket sends them
        pacer.finish(clock.now + 0.05 + i / 30)
    clock.now += 0.2
    middleware = SharedPace(lambda: (pacer, chats), clock=clock, sleep=clock.sleep)
    calls: list[float] = []
    waiting: list[float] = []

    async def sleep(seconds: float) -> None:
        waiting.append(pacer.wait(clock.now + seconds))  # the sender, when the place frees
        await clock.sleep(seconds)

    middleware.sleep = sleep
    with an_update_in_hand():
        await middleware(_ok_after([], calls, clock), None, SendMessage(chat_id=7, text="hi"))  # type: ignore[arg-type]
    assert calls == [pytest.approx(101.05)]  # the first place that freed: 1 s after 100.05
    assert waiting and all(w > 0 for w in waiting)  # not taken by the sender meanwhile
    assert pacer.urgent == 0


async def test_a_429_on_an_answer_is_waited_out_and_delivered() -> None:
    """Telegram refuses an answer with retry_after 2, then 1: it goes again after each (never
    earlier, never an error), is counted once, and the chat stays blocked for others meanwhile."""
    clock = FakeTime()
    pacer = GlobalPacer(30.0)
    chats = ChatScheduler()
    middleware = SharedPace(lambda: (pacer, chats), clock=clock, sleep=clock.sleep)
    calls: list[float] = []
    with an_update_in_hand():
        result = await middleware(
            _ok_after([2, 1], calls, clock),
            None,  # type: ignore[arg-type]
            SendMessage(chat_id=8, text="hi"),
        )
    assert result == "ok"
    assert calls[1] - calls[0] >= 2 and calls[2] - calls[1] >= 1
    assert len(pacer._expiries) == 1 and pacer.in_flight == 0  # the refusals refunded


async def test_a_429_longer_than_an_answer_may_wait_reaches_the_handler() -> None:
    """Past the bound (and for a live edit, which its job retries) the 429 is raised."""
    clock = FakeTime()
    middleware = SharedPace(lambda: None, clock=clock, sleep=clock.sleep, retry_limit=15)
    calls: list[float] = []
    with an_update_in_hand(), pytest.raises(TelegramRetryAfter):
        await middleware(_ok_after([10, 10], calls, clock), None, SendMessage(chat_id=9, text="x"))  # type: ignore[arg-type]
    assert len(calls) == 2  # waited the first 10 s, not 20
    calls.clear()
    with pytest.raises(TelegramRetryAfter):
        await middleware(_ok_after([1], calls, clock), None, SendMessage(chat_id=10, text="x"))  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_answers_keep_their_chats_limit_without_a_sender() -> None:
    """RUN_SENDER=false: no global pace here, but a person tapping fast still gets their
    chat's burst of three, then one a second, and no 429."""
    clock = FakeTime()
    middleware = SharedPace(lambda: None, clock=clock, sleep=clock.sleep)
    calls: list[float] = []
    with an_update_in_hand():
        for _ in range(5):
            await middleware(_ok_after([], calls, clock), None, SendMessage(chat_id=11, text="x"))  # type: ignore[arg-type]
    start = calls[0]
    assert [round(c - start, 1) for c in calls[:3]] == [0.0, 0.0, 0.0]
    assert calls[3] - start >= 1.0 and calls[4] - calls[3] >= 1.0


async def test_answers_to_one_chat_leave_one_after_anothers_reply() -> None:
    """Under load a request may reach Telegram late and the next one quickly: answers to one
    chat leave one at a time, each after the last one's reply, and the chat's tokens count
    from those replies, so the gap Telegram sees is never shorter than the limit."""
    clock = FakeTime()
    middleware = SharedPace(lambda: None, clock=clock, sleep=clock.sleep)
    departures: list[float] = []
    replies: list[float] = []

    async def slow(bot: Any, method: Any) -> Any:
        departures.append(clock.now)
        await clock.sleep(0.5)  # half a second on the way
        replies.append(clock.now)
        return "ok"

    with an_update_in_hand():
        await asyncio.gather(
            *(middleware(slow, None, SendMessage(chat_id=12, text="x")) for _ in range(4))  # type: ignore[arg-type]
        )
    assert all(d >= r for d, r in zip(departures[1:], replies, strict=False))
    assert departures[3] >= replies[2] + 1.0  # the burst of three spent: one a second after
