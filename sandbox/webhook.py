"""Webhook delivery: the worker that POSTs pending updates, and the webhook Bot API methods.

The worker sends one update at a time, oldest first, and retries it after a failure like
Telegram does; a method returned in the webhook's response body is executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp

from .errors import ApiError, bad_request
from .signal import Signal


class UpdateQueue(Protocol):
    """What the webhook needs of the update queue (`sandbox.updates.UpdateQueue`, which owns
    the worker, so this module cannot import it)."""

    webhook: dict[str, Any]
    pending: list[dict[str, Any]]
    worker: WebhookWorker


_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class WebhookWorker:
    """At most one delivery task per bot; it stops when the webhook is removed."""

    def __init__(
        self,
        updates: UpdateQueue,
        signal: Signal,
        clock: Callable[[], float],
        execute: Callable[[str, dict[str, Any]], Awaitable[Any]],
        *,
        retry_delay: float,
        timeout: float,
    ) -> None:
        self.updates = updates
        self.signal = signal
        self.clock = clock
        self.execute = execute
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.task: asyncio.Task[None] | None = None
        self.clear()

    def clear(self) -> None:
        self.deliveries: list[dict[str, Any]] = []

    def ensure(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the task; returns it so a caller shutting down can await its end."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
        return task

    async def _run(self) -> None:
        q = self.updates
        async with aiohttp.ClientSession() as session:
            while q.webhook["url"] and not self.signal.released.is_set():
                if not q.pending:
                    event = self.signal.changed
                    if q.pending or not q.webhook["url"]:
                        continue
                    await event.wait()
                    continue
                update = q.pending[0]
                url = q.webhook["url"]
                headers = {}
                if q.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = q.webhook["secret_token"]
                status, error, body, ctype = 0, None, b"", ""
                try:
                    async with session.post(
                        url,
                        json=update,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                    ) as resp:
                        status, body, ctype = resp.status, await resp.read(), resp.content_type
                        if status >= 300:
                            error = f"Wrong response from the webhook: {status} {resp.reason}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"Connection failed: {type(exc).__name__}: {exc}"
                self.deliveries.append(
                    {
                        "update_id": update["update_id"],
                        "status": status,
                        "error": error,
                        "at": self.clock(),
                    }
                )
                if error is None:
                    if q.pending and q.pending[0] is update:
                        q.pending.pop(0)
                    self.signal.notify()
                    await self._reply(body, ctype)
                    continue
                q.webhook["last_error_date"] = int(time.time())
                q.webhook["last_error_message"] = error
                self.signal.notify()
                await self.signal.hold(self.retry_delay)

    async def _reply(self, body: bytes, ctype: str) -> None:
        """Telegram executes a method returned in the webhook response body."""
        if ctype != "application/json" or not body:
            return
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("method"), str):
                params = {k: v for k, v in data.items() if k != "method"}
                with contextlib.suppress(ApiError):
                    await self.execute(data["method"], params)


class WebhookMethods:
    """setWebhook, deleteWebhook and getWebhookInfo."""

    def __init__(self, updates: UpdateQueue, signal: Signal, *, allow_http: bool) -> None:
        self.updates = updates
        self.signal = signal
        self.allow_http = allow_http

    async def api_setWebhook(self, p: dict[str, Any]) -> bool:
        url = p["url"]
        if not url:
            return await self.api_deleteWebhook(p)
        schemes = ("https://", "http://") if self.allow_http else ("https://",)
        if not url.startswith(schemes):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        q = self.updates
        if p.get("drop_pending_updates"):
            q.pending.clear()
        q.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": p.get("max_connections", 40),
            "allowed_updates": p.get("allowed_updates") or None,
        }
        if p.get("ip_address"):
            q.webhook["ip_address"] = p["ip_address"]
        self.signal.notify()
        q.worker.ensure()
        return True

    async def api_deleteWebhook(self, p: dict[str, Any]) -> bool:
        self.updates.webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self.updates.pending.clear()
        self.signal.notify()
        return True

    async def api_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        webhook = self.updates.webhook
        info: dict[str, Any] = {
            "url": webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates.pending),
        }
        for key in (
            "last_error_date",
            "last_error_message",
            "max_connections",
            "allowed_updates",
            "ip_address",
        ):
            if webhook.get(key):
                info[key] = webhook[key]
        return info
