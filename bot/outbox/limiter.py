"""Pure rate-limiting and scheduling: token buckets, group windows and the fair picker.

Everything takes `now` (monotonic seconds) as an argument, so tests drive it without sleeping.

- Global: at most `rate` requests in any one-second window as the server sees it, counting each
  request from when it leaves until a second after its answer (exact whatever the jitter),
  spread out by a token bucket. After 429s that look global the rate is cut and recovers: AIMD.
- Private chats: a token bucket (1/s, short burst).
- Groups: that bucket plus a sliding 60 s window of at most `group_per_min` sends, which is how
  Telegram counts; a token bucket would allow twice the limit across one minute.
- One request per chat at a time, so a 429 for a chat stops its next message from leaving.
- Priority: each priority class has a queue of ready chats; classes are served by stride
  scheduling with weights (interactive 16, reminders 4, broadcasts 1), so urgent replies jump
  ahead while big broadcasts still get a steady share and never starve.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WEIGHTS: tuple[float, ...] = (16.0, 4.0, 1.0)
PRUNE_EVERY = 5.0  # seconds between passes forgetting idle chats


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    at: float | None = None

    def _refill(self, now: float) -> None:
        if self.at is None:
            self.tokens = self.burst if self.tokens < 0 else self.tokens
        else:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0


@dataclass
class GlobalPacer:
    """The overall limit as the server counts it: at most `rate * window` requests in any window.

    A request counts from the moment it leaves until `window` seconds after its answer came
    back: the server counted it somewhere in between, so the limit holds whatever the network
    or event-loop jitter (a plain token bucket needs a safety margin for that, and still trips
    the server's sliding window when requests bunch up). A token bucket a little above the rate,
    with a small burst, spreads requests out so they do not arrive in latency-raising bursts.
    A request the server refused before counting it (429, 5xx) is refunded.
    After 429s that look global the rate is cut and recovers linearly: AIMD, like TCP.
    """

    rate: float
    window: float = 1.0
    # The spreading bucket's burst: about 27 ms of sending (8 at 300/s). A fixed 8 was a
    # quarter of a second at 30/s: the first window filled in bursts and, since each request
    # then leaves when an earlier one stops counting, every later second repeated the same
    # clumps and gaps, and an answer to a person waited through a gap (up to ~350 ms).
    burst: float | None = None
    # The spreading bucket runs this much faster than the limit: the window alone is exact, so
    # the bucket need not be slower, and a little faster lets the window fill before it slides
    # (and catches up after a stall). The window then stays idle for the rest of each second,
    # a gap every later second repeats, in which a direct call waits: at Telegram's 30/s the
    # bucket runs only 4% faster (a 40 ms gap, not 130 ms); 15% above 60/s (the benches').
    spread: float | None = None
    decrease: float = 0.9
    floor: float = 0.3
    recover_per_sec: float = 0.5
    factor: float = 1.0
    in_flight: int = 0
    # Direct calls (answers to people, live edits: `bot.outbox.direct`) waiting for a place:
    # the sender leaves them the next free one, so a person never waits behind a broadcast.
    urgent: int = 0
    # The sender's own requests in flight, and when it last asked for, took or finished a
    # place: while it keeps the window full, an answer must wait for the next free place (or
    # the server refuses it); otherwise an answer leaves at once (`answer_wait`).
    bulk_in_flight: int = 0
    _bulk_at: float = float("-inf")
    _at: float | None = None
    _bucket: TokenBucket = field(init=False)
    _spread: float = field(init=False)
    _expiries: list[float] = field(default_factory=list)  # heap: answer time + window

    def __post_init__(self) -> None:
        burst = self.burst if self.burst is not None else max(1.0, self.rate * 0.027)
        self._spread = (
            self.spread if self.spread is not None else (1.04 if self.rate <= 60 else 1.15)
        )
        self._bucket = TokenBucket(self.rate * self._spread, burst)

    def _update(self, now: float) -> None:
        if self._at is not None and self.factor < 1.0:
            self.factor = min(1.0, self.factor + (now - self._at) * self.recover_per_sec)
        self._at = now
        self._bucket.rate = self.rate * self._spread * self.factor
        while self._expiries and self._expiries[0] <= now:
            heapq.heappop(self._expiries)

    def wait(self, now: float) -> float:
        """Seconds until one more of the sender's requests may leave (0 when it may now)."""
        self._update(now)
        self._bulk_at = now
        return max(self._bucket.wait(now), self._window_wait(now, self.urgent))

    def bulk_active(self, now: float) -> bool:
        """The sender is sending, or wants to: its requests may fill the window. (It asks
        again at least once a window while it waits, so two windows of silence mean idle.)"""
        return self.bulk_in_flight > 0 or now - self._bulk_at < 2 * self.window

    def answer_wait(self, now: float) -> float:
        """Seconds an answer to a person waits: none while the sender is idle (answers are
        not bulk: they are counted, so a broadcast starting meanwhile yields to them, but
        never wait for each other), else the next free place, as `wait_urgent`."""
        if not self.bulk_active(now):
            return 0.0
        return self.wait_urgent(now)

    def wait_urgent(self, now: float) -> float:
        """The same for a direct call: only the window counts (no spreading), and no place is
        kept for anyone else."""
        self._update(now)
        return self._window_wait(now, 0)

    def _window_wait(self, now: float, reserved: int) -> float:
        capacity = max(1, int(self.rate * self.factor * self.window))
        # The server may count these.
        excess = self.in_flight + len(self._expiries) + reserved - capacity
        if excess < 0:
            return 0.0
        if self._expiries:  # wait until enough counted requests have left the window
            return heapq.nsmallest(excess + 1, self._expiries)[-1] - now
        return self.window / capacity  # every one is still in flight: look again soon

    def take(self, now: float, *, direct: bool = False) -> None:
        """A request leaves now (`direct`: a direct call's, not the sender's)."""
        self._update(now)
        self.in_flight += 1
        if direct:  # counted in the window only: the spreading bucket is the sender's
            return
        self._bucket.take(now)
        self.bulk_in_flight += 1
        self._bulk_at = now

    def finish(self, now: float, *, counted: bool = True, direct: bool = False) -> None:
        """Its answer came back; `counted=False` when the server refused it uncounted."""
        self._update(now)
        self.in_flight = max(0, self.in_flight - 1)
        if not direct:
            self.bulk_in_flight = max(0, self.bulk_in_flight - 1)
            self._bulk_at = now
        if counted:
            heapq.heappush(self._expiries, now + self.window)
        elif not direct:
            bucket = self._bucket
            bucket.tokens = min(bucket.burst, bucket.tokens + 1.0)

    def slow_down(self, now: float) -> None:
        self._update(now)
        self.factor = max(self.floor, self.factor * self.decrease)
        self._bucket.rate = self.rate * self._spread * self.factor


@dataclass
class LimitConfig:
    private_rate: float = 1.0
    private_burst: float = 3.0
    group_per_min: float = 20.0
    safety: float = 0.97
    group_window_margin: float = 0.5
    # A retry_after is counted from when its answer came back, which is after the server's
    # block began: leaving then is already late enough; the margin only absorbs clock steps.
    retry_after_margin: float = 0.01
    weights: tuple[float, ...] = DEFAULT_WEIGHTS


@dataclass
class ChatState:
    chat_id: int
    bucket: TokenBucket
    items: list[tuple[int, int, Any]] = field(default_factory=list)  # heap (prio, seq, item)
    window: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    in_flight: bool = False
    front: bool = False  # a retry, due before what was claimed after it: serve it first
    scheduled: int = 0  # generation of its live entry in `waiting` or a ready queue, 0 if none

    @property
    def is_group(self) -> bool:
        return self.chat_id < 0

    def best_priority(self) -> int:
        return self.items[0][0]


class ChatScheduler:
    """Which held message goes next: per-chat limits, one request per chat, fair priorities."""

    def __init__(self, config: LimitConfig | None = None) -> None:
        self.config = config or LimitConfig()
        self.chats: dict[int, ChatState] = {}
        self.ready: list[deque[tuple[int, int]]] = [deque() for _ in self.config.weights]
        self.passes: list[float] = [0.0 for _ in self.config.weights]
        self.waiting: list[tuple[float, int, int, int]] = []  # (ready_at, seq, chat, gen)
        self._seq = itertools.count(1)
        self.held = 0
        self._pruned_at = 0.0

    # ---- limits -------------------------------------------------------------------------
    def _chat(self, chat_id: int) -> ChatState:
        chat = self.chats.get(chat_id)
        if chat is None:
            cfg = self.config
            chat = ChatState(chat_id, TokenBucket(cfg.private_rate * cfg.safety, cfg.private_burst))
            self.chats[chat_id] = chat
        return chat

    def ready_at(self, chat: ChatState, now: float) -> float:
        """Earliest time this chat may receive its next message."""
        cfg = self.config
        t = max(now, chat.blocked_until)
        t = max(t, now + chat.bucket.wait(now))
        if chat.is_group:
            window = chat.window
            horizon = 60.0 + cfg.group_window_margin
            while window and window[0] <= now - horizon:
                window.popleft()
            if len(window) >= cfg.group_per_min:
                t = max(t, window[len(window) - int(cfg.group_per_min)] + horizon)
        return t

    # ---- queueing -----------------------------------------------------------------------
    def push(
        self, chat_id: int, priority: int, item: Any, now: float, *, front: bool = False
    ) -> None:
        """Hold an item; `front` puts its chat ahead of the others of its class when ready."""
        chat = self._chat(chat_id)
        prio = min(max(int(priority), 0), len(self.ready) - 1)
        heapq.heappush(chat.items, (prio, next(self._seq), item))
        self.held += 1
        chat.front = chat.front or front
        if chat.in_flight:
            return
        if chat.scheduled and chat.best_priority() < prio:
            return
        self._schedule(chat, now)

    def _schedule(self, chat: ChatState, now: float) -> None:
        gen = next(self._seq)
        chat.scheduled = gen
        t = self.ready_at(chat, now)
        if t <= now:
            self._make_ready(chat, gen)
        else:
            heapq.heappush(self.waiting, (t, gen, chat.chat_id, gen))

    def _make_ready(self, chat: ChatState, gen: int) -> None:
        prio = chat.best_priority()
        queue = self.ready[prio]
        if not queue:
            # A class waking up starts level with the busiest one: no banked credit.
            active = [p for i, p in enumerate(self.passes) if self.ready[i] and i != prio]
            if active:
                self.passes[prio] = max(self.passes[prio], min(active))
        if chat.front:
            chat.front = False
            queue.appendleft((chat.chat_id, gen))
        else:
            queue.append((chat.chat_id, gen))

    def _promote(self, now: float) -> None:
        while self.waiting and self.waiting[0][0] <= now:
            _t, _s, chat_id, gen = heapq.heappop(self.waiting)
            chat = self.chats.get(chat_id)
            if chat is None or chat.scheduled != gen or chat.in_flight or not chat.items:
                continue
            t = self.ready_at(chat, now)
            if t > now:
                heapq.heappush(self.waiting, (t, gen, chat_id, gen))
            else:
                self._make_ready(chat, gen)

    def pick(self, now: float) -> tuple[int, Any] | None:
        """The next (chat_id, item) allowed to leave now, or None; marks the chat in flight."""
        self._promote(now)
        while True:
            classes = [i for i, q in enumerate(self.ready) if q]
            if not classes:
                return None
            cls = min(classes, key=lambda i: (self.passes[i], i))
            chat_id, gen = self.ready[cls].popleft()
            chat = self.chats.get(chat_id)
            if chat is None or chat.scheduled != gen or chat.in_flight or not chat.items:
                continue
            if self.ready_at(chat, now) > now:  # a retry_after arrived meanwhile
                self._schedule(chat, now)
                continue
            self.passes[cls] += 1.0 / self.config.weights[cls]
            _prio, _seq, item = heapq.heappop(chat.items)
            self.held -= 1
            chat.scheduled = 0
            chat.in_flight = True
            chat.bucket.take(now)
            if chat.is_group:
                chat.window.append(now)
            return chat_id, item

    def next_wakeup(self, now: float) -> float | None:
        """Seconds until a waiting chat may become ready (None when nothing waits)."""
        self._promote(now)
        if any(self.ready):
            return 0.0
        while self.waiting:
            t, _s, chat_id, gen = self.waiting[0]
            chat = self.chats.get(chat_id)
            if chat is None or chat.scheduled != gen or chat.in_flight or not chat.items:
                heapq.heappop(self.waiting)
                continue
            return max(0.0, t - now)
        return None

    def done(
        self,
        chat_id: int,
        now: float,
        *,
        retry_after: float | None = None,
        requeue: tuple[int, Any] | None = None,
    ) -> None:
        """A request finished; optionally block the chat and put the item back (held, first)."""
        chat = self._chat(chat_id)
        chat.in_flight = False
        if retry_after is not None:
            chat.blocked_until = max(
                chat.blocked_until, now + retry_after + self.config.retry_after_margin
            )
        # The window counts when the request finished too: safe against arrival jitter.
        if chat.is_group and chat.window:
            chat.window[-1] = max(chat.window[-1], now)
        if requeue is not None:
            heapq.heappush(chat.items, (requeue[0], next(self._seq), requeue[1]))
            self.held += 1
            chat.front = True
        if chat.items:
            self._schedule(chat, now)
        elif chat.blocked_until <= now and not chat.window and self._rested(chat, now):
            del self.chats[chat_id]
        else:
            self._maybe_prune(now)

    def remove_chat_items(self, chat_id: int) -> list[Any]:
        """Take every held item of a chat out (it moved or cannot receive anything)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        items = [item for _p, _s, item in sorted(chat.items)]
        self.held -= len(items)
        chat.items.clear()
        chat.scheduled = 0
        return items

    # ---- direct calls (`bot.outbox.direct`): the same per-chat limits, shared -------------
    def direct_wait(self, chat_id: int, now: float) -> float:
        """Seconds until a direct call (an answer, a live edit) may go to this chat: its
        bucket, its group window and a 429's block are the ones the sender keeps."""
        chat = self.chats.get(chat_id)
        return 0.0 if chat is None else max(0.0, self.ready_at(chat, now) - now)

    def direct_take(self, chat_id: int, now: float) -> None:
        self._maybe_prune(now)
        chat = self._chat(chat_id)
        chat.bucket.take(now)
        if chat.is_group:
            chat.window.append(now)

    def direct_done(self, chat_id: int, now: float, departed: float) -> None:
        """A direct call's answer came: count its token (and its place in a group's window)
        from now, not from when it left. The server counted it somewhere in between, so under
        load (a request leaving late, the next one quickly) two calls could reach it closer
        than the limit: one call at a time per chat (`bot.outbox.direct`) and this make the
        gap the server sees at least the one kept here."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return
        bucket = chat.bucket
        bucket.wait(now)  # refill up to now, then take back what refilled while in flight
        bucket.tokens -= max(0.0, now - departed) * bucket.rate
        if chat.is_group and departed in chat.window:
            chat.window[chat.window.index(departed)] = max(departed, now)

    def direct_refused(self, chat_id: int, now: float, retry_after: float) -> None:
        chat = self._chat(chat_id)
        chat.blocked_until = max(
            chat.blocked_until, now + retry_after + self.config.retry_after_margin
        )

    @staticmethod
    def _rested(chat: ChatState, now: float) -> bool:
        """Its bucket is full again: forgetting the chat loses nothing (a chat forgotten with
        its burst spent came back with a full one, and its fourth quick message got a 429)."""
        return chat.bucket.wait(now) == 0.0 and chat.bucket.tokens >= chat.bucket.burst

    def _maybe_prune(self, now: float) -> None:
        """Forget idle chats whose limits are back to full, now and then."""
        if now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        horizon = 60.0 + self.config.group_window_margin
        for chat_id, chat in list(self.chats.items()):
            if (
                not chat.items
                and not chat.in_flight
                and not chat.scheduled
                and chat.blocked_until <= now
                and self._rested(chat, now)
                and (not chat.window or chat.window[-1] <= now - horizon)
            ):
                del self.chats[chat_id]

    def saturated_chats(self, per_chat: int) -> list[int]:
        return [c.chat_id for c in self.chats.values() if len(c.items) >= per_chat]

    def blocked_chats(self, now: float) -> list[int]:
        return [c.chat_id for c in self.chats.values() if c.blocked_until > now]

    def next_unblock(self, now: float) -> float | None:
        """Seconds until the first blocked chat may receive again (None when none is)."""
        until = [c.blocked_until for c in self.chats.values() if c.blocked_until > now]
        return min(until) - now if until else None
