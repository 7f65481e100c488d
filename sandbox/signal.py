"""Change notification shared by every part of the sandbox.

Every component shares one :class:`Signal`: a state change wakes long polls, the webhook
worker and test waiters at once, so nothing ever polls with sleeps. A module of its own
(importing nothing of the sandbox) so the world, the methods, the update queue and the waiters
can all take it without importing each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# How long a wait gives its condition by default. Only a failure ever waits it out, so it is
# generous: a test on a loaded 2-core machine must not fail because an answer took 6 s.
WAIT = 20.0


class Signal:
    """One event per state version, plus the shutdown switch that ends held requests."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        self.released = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter (long polls, wait_for_* helpers, webhook worker)."""
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    def release(self) -> None:
        """From now on injected timeouts and long polls end at once (shutdown)."""
        self.released.set()

    async def hold(self, delay: float) -> None:
        """Sleep for an injected timeout, cut short when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), delay)

    async def wait_for(self, check: Callable[[], T | None], timeout: float = WAIT) -> T:  # noqa: ASYNC109
        """Await until ``check()`` returns something truthy and return it.

        Re-checked on every state change (no polling sleeps); TimeoutError otherwise.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self.changed
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
