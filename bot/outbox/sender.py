"""The sender: claims due outbox rows, paces them through the limiter, records each outcome.

`Sender` is the component the app starts and stops; it composes the parts, each in a module of
its own, around one run's shared state (the claim token, the per-chat scheduler of held rows,
the events that wake its tasks):
- `claim.py`: the claimer task (claims due rows, renews leases, recovers rows of dead senders);
- `pace.py`: the dispatcher task (asks the ChatScheduler what may leave now) and the global pace;
- `content.py`: the Bot API call for a row's content;
- `outcomes.py`: what an answer means for the row (sent, retried, failed, moved);
- `writer.py`: the group-commit writer that batches the `sending` marks and outcomes of many
  requests into one transaction.
Between them, one task per request (`_deliver`): mark it `sending`, wait for its place in the
pace, send, record the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.outbox import claim
from bot.outbox.claim import Claimer, Held
from bot.outbox.config import SenderConfig, SenderStats
from bot.outbox.content import NOT_PINNED, deliver
from bot.outbox.limiter import ChatScheduler, GlobalPacer
from bot.outbox.outcomes import Outcomes, forbidden_reason
from bot.outbox.pace import Pacing
from bot.outbox.service import (
    FailureHooks,
    SendChecks,
    add_waker,
    default_checks,
    default_hooks,
    remove_waker,
)
from bot.outbox.shared import SharedWindow
from bot.outbox.writer import OutcomeWriter, Transactions
from storage.repositories.outbox import OutboxRepository

__all__ = ["NOT_PINNED", "Sender", "SenderConfig", "SenderStats", "forbidden_reason"]

log = logging.getLogger("bot.outbox.sender")


class Sender:
    """Component that delivers the outbox; see `bot/outbox/__init__.py` for the guarantees."""

    name = "outbox-sender"
    # Made when it starts (the app's direct calls read `pacer` and `scheduler` from then on).
    scheduler: ChatScheduler
    pacer: GlobalPacer

    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        config: SenderConfig | None = None,
        clock: Clock | None = None,
        hooks: FailureHooks | None = None,
        shared: SharedWindow | None = None,
        checks: SendChecks | None = None,
    ) -> None:
        """`shared`: the global limit across processes (the sender closes it when it stops);
        `checks`: the features' last-moment checks (`bot.outbox.before_send`)."""
        self.bot = bot
        self.shared = shared
        self.session_factory = session_factory
        self.config = config or SenderConfig()
        self.clock = clock or SystemClock()
        self.hooks = hooks if hooks is not None else default_hooks
        self.checks = checks if checks is not None else default_checks
        self.stats = SenderStats()
        self.token = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._requests: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._running = False
        self._db = Transactions(session_factory)
        self._writer = OutcomeWriter(self._db, self.clock, self.config.write_linger)

    def _is_running(self) -> bool:
        return self._running

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        self.token = uuid.uuid4().hex
        self.scheduler = ChatScheduler(cfg.limits())
        self._pacing = Pacing(
            cfg, self.scheduler, self.shared, changed=self._changed, running=self._is_running
        )
        self.pacer = self._pacing.pacer
        self._claimer = Claimer(
            cfg,
            self.clock,
            self._db,
            self.checks,
            self.stats,
            self.scheduler,
            self.token,
            wake=self._wake,
            changed=self._changed,
            running=self._is_running,
        )
        self._outcomes = Outcomes(
            cfg,
            self.clock,
            self.stats,
            self._writer,
            self._db,
            self.hooks,
            self._pacing,
            request=self._request,
            wake=self.wake,
            running=self._is_running,
        )
        self._writer.open(self.token)
        self._running = True
        await self.recover()
        add_waker(self.wake)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._writer.run(), name="outbox-writer"),
            loop.create_task(self._claimer.run(), name="outbox-claimer"),
            loop.create_task(
                self._pacing.dispatch(self._deliver, self._requests), name="outbox-dispatcher"
            ),
        ]
        log.info("sender started token=%s", self.token[:8])

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        remove_waker(self.wake)
        self._wake.set()
        self._changed.set()
        for task in self._tasks[1:]:  # claimer, dispatcher: nothing new leaves
            task.cancel()
        for task in self._tasks[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._requests:
            await asyncio.wait(list(self._requests), timeout=self.config.stop_grace)
        for task in list(self._requests):
            task.cancel()
        writer = self._tasks[0]
        await self._writer.drain()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        async with self._db.tx() as s:
            released = await OutboxRepository(s).release_claimed(self.token)
        if self.shared is not None:
            await self.shared.close()
        log.info("sender stopped; %d held messages released", released)

    def wake(self) -> None:
        """Look for due messages now (called after a transaction that enqueued commits)."""
        with contextlib.suppress(RuntimeError):
            self._wake.set()

    async def recover(self) -> dict[str, int]:
        """Take back rows whose sender died: claimed ones are sent, in-flight ones per policy."""
        return await claim.recover(self._db, self.clock)

    # ---- one request --------------------------------------------------------------------
    async def _deliver(self, held: Held) -> None:
        """Mark the row `sending`, wait for its place in the pace, send, record the outcome;
        then free its chat in the scheduler (held again when a retry waits in memory)."""
        pacing = self._pacing
        entry = held.entry
        chat_id = held.chat_id
        retry_after: float | None = None
        requeue = False
        held.answered = None
        ahead = True
        try:
            owned = await self._writer.submit("sending", entry.id, None)
            if not owned:
                self.stats.lost_claims += 1
                return
            entry.attempts += 1
            held.member = f"{self.token}:{entry.id}:{entry.attempts}"
            await pacing.pace(held.member)
            ahead = pacing.leave()
            retry_after, requeue = await self._outcomes.attempt(held)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering outbox row %s failed unexpectedly", entry.id)
        finally:
            if ahead:
                pacing.leave()
            pacing.done(held, chat_id, retry_after, requeue)

    async def _request(self, held: Held) -> int:
        """The row's Bot API call, telling the global pace when its answer came and whether
        it counted."""
        counted = True
        try:
            sent = await deliver(self.bot, held.entry, held.chat_id, self.config.request_timeout)
            if sent.not_pinned is not None:
                held.not_pinned = sent.not_pinned
            return sent.message_id
        except (TelegramRetryAfter, TelegramServerError):
            # Refused before the server counted it (a 429 or a 5xx). A gateway's HTML page
            # (502, 504) may come after the request was counted: it stays counted.
            counted = not self.config.refund_refused
            raise
        finally:
            await self._pacing.answered(held, counted=counted)
