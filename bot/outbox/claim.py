"""Claiming: taking due rows from the table into one sender's memory, and keeping them.

The claimer holds only a couple of seconds of sending (`claim_horizon`), so several processes
share a backlog; it claims in slices, so a big claim never stalls the loop; it renews the leases
of what it holds, and takes back the rows of senders that died. Right after a claim a group's
row is addressed again (`bot.outbox.addresses`) and the features' last-moment checks may
withdraw rows (`bot.outbox.before_send`), so nothing leaves for a former chat or after its
reason went away. An address that could not be checked is never used: the group rows go back
to the table for a later claim (with backoff), so a failing look-up delays them, it never sends
them to a chat their target may have left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.outbox import addresses
from bot.outbox.config import SenderConfig, SenderStats
from bot.outbox.limiter import ChatScheduler
from bot.outbox.service import SendChecks, no_retry_kinds
from bot.outbox.writer import Transactions
from storage.models.outbox import OutboxEntry
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger("bot.outbox.sender")


class Held:
    """A claimed row in memory, with where it goes now (a group upgrade changes that)."""

    __slots__ = ("entry", "chat_id", "answered", "member", "not_pinned")

    def __init__(self, entry: OutboxEntry) -> None:
        self.entry = entry
        self.chat_id = entry.chat_id
        self.answered: float | None = None  # monotonic time its last answer came
        self.member = ""  # its place in the shared window, this attempt
        # Why the pin asked for failed (no right to pin, most often): kept as the sent row's
        # `error`, "not_pinned: ...", so the feature can tell the person who asked for it.
        self.not_pinned: str | None = None


async def recover(transactions: Transactions, clock: Clock) -> dict[str, int]:
    """Take back rows whose sender died: claimed ones are sent, in-flight ones per policy."""
    async with transactions.tx() as s:
        out = await OutboxRepository(s).recover_expired(clock.now(), no_retry_kinds())
    if any(out.values()):
        log.warning("recovered rows of a stopped sender: %s", out)
    return out


class Claimer:
    """The claimer task of one sender run: claims due rows into `scheduler`, renews their
    leases, recovers dead senders' rows. `wake` is set when something may be due now;
    `changed` is set when rows were claimed (the dispatcher looks again)."""

    def __init__(
        self,
        config: SenderConfig,
        clock: Clock,
        transactions: Transactions,
        checks: SendChecks,
        stats: SenderStats,
        scheduler: ChatScheduler,
        token: str,
        *,
        wake: asyncio.Event,
        changed: asyncio.Event,
        running: Callable[[], bool],
    ) -> None:
        self.config = config
        self.clock = clock
        self.transactions = transactions
        self.checks = checks
        self.stats = stats
        self.scheduler = scheduler
        self.token = token
        self._wake = wake
        self._changed = changed
        self._running = running
        self._claim_slice = max(10, int(config.global_per_sec * config.claim_slice))
        # Consecutive claims whose addresses could not be resolved: the backoff of the rows
        # held back, and one log line per run of failures rather than one per claim.
        self._address_failures = 0

    def hold_limit(self) -> int:
        """How many rows this sender holds at most (`claim_horizon` of sending)."""
        cfg = self.config
        return max(10, min(cfg.max_held, int(cfg.global_per_sec * cfg.claim_horizon)))

    async def run(self) -> None:
        cfg = self.config
        last_renew = last_recover = time.monotonic()
        woken = True
        while self._running():
            self._wake.clear()
            got = 0
            try:
                mono = time.monotonic()
                if mono - last_renew > cfg.lease.total_seconds() / 3:
                    last_renew = mono
                    async with self.transactions.tx() as s:
                        await OutboxRepository(s).renew_leases(
                            self.token, self.clock.now() + cfg.lease
                        )
                if mono - last_recover > cfg.recover_every:
                    last_recover = mono
                    await recover(self.transactions, self.clock)
                limit = self.hold_limit()
                room = limit - self.scheduler.held
                # Something was enqueued (or came due): claim it now. Otherwise top up only
                # when half the hold is gone: each claim costs a transaction, however small.
                if room > 0 and (woken or room >= limit // 2):
                    # In slices: a claim of thousands of rows would stall the loop (and the
                    # first requests) for as long as it takes to load them.
                    got = await self.claim(min(room, self._claim_slice))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming failed; retrying")
            if got and self.scheduler.held < self.hold_limit() // 2:
                continue
            woken = await self._sleep()

    async def _sleep(self) -> bool:
        """Wait for a wake-up or the next poll; True when something may be due now.

        Rows of a chat blocked by a 429 are claimable once it unblocks: claim them then,
        however little room there is, like newly enqueued ones.
        """
        timeout = self.config.poll_interval
        woken = False
        unblock = self.scheduler.next_unblock(time.monotonic())
        if unblock is not None and unblock + 0.01 < timeout:
            timeout = unblock + 0.01
            woken = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
            woken = True
        return woken

    async def claim(self, room: int) -> int:
        """Claim up to `room` due rows into the scheduler; returns how many were claimed."""
        cfg = self.config
        now = self.clock.now()
        exclude = set(self.scheduler.saturated_chats(cfg.per_chat_held))
        exclude.update(self.scheduler.blocked_chats(time.monotonic()))
        async with self.transactions.tx() as s:
            rows = await OutboxRepository(s).claim_due(
                now=now,
                token=self.token,
                lease_until=now + cfg.lease,
                limit=room,
                per_chat=cfg.per_chat_held,
                exclude_chats=exclude,
            )
            claimed = len(rows)
            rows = await self._screen(s, rows, now)
        mono = time.monotonic()
        for row in rows:
            # A retry was due before the rows claimed with it: it goes first.
            front = row.attempts > 0
            self.scheduler.push(row.chat_id, row.priority, Held(row), mono, front=front)
        if rows:
            self._changed.set()
        return claimed

    async def _screen(
        self, s: AsyncSession, rows: list[OutboxEntry], now: datetime
    ) -> list[OutboxEntry]:
        """The claimed rows that still go: readdressed, and not withdrawn by their feature."""
        # A row for a group goes to the chat its target has now, never a former one.
        if any(r.chat_id < 0 for r in rows):  # private chats are people, not targets
            try:
                async with s.begin_nested():
                    gone = await addresses.apply(s, rows, self.token, now)
            except Exception:
                gone = await self._hold_back(s, rows, now)
            else:
                if self._address_failures:
                    log.info(
                        "resolving addresses works again after %d failed claim(s)",
                        self._address_failures,
                    )
                    self._address_failures = 0
            if gone:
                rows = [r for r in rows if r.id not in gone]
        # Features re-check their rows now, just before they leave (a nudge whose
        # obligation was met meanwhile is withdrawn, never sent).
        withdrawn = await self.checks.withdrawn(s, rows, now) if rows else {}
        if withdrawn:
            await OutboxRepository(s).withdraw_claimed(withdrawn, self.token, now)
            rows = [r for r in rows if r.id not in withdrawn]
            self.stats.withdrawn += len(withdrawn)
        return rows

    async def _hold_back(self, s: AsyncSession, rows: list[OutboxEntry], now: datetime) -> set[int]:
        """The addresses could not be resolved: the group rows go back to `pending`, due after
        a backoff, and are not sent this time (fail closed: sent as queued, they could reach a
        chat their target left). Nothing is lost: the next claim resolves them again. Logged
        once per run of failures, with the traceback: the look-up's statements carry chat
        and target ids, never a message's text, and `bot.logs` redacts phones and secrets."""
        self._address_failures += 1
        if self._address_failures == 1:
            log.exception("resolving addresses failed; the group messages wait for a later claim")
        cfg = self.config
        ceiling = min(cfg.backoff_cap, cfg.backoff_base * 2 ** (self._address_failures - 1))
        delay = timedelta(seconds=random.uniform(ceiling / 2, ceiling))
        held = [r.id for r in rows if r.chat_id < 0]
        await OutboxRepository(s).hold_claimed(held, self.token, now + delay)
        return set(held)
