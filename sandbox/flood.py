"""Flood limits modelled on Telegram's documented broadcast limits.

Time comes from an injectable monotonic clock: tests freeze/shift the wall clock with
time-machine, which must not affect rate limiting.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FloodConfig:
    enabled: bool = False
    global_per_sec: float = 30
    per_chat_per_sec: float = 1
    per_chat_burst: int = 3
    per_group_per_min: int = 20


@dataclass
class FloodControl:
    """Sliding-window/token-bucket limiter that also records 429s and violations.

    A *violation* is a request for a chat (or any send, for the global limit) that
    arrived while a previously announced ``retry_after`` was still running: a
    well-behaved client never produces one.
    """

    clock: Callable[[], float] = time.monotonic
    config: FloodConfig = field(default_factory=FloodConfig)
    issued: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    _global: deque[float] = field(default_factory=deque)
    _group: dict[int, deque[float]] = field(default_factory=dict)
    _bucket: dict[int, tuple[float, float]] = field(default_factory=dict)  # tokens, at
    _blocked: dict[Any, float] = field(default_factory=dict)  # chat id or "*" -> until

    def reset(self) -> None:
        self._global.clear()
        self._group.clear()
        self._bucket.clear()
        self._blocked.clear()
        self.issued.clear()
        self.violations.clear()

    def check(self, method: str, chat_id: int | None, is_group: bool) -> int | None:
        """Account one send; return retry_after seconds when it must be refused."""
        now = self.clock()
        for key in ("*", chat_id):
            until = self._blocked.get(key)
            if until is not None and now < until:
                self.violations.append(
                    {
                        "method": method,
                        "chat_id": chat_id,
                        "at": now,
                        "blocked_until": until,
                        "scope": "global" if key == "*" else "chat",
                    }
                )
        if not self.config.enabled:
            return None
        cfg = self.config
        while self._global and self._global[0] <= now - 1.0:
            self._global.popleft()
        wait = 0.0
        scope = None
        if len(self._global) >= cfg.global_per_sec:
            wait, scope = self._global[0] + 1.0 - now, "global"
        if chat_id is not None and scope is None:
            tokens, at = self._bucket.get(chat_id, (float(cfg.per_chat_burst), now))
            tokens = min(float(cfg.per_chat_burst), tokens + (now - at) * cfg.per_chat_per_sec)
            if tokens < 1.0:
                wait, scope = (1.0 - tokens) / cfg.per_chat_per_sec, "chat"
            elif is_group:
                window = self._group.setdefault(chat_id, deque())
                while window and window[0] <= now - 60.0:
                    window.popleft()
                if len(window) >= cfg.per_group_per_min:
                    wait, scope = window[0] + 60.0 - now, "group"
            if scope is None:
                self._bucket[chat_id] = (tokens - 1.0, now)
        if scope is not None:
            retry_after = max(1, math.ceil(wait))
            key = "*" if scope == "global" else chat_id
            self._blocked[key] = now + retry_after
            self.issued.append(
                {
                    "method": method,
                    "chat_id": chat_id,
                    "scope": scope,
                    "retry_after": retry_after,
                    "at": now,
                }
            )
            return retry_after
        self._global.append(now)
        if is_group and chat_id is not None:
            self._group.setdefault(chat_id, deque()).append(now)
        return None

    def announce(self, method: str, chat_id: int | None, retry_after: int, scope: str) -> None:
        """Record a 429 decided elsewhere (fault injection) so violations are tracked."""
        now = self.clock()
        self._blocked["*" if chat_id is None else chat_id] = now + retry_after
        self.issued.append(
            {
                "method": method,
                "chat_id": chat_id,
                "scope": scope,
                "retry_after": retry_after,
                "at": now,
            }
        )
