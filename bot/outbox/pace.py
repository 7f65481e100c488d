"""Pacing: which held row may leave now, and when its request may go.

Two limits meet here. Per chat, the `ChatScheduler` says which chat may have its next message
now (and blocks a chat for a 429's `retry_after`); globally, the `GlobalPacer` (and, across
processes, the `SharedWindow`) hands out the places in Telegram's global rate, first come first
served. Between them the dispatcher keeps two bounds: at most `max_in_flight` requests, and no
more than `ahead` seconds of sending marked `sending` before their place in the pace (what a
stop cannot stop or a crash leaves "maybe sent").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from bot.outbox.claim import Held
from bot.outbox.config import SenderConfig
from bot.outbox.limiter import ChatScheduler, GlobalPacer
from bot.outbox.shared import SharedWindow

Deliver = Callable[[Held], Coroutine[Any, Any, None]]


class Pacing:
    """The dispatcher task and the pace of one sender run.

    `changed` is set whenever the scheduler may have something new to pick (a claim, a request
    done); `running` tells the dispatcher to go on.
    """

    def __init__(
        self,
        config: SenderConfig,
        scheduler: ChatScheduler,
        shared: SharedWindow | None,
        *,
        changed: asyncio.Event,
        running: Callable[[], bool],
    ) -> None:
        self.config = config
        self.scheduler = scheduler
        self.pacer = GlobalPacer(config.global_per_sec)
        self.shared = shared
        self._changed = changed
        self._running = running
        self.in_flight = 0
        lead = max(2, int(config.global_per_sec * config.lead))
        self._ahead_max = max(lead, int(config.global_per_sec * config.ahead)) + 2
        # Requests marked (or being marked) `sending` that have not left the pacer yet, and a
        # signal each time one leaves: the dispatcher keeps only `ahead` seconds of them.
        self._ahead = 0
        self._left = asyncio.Event()
        self._lock = asyncio.Lock()
        self._recent_429: deque[float] = deque()

    async def dispatch(self, deliver: Deliver, requests: set[asyncio.Task[None]]) -> None:
        """The dispatcher: starts `deliver` for each row the scheduler lets go, one task each
        (kept in `requests` until done)."""
        cfg = self.config
        while self._running():
            self._changed.clear()
            if self.in_flight >= cfg.max_in_flight:
                await self._changed.wait()
                continue
            now = time.monotonic()
            picked = self.scheduler.pick(now)
            if picked is None:
                wait = self.scheduler.next_wakeup(now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait(), cfg.poll_interval if wait is None else wait
                    )
                continue
            _chat_id, held = picked
            self.in_flight += 1
            task = asyncio.get_running_loop().create_task(deliver(held))
            requests.add(task)
            task.add_done_callback(requests.discard)
            self._ahead += 1
            # Stay only `ahead` of the global pace (see SenderConfig.ahead): without this
            # bound the dispatcher ran ahead at the spreading bucket's rate (15% above the
            # pace), and at 30/s up to `max_in_flight` rows, two seconds of sending, sat marked
            # `sending` at the pacer: a stopped broadcast still sent them, a crash made them
            # all "maybe sent".
            while self._ahead >= self._ahead_max and self._running():
                self._left.clear()
                await self._left.wait()

    async def pace(self, member: str) -> None:
        """Wait for a global token (this process's, then the shared one); FIFO among requests."""
        async with self._lock:
            while True:
                wait = self.pacer.wait(time.monotonic())
                if wait <= 0 and self.shared is not None:
                    wait = await self.shared.take(member)
                if wait <= 0:
                    self.pacer.take(time.monotonic())
                    return
                await asyncio.sleep(wait)

    def leave(self) -> bool:
        """One request is no longer ahead of the pace (it left, or never will)."""
        self._ahead -= 1
        self._left.set()
        return False

    async def answered(self, held: Held, *, counted: bool) -> None:
        """A request's answer came: its place in the global pace (and the shared window) ends,
        or is given back when the server did not count it."""
        held.answered = time.monotonic()
        self.pacer.finish(held.answered, counted=counted)
        if self.shared is not None:
            await self.shared.finish(held.member, counted=counted)

    def on_429(self, mono: float) -> None:
        """Slow the global pace only when 429s look like a global flood, not one chat's."""
        recent = self._recent_429
        recent.append(mono)
        while recent and recent[0] <= mono - 1.0:
            recent.popleft()
        if len(recent) >= max(3.0, self.config.global_429_share * self.config.global_per_sec):
            self.pacer.slow_down(mono)

    def done(self, held: Held, chat_id: int, retry_after: float | None, requeue: bool) -> None:
        """A delivery ended: its chat may go on (after `retry_after`), the row held again
        when `requeue`."""
        self.in_flight -= 1
        now = time.monotonic()
        if retry_after is not None and held.answered is not None:
            # It runs from the answer, not from when the outcome was written: the
            # server's block began before the answer left it.
            retry_after = max(0.0, retry_after - (now - held.answered))
        self.scheduler.done(
            chat_id,
            now,
            retry_after=retry_after,
            requeue=(held.entry.priority, held) if requeue else None,
        )
        self._changed.set()
