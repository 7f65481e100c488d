"""Outcomes: what Telegram's answer to one request means for its row.

Sent, the row ends `sent`; a 429 blocks the chat and retries after `retry_after`; 5xx and
connection errors retry with backoff until the kind's retry window passes; a read timeout
follows the kind's "maybe sent" policy; 403 and 400 fail at once with the reason; a group
upgraded to a supergroup moves the row (and the chat's other held rows) to the new id. A retry
due soon stays claimed and held in memory. Failures reach the built-in chat-fate hook and the
features' hooks (`bot.outbox.on_failure`). See `bot/outbox/__init__.py` for the guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
)

from bot.clock import Clock
from bot.outbox.claim import Held
from bot.outbox.config import SenderConfig, SenderStats
from bot.outbox.pace import Pacing
from bot.outbox.service import (
    FailureEvent,
    FailureHooks,
    KindPolicy,
    builtin_chat_fate,
    policy_for,
)
from bot.outbox.writer import OutcomeWriter, Transactions
from storage.models.outbox import OutboxEntry, OutboxState

log = logging.getLogger("bot.outbox.sender")

# One request for a held row: the message id it made (raises what the Bot API call raises).
Request = Callable[[Held], Awaitable[int]]


class Outcomes:
    """Makes one attempt at a held row and records its outcome through the writer."""

    def __init__(
        self,
        config: SenderConfig,
        clock: Clock,
        stats: SenderStats,
        writer: OutcomeWriter,
        transactions: Transactions,
        hooks: FailureHooks,
        pacing: Pacing,
        *,
        request: Request,
        wake: Callable[[], None],
        running: Callable[[], bool],
    ) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats
        self.writer = writer
        self.transactions = transactions
        self.hooks = hooks
        self.pacing = pacing
        self._request = request
        self._wake = wake
        self._running = running

    async def attempt(self, held: Held) -> tuple[float | None, bool]:
        """One request and its outcome; returns (retry_after for the chat, keep in memory)."""
        entry = held.entry
        now = self.clock.now()
        policy = policy_for(entry.kind)
        try:
            message_id = await self._request(held)
        except TelegramRetryAfter as exc:
            return await self._retry_after(entry, now, exc)
        except TelegramMigrateToChat as exc:
            await self._migrated(held, exc)
            return None, False
        except TelegramEntityTooLarge as exc:
            await self._fail(entry, now, 413, exc.message, "rejected")
            return None, False
        except TelegramForbiddenError as exc:
            reason = forbidden_reason(exc.message, held.chat_id)
            await self._fail(entry, now, 403, exc.message, reason)
            return None, False
        except (TelegramBadRequest, TelegramNotFound) as exc:
            code = 400 if isinstance(exc, TelegramBadRequest) else 404
            reason = "chat_not_found" if "chat not found" in exc.message else "rejected"
            await self._fail(entry, now, code, exc.message, reason)
            return None, False
        except TelegramNetworkError as exc:
            return await self._network_error(entry, now, policy, exc)
        except (TelegramAPIError, ClientDecodeError) as exc:
            code = getattr(exc, "status_code", None) or 500
            return await self._transient(entry, now, code, str(exc))
        await self._sent(held, message_id)
        return None, False

    # ---- what each answer means ---------------------------------------------------------
    async def _sent(self, held: Held, message_id: int) -> None:
        entry = held.entry
        self.stats.sent += 1
        done_at = self.clock.now()
        self.stats.delays.append((done_at - entry.not_before).total_seconds())
        await self._finish(
            entry,
            {
                "state": OutboxState.SENT,
                "telegram_message_id": message_id,
                "sent_chat_id": held.chat_id,
                "uncertain_attempts": entry.uncertain_attempts,
                "finished_at": done_at,
                "claim_token": None,
                "lease_until": None,
                "error": held.not_pinned,
            },
        )

    async def _retry_after(
        self, entry: OutboxEntry, now: datetime, exc: TelegramRetryAfter
    ) -> tuple[float | None, bool]:
        """A 429: the chat waits `retry_after`; many of them slow the global pace."""
        self.stats.retry_after += 1
        mono = time.monotonic()
        self.stats.retry_after_until = max(self.stats.retry_after_until, mono + exc.retry_after)
        self.pacing.on_429(mono)
        kept = await self._reschedule(
            entry, now, exc.retry_after, f"429 retry after {exc.retry_after}"
        )
        return float(exc.retry_after), kept

    async def _migrated(self, held: Held, exc: TelegramMigrateToChat) -> None:
        """The group became a supergroup: this row and the chat's other held rows go there."""
        entry = held.entry
        scheduler = self.pacing.scheduler
        self.stats.migrated += 1
        old = held.chat_id
        await self._notify(entry, "migrated", exc.message, new_chat_id=exc.migrate_to_chat_id)
        held.chat_id = exc.migrate_to_chat_id
        for other in scheduler.remove_chat_items(old):
            other.chat_id = exc.migrate_to_chat_id
            scheduler.push(other.chat_id, other.entry.priority, other, time.monotonic())
        await self.writer.submit(
            "update", entry.id, {"state": OutboxState.CLAIMED, "chat_id": held.chat_id}
        )
        scheduler.push(held.chat_id, entry.priority, held, time.monotonic())

    async def _network_error(
        self, entry: OutboxEntry, now: datetime, policy: KindPolicy, exc: TelegramNetworkError
    ) -> tuple[float | None, bool]:
        """No answer: retried, unless it may have arrived and its kind is at-most-once."""
        if _maybe_delivered(exc):
            if not policy.retry_uncertain:
                self.stats.maybe_sent += 1
                await self._finish(
                    entry,
                    {
                        "state": OutboxState.MAYBE_SENT,
                        "uncertain_attempts": entry.uncertain_attempts + 1,
                        "error": f"read timeout, not retried: {exc.message}"[:512],
                        "finished_at": now,
                        "claim_token": None,
                        "lease_until": None,
                    },
                )
                await self._notify(entry, "maybe_sent", exc.message)
                return None, False
            self.stats.uncertain += 1
            entry.uncertain_attempts += 1
        return await self._transient(entry, now, None, exc.message)

    # ---- retrying and failing -----------------------------------------------------------
    def _deadline(self, entry: OutboxEntry) -> datetime:
        return entry.deadline or entry.not_before + policy_for(entry.kind).retry_window

    def _backoff(self, attempts: int) -> float:
        cfg = self.config
        ceiling = min(cfg.backoff_cap, cfg.backoff_base * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter"

    async def _transient(
        self, entry: OutboxEntry, now: datetime, code: int | None, description: str
    ) -> tuple[float | None, bool]:
        """Retry after a backoff; returns (how long the chat waits, kept in memory)."""
        self.stats.transient += 1
        delay = self._backoff(entry.attempts)
        kept = await self._reschedule(entry, now, delay, description, code)
        return (delay, True) if kept else (None, False)

    async def _reschedule(
        self,
        entry: OutboxEntry,
        now: datetime,
        delay: float,
        description: str,
        code: int | None = 429,
    ) -> bool:
        """Record the next attempt; True when the row stays claimed and held in memory."""
        when = now + timedelta(seconds=delay)
        if when > self._deadline(entry):
            await self._fail(
                entry, now, code, f"deadline passed; last error: {description}", "deadline"
            )
            return False
        values: dict[str, Any] = {
            "next_attempt_at": when,
            "uncertain_attempts": entry.uncertain_attempts,
            "error": description[:512],
            "error_code": code,
        }
        keep = self._running() and delay <= self.config.hold_retries_up_to
        if keep:  # still ours (the lease covers it), waiting in the scheduler
            values["state"] = OutboxState.CLAIMED
        else:
            values.update(state=OutboxState.PENDING, claim_token=None, lease_until=None)
            # Claim it again as soon as it is due, not at the next poll.
            asyncio.get_running_loop().call_later(delay + 0.01, self._wake)
        return await self._finish(entry, values) and keep

    async def _fail(
        self, entry: OutboxEntry, now: datetime, code: int | None, description: str, reason: str
    ) -> None:
        self.stats.failed += 1
        await self._finish(
            entry,
            {
                "state": OutboxState.FAILED,
                "error_code": code,
                "error": f"{reason}: {description}"[:512],
                "uncertain_attempts": entry.uncertain_attempts,
                "finished_at": now,
                "claim_token": None,
                "lease_until": None,
            },
        )
        await self._notify(entry, reason, description)

    async def _finish(self, entry: OutboxEntry, values: dict[str, Any]) -> bool:
        if not await self.writer.submit("update", entry.id, values):
            self.stats.lost_claims += 1
            log.warning("outbox row %s was taken over before its outcome was written", entry.id)
            return False
        return True

    async def _notify(
        self, entry: OutboxEntry, reason: str, description: str, new_chat_id: int | None = None
    ) -> None:
        """Tell the built-in chat-fate hook and the features' hooks, each in its own
        transaction (one failing hook does not undo the others)."""
        ev = FailureEvent(
            entry_id=entry.id,
            chat_id=entry.chat_id,
            kind=entry.kind,
            origin_type=entry.origin_type,
            origin_id=entry.origin_id,
            reason=reason,
            description=description,
            new_chat_id=new_chat_id,
        )
        for hook in [builtin_chat_fate, *self.hooks.for_event(ev)]:
            try:
                async with self.transactions.tx() as s:
                    await hook(s, ev)
            except Exception:
                log.exception("failure hook %r for outbox row %s failed", hook, entry.id)


def forbidden_reason(text: str, chat_id: int) -> str:
    """What a 403 means for the chat: a person who blocked the bot, never started it or is
    gone, or a group that removed it."""
    low = text.lower()
    if chat_id < 0:
        return "kicked"
    if "blocked" in low:
        return "blocked"
    if "initiate conversation" in low:
        return "not_started"
    if "deactivated" in low:
        return "deactivated"
    return "forbidden"


def _maybe_delivered(exc: TelegramNetworkError) -> bool:
    """A timeout or a dropped connection after the request left: it may have arrived."""
    text = exc.message
    return "timeout" in text.lower() or "ServerDisconnected" in text or "Payload" in text
