"""The global limit shared by every sender process, kept in Redis.

Each process paces itself exactly (`GlobalPacer`), but two processes each at the full rate
would send twice what Telegram allows. With Redis configured, every request also takes a place
in one sorted set per bot: a member per request that the server may still count, scored with
the time (Redis's own clock, so the processes need not agree on theirs) until which it may
count. Like the local pacer it counts a request from when it leaves until a window after its
answer; a request refused uncounted (429, 5xx) gives its place back; a process that dies
mid-request leaves a member that lapses after the request timeout. Each check is one Lua
script, atomic on the server.

If Redis fails, the sender goes on with its own pacing (logged once a minute) and does not ask
Redis again for `retry_in` seconds, so a dead or hung Redis costs one timeout, not one per
request: an outage of the shared state must not stop reminders.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("bot.outbox.shared")

# KEYS[1] the set; ARGV: limit, window ms, hold ms (longest a request may stay unanswered), member
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[2]))
  return 0
end
local edge = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return math.max(1, tonumber(edge[2]) - now)
"""

# KEYS[1] the set; ARGV: window ms, member, counted (1/0)
_FINISH = """
if ARGV[3] == '0' then
  return redis.call('ZREM', KEYS[1], ARGV[2])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
"""


class SharedWindow:
    """At most `rate * window` requests, across processes, that the server may count."""

    def __init__(
        self,
        redis: Any,
        key: str,
        rate: float,
        *,
        window: float = 1.0,
        hold: float = 30.0,
        retry_in: float = 5.0,
    ) -> None:
        self.redis = redis
        self.key = key
        self.limit = max(1, int(rate * window))
        self.window_ms = int(window * 1000)
        self.hold_ms = int(hold * 1000)
        self._take = redis.register_script(_TAKE)
        self._finish = redis.register_script(_FINISH)
        self.retry_in = retry_in
        self._warned_at = -1e9
        self._down_until = -1e9
        self.failures = 0

    async def take(self, member: str) -> float:
        """Seconds to wait before asking again (0: the request has its place and may leave)."""
        if time.monotonic() < self._down_until:
            return 0.0
        try:
            wait_ms = await self._take(
                keys=[self.key], args=[self.limit, self.window_ms, self.hold_ms, member]
            )
        except Exception as exc:  # noqa: BLE001 - any Redis failure degrades to local pacing
            self._failed(exc)
            return 0.0
        return int(wait_ms) / 1000.0

    async def finish(self, member: str, *, counted: bool) -> None:
        """The answer came: keep the place a window longer, or give it back if uncounted."""
        if time.monotonic() < self._down_until:
            return
        try:
            await self._finish(
                keys=[self.key], args=[self.window_ms, member, "1" if counted else "0"]
            )
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    async def close(self) -> None:
        await self.redis.aclose()

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        now = time.monotonic()
        self._down_until = now + self.retry_in
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("shared send limit unavailable, pacing this process alone: %s", exc)
