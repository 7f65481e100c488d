"""Fault injection rules: make chosen calls fail the way Telegram/network sometimes does."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

KINDS = ("server_error", "bad_gateway", "retry_after", "timeout", "blocked", "kicked")


@dataclass
class Fault:
    """One rule. ``method`` is a Bot API name, ``"*"`` (all) or ``"send"`` (sending methods).

    Fires for the next ``count`` matching calls, or with ``probability``, or always when
    neither is given. ``chat_id`` narrows it to one target chat.
    """

    id: int
    kind: str
    method: str = "send"
    count: int | None = None
    probability: float | None = None
    chat_id: int | None = None
    status: int = 500
    retry_after: int = 5
    delay: float = 5.0
    deliver: bool = False
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class FaultInjector:
    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    rng: random.Random = field(init=False)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def add(self, kind: str, **options: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if kind in ("blocked", "kicked") and options.get("chat_id") is None:
            raise ValueError(f"fault {kind!r} needs chat_id")
        fault = Fault(id=self._next_id, kind=kind, **options)
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def pick(self, method: str, chat_id: int | None, is_sending: bool) -> Fault | None:
        for fault in self.faults:
            if fault.method == "*":
                pass
            elif fault.method == "send":
                if not is_sending:
                    continue
            elif fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            if fault.count is not None and fault.fired >= fault.count:
                continue
            if fault.probability is not None and self.rng.random() >= fault.probability:
                continue
            fault.fired += 1
            return fault
        return None
