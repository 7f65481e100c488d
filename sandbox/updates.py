"""The update queue: what the bot has not confirmed yet, and getUpdates to fetch it.

Updates leave either by long polling (``getUpdates``) or through the webhook worker the queue
owns; which one depends on whether a webhook is set, as on Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ApiError
from .signal import Signal
from .webhook import WebhookWorker

# Update types Telegram leaves out unless explicitly requested in allowed_updates.
OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
Execute = Callable[[str, dict[str, Any]], Awaitable[Any]]


class UpdateQueue:
    """Pending updates, the log of every update ever emitted, and the webhook settings."""

    def __init__(
        self,
        signal: Signal,
        clock: Callable[[], float],
        execute: Execute,
        *,
        webhook_retry_delay: float,
        webhook_timeout: float,
    ) -> None:
        self.signal = signal
        self.worker = WebhookWorker(
            self, signal, clock, execute, retry_delay=webhook_retry_delay, timeout=webhook_timeout
        )
        self.clear()

    def clear(self) -> None:
        self.webhook: dict[str, Any] = {"url": ""}
        self.allowed_updates: list[str] | None = None
        self.pending: list[dict[str, Any]] = []
        self.updates_log: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.poll_generation = 0
        self.worker.clear()

    def allowed(self, kind: str) -> bool:
        allowed = self.webhook.get("allowed_updates") if self.webhook["url"] else None
        if allowed is None:
            allowed = self.allowed_updates
        if not allowed:
            return kind not in OPT_IN_UPDATES
        return kind in allowed

    def emit(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates_log.append(update)
        if self.allowed(kind):
            self.pending.append(update)
            if self.webhook["url"]:
                self.worker.ensure()
        self.signal.notify()
        return update


class UpdateMethods:
    """``getUpdates`` (the webhook methods live with the worker in :mod:`sandbox.webhook`)."""

    def __init__(self, updates: UpdateQueue, signal: Signal) -> None:
        self.updates = updates
        self.signal = signal

    async def api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        q = self.updates
        if q.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in p:
            q.allowed_updates = list(p["allowed_updates"]) or None
        q.poll_generation += 1
        generation = q.poll_generation
        self.signal.notify()  # an older long poll must end with 409
        offset = p.get("offset")
        if offset is not None:
            if offset < 0:
                q.pending = q.pending[offset:]
            else:
                q.pending = [u for u in q.pending if u["update_id"] >= offset]
        q.pending = [u for u in q.pending if q.allowed(_kind(u))]
        limit = min(max(p.get("limit", 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(p.get("timeout", 0), 0)
        while True:
            if generation != q.poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if q.webhook["url"]:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            if q.pending:
                self.signal.notify()  # wait_until_idle
                return q.pending[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0 or self.signal.released.is_set():
                return []
            event = self.signal.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")
