"""Direct calls (answers to people) share the sender's global pace, ahead of it: while the
sender keeps the window full, an answer gets the next free place, and together they never
exceed what the server counts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, SendChatAction, SendMessage

from bot.outbox.direct import SharedPace, counted
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
