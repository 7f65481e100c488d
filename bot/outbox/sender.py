"""The sender: claims due outbox rows, paces them through the limiter, records each outcome.

(Over 400 lines: its tasks share one in-memory state of claimed rows, waiting retries and chat
holds; split across modules, that state would be passed around or made global.)

Tasks: a claimer (claims due rows, renews leases, recovers rows of dead senders), a dispatcher
(asks the ChatScheduler what may leave now), one task per request, and a group-commit writer
that batches the `sending` marks and outcomes of many requests into one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
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
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, MessageEntity, ReplyParameters
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.outbox import addresses
from bot.outbox.limiter import ChatScheduler, GlobalPacer, LimitConfig
from bot.outbox.service import (
    FailureEvent,
    FailureHooks,
    SendChecks,
    add_waker,
    builtin_chat_fate,
    default_checks,
    default_hooks,
    no_retry_kinds,
    policy_for,
    remove_waker,
)
from bot.outbox.shared import SharedWindow
from storage.models.outbox import OutboxEntry, OutboxState
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger("bot.outbox.sender")
# A sent row's `error` when the pin asked for failed: "not_pinned: <Telegram's description>".
NOT_PINNED = "not_pinned"


@dataclass
class SenderConfig:
    global_per_sec: float = 30.0
    per_chat_per_sec: float = 1.0
    per_chat_burst: float = 3.0
    per_group_per_min: float = 20.0
    safety: float = 0.98
    max_in_flight: int = 64
    # Requests may wait at the pacer, already marked `sending`, this many seconds of sending
    # ahead: a slot that opens is then taken at once instead of after the mark's transaction
    # (each late take lengthens that slot's cycle for the rest of the run). Kept short: an
    # urgent message claimed later queues behind them, and a crash makes them "maybe sent".
    lead: float = 0.05
    # At most this many seconds of sending may be ahead of the pace at all: marked `sending`
    # and waiting, or having the mark written (the writer lingers, then commits; a slow
    # commit must not leave the pacer idle). What a Dừng cannot stop or a crash leaves
    # "maybe sent" beyond the requests on the wire.
    ahead: float = 0.15
    max_held: int = 2000
    # Hold no more than this many seconds of sending at the global rate, so several
    # processes share a backlog instead of the first one taking all of it.
    claim_horizon: float = 2.0
    per_chat_held: int = 5
    claim_slice: float = 0.5  # seconds of sending claimed per transaction, at most
    poll_interval: float = 1.0
    lease: timedelta = timedelta(seconds=60)
    request_timeout: float = 20.0
    backoff_base: float = 0.5
    backoff_cap: float = 60.0
    # A retry due within this many seconds (a 429's retry_after, a 5xx backoff) stays claimed
    # and held in memory, so it leaves on time without a trip back through the table, and no
    # other sender takes the chat while it waits (the lease is renewed meanwhile).
    hold_retries_up_to: float = 60.0
    # The writer waits this long after the first mark or outcome before writing: each
    # transaction costs several round trips whatever its size, so a few more join it.
    write_linger: float = 0.03
    # A request answered 429 or 5xx was refused before the global limit counted it (so the
    # sandbox models Telegram): give its slot of the global pace to the next request.
    refund_refused: bool = True
    # 429s in the last second, as a share of the global rate, that mean the global limit (not
    # one chat's) was hit and the global pace must slow down; fewer are per-chat floods.
    global_429_share: float = 0.03
    recover_every: float = 15.0
    stop_grace: float = 10.0

    def limits(self) -> LimitConfig:
        return LimitConfig(
            private_rate=self.per_chat_per_sec,
            private_burst=self.per_chat_burst,
            group_per_min=self.per_group_per_min,
            safety=self.safety,
        )


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    maybe_sent: int = 0
    uncertain: int = 0  # read timeouts of at-least-once kinds, resent
    retry_after: int = 0
    retry_after_until: float = 0.0  # monotonic time the latest 429's retry_after ends
    transient: int = 0
    migrated: int = 0
    lost_claims: int = 0
    withdrawn: int = 0  # claimed, then withdrawn by their feature's last-moment check
    delays: list[float] = field(default_factory=list)  # due -> delivered, seconds


@dataclass
class _Op:
    kind: str  # "sending" | "update"
    entry_id: int
    values: dict[str, Any] | None
    future: asyncio.Future[Any]


class _Held:
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


class Sender:
    """Component that delivers the outbox; see `bot/outbox/__init__.py` for the guarantees."""

    name = "outbox-sender"

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
        self._ops: asyncio.Queue[_Op] | None = None
        self._running = False
        self._in_flight = 0
        # Requests marked (or being marked) `sending` that have not left the pacer yet, and a
        # signal each time one leaves: the dispatcher keeps only `ahead` seconds of them.
        self._ahead = 0
        self._left = asyncio.Event()
        self._pacer_lock = asyncio.Lock()
        self._recent_429: deque[float] = deque()
        # One sender transaction at a time: on SQLite two of them would make the second wait
        # in SQLite's busy handler, which sleeps in coarse steps and stalls the pipeline.
        self._db_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._db_lock, self.session_factory() as s, s.begin():
            yield s

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        self.token = uuid.uuid4().hex
        self.scheduler = ChatScheduler(cfg.limits())
        self.pacer = GlobalPacer(cfg.global_per_sec)
        self._lead = max(2, int(cfg.global_per_sec * cfg.lead))
        self._ahead_max = max(self._lead, int(cfg.global_per_sec * cfg.ahead)) + 2
        self._claim_slice = max(10, int(cfg.global_per_sec * cfg.claim_slice))
        self._ops = asyncio.Queue()
        self._running = True
        await self.recover()
        add_waker(self.wake)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._writer(), name="outbox-writer"),
            loop.create_task(self._claimer(), name="outbox-claimer"),
            loop.create_task(self._dispatcher(), name="outbox-dispatcher"),
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
        assert self._ops is not None
        await self._ops.join()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        async with self._tx() as s:
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
        async with self._tx() as s:
            out = await OutboxRepository(s).recover_expired(self.clock.now(), no_retry_kinds())
        if any(out.values()):
            log.warning("recovered rows of a stopped sender: %s", out)
        return out

    # ---- claiming -----------------------------------------------------------------------
    async def _claimer(self) -> None:
        cfg = self.config
        last_renew = last_recover = time.monotonic()
        woken = True
        while self._running:
            self._wake.clear()
            got = 0
            try:
                mono = time.monotonic()
                if mono - last_renew > cfg.lease.total_seconds() / 3:
                    last_renew = mono
                    async with self._tx() as s:
                        await OutboxRepository(s).renew_leases(
                            self.token, self.clock.now() + cfg.lease
                        )
                if mono - last_recover > cfg.recover_every:
                    last_recover = mono
                    await self.recover()
                limit = self._hold_limit()
                room = limit - self.scheduler.held
                # Something was enqueued (or came due): claim it now. Otherwise top up only
                # when half the hold is gone: each claim costs a transaction, however small.
                if room > 0 and (woken or room >= limit // 2):
                    # In slices: a claim of thousands of rows would stall the loop (and the
                    # first requests) for as long as it takes to load them.
                    got = await self._claim(min(room, self._claim_slice))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming failed; retrying")
            if got and self.scheduler.held < self._hold_limit() // 2:
                continue
            # Rows of a chat blocked by a 429 are claimable once it unblocks: claim them then,
            # however little room there is, like newly enqueued ones.
            timeout = cfg.poll_interval
            woken = False
            unblock = self.scheduler.next_unblock(time.monotonic())
            if unblock is not None and unblock + 0.01 < timeout:
                timeout = unblock + 0.01
                woken = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
                woken = True

    def _hold_limit(self) -> int:
        cfg = self.config
        return max(10, min(cfg.max_held, int(cfg.global_per_sec * cfg.claim_horizon)))

    async def _claim(self, room: int) -> int:
        cfg = self.config
        now = self.clock.now()
        exclude = set(self.scheduler.saturated_chats(cfg.per_chat_held))
        exclude.update(self.scheduler.blocked_chats(time.monotonic()))
        async with self._tx() as s:
            rows = await OutboxRepository(s).claim_due(
                now=now,
                token=self.token,
                lease_until=now + cfg.lease,
                limit=room,
                per_chat=cfg.per_chat_held,
                exclude_chats=exclude,
            )
            # Features re-check their rows now, just before they leave (a nudge whose
            # obligation was met meanwhile is withdrawn, never sent).
            claimed = len(rows)
            # A row for a group goes to the chat its target has now, never a former one.
            if any(r.chat_id < 0 for r in rows):  # private chats are people, not targets
                try:
                    async with s.begin_nested():
                        gone = await addresses.apply(s, rows, self.token, now)
                except Exception:
                    log.exception("resolving addresses failed; the rows go as queued")
                    gone = set()
                if gone:
                    rows = [r for r in rows if r.id not in gone]
            withdrawn = await self.checks.withdrawn(s, rows, now) if rows else {}
            if withdrawn:
                await OutboxRepository(s).withdraw_claimed(withdrawn, self.token, now)
                rows = [r for r in rows if r.id not in withdrawn]
                self.stats.withdrawn += len(withdrawn)
        mono = time.monotonic()
        for row in rows:
            # A retry was due before the rows claimed with it: it goes first.
            front = row.attempts > 0
            self.scheduler.push(row.chat_id, row.priority, _Held(row), mono, front=front)
        if rows:
            self._changed.set()
        return claimed

    # ---- dispatching --------------------------------------------------------------------
    async def _dispatcher(self) -> None:
        cfg = self.config
        while self._running:
            self._changed.clear()
            if self._in_flight >= cfg.max_in_flight:
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
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._deliver(held))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)
            self._ahead += 1
            # Stay only `ahead` of the global pace (see SenderConfig.ahead): without this
            # bound the dispatcher ran ahead at the spreading bucket's rate (15% above the
            # pace), and at 30/s up to `max_in_flight` rows, two seconds of sending, sat marked
            # `sending` at the pacer: a stopped broadcast still sent them, a crash made them
            # all "maybe sent".
            while self._ahead >= self._ahead_max and self._running:
                self._left.clear()
                await self._left.wait()

    async def _pace(self, member: str) -> None:
        """Wait for a global token (this process's, then the shared one); FIFO among requests."""
        async with self._pacer_lock:
            while True:
                wait = self.pacer.wait(time.monotonic())
                if wait <= 0 and self.shared is not None:
                    wait = await self.shared.take(member)
                if wait <= 0:
                    self.pacer.take(time.monotonic())
                    return
                await asyncio.sleep(wait)

    async def _deliver(self, held: _Held) -> None:
        entry = held.entry
        chat_id = held.chat_id
        retry_after: float | None = None
        requeue = False
        held.answered = None
        ahead = True
        try:
            owned = await self._submit("sending", entry.id, None)
            if not owned:
                self.stats.lost_claims += 1
                return
            entry.attempts += 1
            held.member = f"{self.token}:{entry.id}:{entry.attempts}"
            await self._pace(held.member)
            ahead = self._leave_pacer()
            retry_after, requeue = await self._attempt(held)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering outbox row %s failed unexpectedly", entry.id)
        finally:
            if ahead:
                self._leave_pacer()
            self._in_flight -= 1
            now = time.monotonic()
            if retry_after is not None and held.answered is not None:
                # It runs from the answer, not from when the outcome was written: the
                # server's block began before the answer left it.
                retry_after = max(0.0, retry_after - (now - held.answered))
            self.scheduler.done(
                chat_id,
                now,
                retry_after=retry_after,
                requeue=(entry.priority, held) if requeue else None,
            )
            self._changed.set()

    def _leave_pacer(self) -> bool:
        """One request is no longer ahead of the pace (it left, or never will)."""
        self._ahead -= 1
        self._left.set()
        return False

    async def _attempt(self, held: _Held) -> tuple[float | None, bool]:
        """One request and its outcome; returns (retry_after for the chat, keep in memory)."""
        entry = held.entry
        now = self.clock.now()
        policy = policy_for(entry.kind)
        try:
            message_id = await self._request(held)
        except TelegramRetryAfter as exc:
            self.stats.retry_after += 1
            mono = time.monotonic()
            self.stats.retry_after_until = max(self.stats.retry_after_until, mono + exc.retry_after)
            self._on_429(mono)
            kept = await self._reschedule(
                entry, now, exc.retry_after, f"429 retry after {exc.retry_after}"
            )
            return float(exc.retry_after), kept
        except TelegramMigrateToChat as exc:
            self.stats.migrated += 1
            old = held.chat_id
            await self._notify(entry, "migrated", exc.message, new_chat_id=exc.migrate_to_chat_id)
            held.chat_id = exc.migrate_to_chat_id
            for other in self.scheduler.remove_chat_items(old):
                other.chat_id = exc.migrate_to_chat_id
                self.scheduler.push(other.chat_id, other.entry.priority, other, time.monotonic())
            await self._submit(
                "update", entry.id, {"state": OutboxState.CLAIMED, "chat_id": held.chat_id}
            )
            self.scheduler.push(held.chat_id, entry.priority, held, time.monotonic())
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
        except (TelegramAPIError, ClientDecodeError) as exc:
            code = getattr(exc, "status_code", None) or 500
            return await self._transient(entry, now, code, str(exc))
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
        return None, False

    def _on_429(self, mono: float) -> None:
        """Slow the global pace only when 429s look like a global flood, not one chat's."""
        recent = self._recent_429
        recent.append(mono)
        while recent and recent[0] <= mono - 1.0:
            recent.popleft()
        if len(recent) >= max(3.0, self.config.global_429_share * self.config.global_per_sec):
            self.pacer.slow_down(mono)

    async def _request(self, held: _Held) -> int:
        """`_send`, telling the global pacer when its answer came and whether it counted."""
        counted = True
        try:
            return await self._send(held)
        except (TelegramRetryAfter, TelegramServerError):
            # Refused before the server counted it (a 429 or a 5xx). A gateway's HTML page
            # (502, 504) may come after the request was counted: it stays counted.
            counted = not self.config.refund_refused
            raise
        finally:
            held.answered = time.monotonic()
            self.pacer.finish(held.answered, counted=counted)
            if self.shared is not None:
                await self.shared.finish(held.member, counted=counted)

    async def _send(self, held: _Held) -> int:
        """The Bot API call for the row's content; pins afterwards when asked."""
        e = held.entry
        bot = self.bot
        timeout = int(self.config.request_timeout) or 1
        markup = InlineKeyboardMarkup.model_validate(e.reply_markup) if e.reply_markup else None
        common: dict[str, Any] = {
            "chat_id": held.chat_id,
            "message_thread_id": e.thread_id,
            "reply_markup": markup,
            "request_timeout": timeout,
        }
        if e.reply_to_message_id is not None:
            common["reply_parameters"] = ReplyParameters(
                message_id=int(e.reply_to_message_id), allow_sending_without_reply=True
            )
        if e.text is not None:
            entities = [MessageEntity.model_validate(x) for x in e.entities] if e.entities else None
            msg = await bot.send_message(
                text=e.text, parse_mode=e.parse_mode, entities=entities, **common
            )
            message_id = msg.message_id
        elif e.copy_message_ids and e.copy_from_chat_id is not None:
            # An album: one request, the grouping kept; no reply_markup or reply (the method
            # takes neither). The first message stands for the whole (pin, replies).
            copies = await bot.copy_messages(
                chat_id=held.chat_id,
                from_chat_id=e.copy_from_chat_id,
                message_ids=[int(x) for x in e.copy_message_ids],
                message_thread_id=e.thread_id,
                request_timeout=timeout,
            )
            if not copies:
                raise TelegramBadRequest(method=None, message="no message could be copied")  # type: ignore[arg-type]
            message_id = copies[0].message_id
        elif e.copy_from_chat_id is not None and e.copy_from_message_id is not None:
            copied = await bot.copy_message(
                from_chat_id=e.copy_from_chat_id,
                message_id=int(e.copy_from_message_id),
                caption=e.caption,
                **common,
            )
            message_id = copied.message_id
        elif e.document_file_id is not None:
            msg = await bot.send_document(
                document=e.document_file_id, caption=e.caption, parse_mode=e.parse_mode, **common
            )
            message_id = msg.message_id
        elif e.document_data is not None:
            upload = BufferedInputFile(e.document_data, filename=e.document_name or "file")
            msg = await bot.send_document(
                document=upload, caption=e.caption, parse_mode=e.parse_mode, **common
            )
            message_id = msg.message_id
        elif e.photo_file_id is not None:
            msg = await bot.send_photo(
                photo=e.photo_file_id, caption=e.caption, parse_mode=e.parse_mode, **common
            )
            message_id = msg.message_id
        else:
            raise TelegramBadRequest(method=None, message="outbox row has no content")  # type: ignore[arg-type]
        if e.pin:
            try:
                await bot.pin_chat_message(
                    held.chat_id, message_id, disable_notification=True, request_timeout=timeout
                )
            except TelegramAPIError as exc:  # the message is out; a failed pin does not undo it
                log.warning("pinning message %s in %s failed: %s", message_id, held.chat_id, exc)
                held.not_pinned = f"{NOT_PINNED}: {exc}"[:512]
        return int(message_id)

    # ---- outcomes -----------------------------------------------------------------------
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
        keep = self._running and delay <= self.config.hold_retries_up_to
        if keep:  # still ours (the lease covers it), waiting in the scheduler
            values["state"] = OutboxState.CLAIMED
        else:
            values.update(state=OutboxState.PENDING, claim_token=None, lease_until=None)
            # Claim it again as soon as it is due, not at the next poll.
            asyncio.get_running_loop().call_later(delay + 0.01, self.wake)
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
        if not await self._submit("update", entry.id, values):
            self.stats.lost_claims += 1
            log.warning("outbox row %s was taken over before its outcome was written", entry.id)
            return False
        return True

    async def _notify(
        self, entry: OutboxEntry, reason: str, description: str, new_chat_id: int | None = None
    ) -> None:
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
                async with self._tx() as s:
                    await hook(s, ev)
            except Exception:
                log.exception("failure hook %r for outbox row %s failed", hook, entry.id)

    # ---- group commit -------------------------------------------------------------------
    async def _submit(self, kind: str, entry_id: int, values: dict[str, Any] | None) -> Any:
        assert self._ops is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._ops.put(_Op(kind, entry_id, values, future))
        return await future

    async def _writer(self) -> None:
        assert self._ops is not None
        ops = self._ops
        linger = self.config.write_linger
        while True:
            batch = [await ops.get()]
            if linger > 0:
                await asyncio.sleep(linger)
            while not ops.empty() and len(batch) < 500:
                batch.append(ops.get_nowait())
            try:
                results = await self._write(batch)
                for op in batch:
                    if not op.future.done():
                        op.future.set_result(results[id(op)])
            except Exception as exc:
                log.exception("writing %d outbox outcomes failed", len(batch))
                for op in batch:
                    if not op.future.done():
                        op.future.set_exception(exc)
            finally:
                for _ in batch:
                    ops.task_done()

    async def _write(self, batch: list[_Op]) -> dict[int, Any]:
        results: dict[int, Any] = {}
        now = self.clock.now()
        async with self._tx() as s:
            repo = OutboxRepository(s)
            sending = [op for op in batch if op.kind == "sending"]
            if sending:
                owned = await repo.mark_sending([op.entry_id for op in sending], self.token, now)
                for op in sending:
                    results[id(op)] = op.entry_id in owned
            updates = [op for op in batch if op.kind == "update"]
            if updates:
                owned = await repo.update_owned_many(
                    [(op.entry_id, op.values or {}) for op in updates], self.token
                )
                for op in updates:
                    results[id(op)] = op.entry_id in owned
        return results


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
