"""One durable outbox for everything the bot sends on its own.

Enqueue with `await enqueue(session, OutboxMessage(...))` inside the transaction of the change
that causes the message: a rollback sends nothing, a commit is never forgotten, and a second
message with the same `dedupe_key` is ignored. The `Sender` component delivers.

States: pending -> claimed (held in one sender's memory, also while a short retry waits) ->
sending (the request may be on the wire) -> sent | failed | maybe_sent. Nothing ends without one
of the last three, except a row its feature withdrew before it left: pending or claimed ->
cancelled (`OutboxRepository.cancel_unsent`; a claimed row loses its claim, so its sender never
marks it sending).

"Maybe sent" policy (Telegram has no idempotency key, so a read timeout is ambiguous):
- interactive, answer, reminder, nudge, roster and unknown kinds: resend (at-least-once; a
  duplicate reminder is better than a lost one). Each ambiguous attempt is counted in
  `uncertain_attempts`.
- broadcast: never resend; the row ends `maybe_sent` (at-most-once; a duplicate to thousands of
  groups is worse than a rare gap). Counted in the `maybe_sent` state.

Crash guarantee: a row is marked `sending` (committed) before its request leaves, and its outcome
is committed after the answer. When a sender dies, its rows' leases expire and any sender takes
them back: `claimed` rows never reached Telegram and are simply sent, exactly once; `sending`
rows were in flight at the crash (marked up to `ahead` before their turn, or answered but their
outcome not yet written) and follow the policy above, so the duplicates a crash can cause are at
most the requests in flight at that moment (<= `max_in_flight`), only for at-least-once kinds,
and each is counted as an uncertain attempt.

Errors: 429 blocks that chat for `retry_after` from its answer (never resent to it earlier) and,
when many chats get one, slows the global pace for a while; 5xx, bad gateways and connection
errors retry with exponential backoff and jitter until the kind's retry window passes (then
failed, "deadline"), a retry due within `hold_retries_up_to` waiting in memory, still claimed;
403 (blocked, never started, kicked...) and 400 (chat not found, too long, bad entities...) fail
at once with the reason, and the built-in hook marks a person the bot cannot write to
unreachable or unbinds a kicked or vanished group; a group upgraded to a supergroup moves its
binding and the message goes to the new id.
Features register their own callbacks with `on_failure(kind_or_origin_type, hook)`, and a
last-moment check with `before_send(origin_type, check)`: run on the feature's rows right after
a sender claims them (about 2 s before they leave), it may withdraw rows that must no longer go
out (a nudge whose obligation was met meanwhile); they end `cancelled` and are never sent.

Addresses: a row for a group is addressed to the target the group stood for when it was queued
(its binding then); right after a claim the sender resolves that target's chat again
(`bot.outbox.addresses`): relinked, the row goes back to `pending` for the new chat and keeps
its target from then on (features hear it with `on_readdress`); no chat now, it ends `failed`
("unlinked", or "kicked" when the bot was removed); a look-up that fails holds the group rows
back for a later claim; never a former chat.
"""

from bot.outbox.sender import NOT_PINNED, Sender, SenderConfig, SenderStats
from bot.outbox.service import (
    POLICIES,
    FailureEvent,
    FailureHooks,
    KindPolicy,
    OutboxKind,
    OutboxMessage,
    SendChecks,
    before_send,
    enqueue,
    on_failure,
    policy_for,
)
from bot.outbox.waking import DEFAULT_WAKING, Waking, automatically, send_moment
from storage.models.outbox import OutboxState, Priority

__all__ = [
    "DEFAULT_WAKING",
    "NOT_PINNED",
    "Waking",
    "automatically",
    "send_moment",
    "POLICIES",
    "FailureEvent",
    "FailureHooks",
    "KindPolicy",
    "OutboxKind",
    "OutboxMessage",
    "OutboxState",
    "Priority",
    "SendChecks",
    "Sender",
    "SenderConfig",
    "SenderStats",
    "before_send",
    "enqueue",
    "on_failure",
    "policy_for",
]
