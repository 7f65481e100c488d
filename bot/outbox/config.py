"""The sender's settings and counters.

They live apart from `Sender` because every part of it reads them: claiming (`claim.py`),
pacing (`pace.py`), outcomes (`outcomes.py`) and the writer (`writer.py`), and none of those may
import `sender.py`, which composes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.outbox.limiter import LimitConfig


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
