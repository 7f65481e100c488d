"""Deliveries to a group go to the chat its target has when they leave, never a former one.

A row queued for a branch's, unit's, working group's or the committee's group carries that
group's chat id as it was at queue time; a scheduled broadcast, a retried one, a reminder or
a nudge may leave hours or days later, after the target relinked (`/linkcode`, `/link`) or
unlinked its group. The address is the target the row is for: the target the chat stood for
when the row was queued (the chat's binding then, from `chat_bindings`' history), or, once the
sender readdressed the row, the target stored on it (`outbox.target_type`, `target_id`: its new
chat's binding began after the row was queued, so the history by `created_at` knows nothing of
it; a retry after one more relink would otherwise go to that chat as if it were unbound). It is
resolved again right after a sender claims the row:

- the target still has that chat: it goes;
- the target has another chat now: the row goes back to `pending`, addressed there and to the
  target (and its feature hears of it, `on_readdress`, e.g. a broadcast's recipient follows);
- the target has no chat now: the row ends `failed`, never sent to the former chat: reason
  `unlinked` when a person unlinked or moved its group, Telegram's own word for it (`kicked`,
  `chat_not_found`) when the bot was removed or the chat vanished (a bot added back without a
  new link is in a former chat all the same).

A row queued to a group whose binding had already ended (a feature queuing from a chat id it
stored earlier) is for the target that group last stood for. Rows to a chat never bound to
anything go as they are, and private chats are people, not targets. If the look-up itself
fails, the sender holds the group rows back and tries again later (`bot.outbox.claim`): an
address it could not check is never used.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.org import ChatBinding
from storage.models.outbox import OutboxEntry
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger(__name__)
UNLINKED = "unlinked"
# Bindings ended because the bot could no longer write there, not by a person's choice.
BOT_REMOVED = frozenset({"bot_kicked", "bot_left", "kicked", "chat_not_found"})
ReaddressHook = Callable[[AsyncSession, dict[int, int]], Awaitable[None]]


Target = tuple[str, int]  # (target type, target id)


@dataclass(frozen=True)
class Addressing:
    moved: dict[int, int] = field(default_factory=dict)  # row id -> the target's chat now
    targets: dict[int, Target] = field(default_factory=dict)  # moved row id -> its target
    unreachable: dict[int, str] = field(default_factory=dict)  # row id -> reason


def _binding_at(bindings: Sequence[ChatBinding], at: datetime) -> ChatBinding | None:
    """The binding the chat had at `at` (bound then and not yet unbound)."""
    for b in sorted(bindings, key=lambda b: b.bound_at, reverse=True):
        if b.bound_at <= at and (b.unbound_at is None or at < b.unbound_at):
            return b
    return None


def _ended_before(bindings: Sequence[ChatBinding], at: datetime) -> ChatBinding | None:
    """The chat's latest binding that had ended by `at`: a row queued to a chat its target
    had already left (a feature queuing from a chat id it stored earlier, e.g. a reply in the
    chat a broadcast's copy went to) is for that target all the same."""
    ended = [b for b in bindings if b.unbound_at is not None and b.unbound_at <= at]
    return max(ended, key=lambda b: b.bound_at) if ended else None


def _last_binding_to(bindings: Sequence[ChatBinding], target: Target) -> ChatBinding | None:
    """The chat's latest binding to `target` (how the chat stopped standing for it)."""
    mine = [b for b in bindings if (str(b.target_type), b.target_id) == target]
    return max(mine, key=lambda b: b.bound_at) if mine else None


def _why_gone(binding: ChatBinding | None) -> str:
    """The reason a row to a target with no chat now ends failed, never sent: the bot removed
    from the group (or the chat gone) keeps the word Telegram's refusal has (`kicked`,
    `chat_not_found`), so reports name it as they name a refused copy; else `unlinked`."""
    reason = binding.unbound_reason if binding is not None else None
    if reason == "chat_not_found":
        return "chat_not_found: the group is gone and its target has no group now"
    if reason in BOT_REMOVED:
        return "kicked: the bot was removed from the group and its target has no group now"
    return UNLINKED


async def resolve(session: AsyncSession, rows: Sequence[OutboxEntry]) -> Addressing:
    """Where each claimed group row must go now (see the module's docstring)."""
    groups = [r for r in rows if r.chat_id < 0]
    if not groups:
        return Addressing()
    repo = OutboxRepository(session)
    by_chat: dict[int, list[ChatBinding]] = {}
    for b in await repo.bindings_of_chats({r.chat_id for r in groups}):
        by_chat.setdefault(b.chat_id, []).append(b)
    meant: dict[int, Target] = {}
    for row in groups:
        if row.target_type is not None and row.target_id is not None:
            meant[row.id] = (row.target_type, row.target_id)
            continue
        history = by_chat.get(row.chat_id, [])
        binding = _binding_at(history, row.created_at) or _ended_before(history, row.created_at)
        if binding is not None and not binding.active:
            meant[row.id] = (str(binding.target_type), binding.target_id)
    if not meant:
        return Addressing()
    current = await repo.active_chats_of(set(meant.values()))
    out = Addressing()
    for row in groups:
        target = meant.get(row.id)
        if target is None:
            continue
        chat = current.get(target)
        if chat is None:
            out.unreachable[row.id] = _why_gone(
                _last_binding_to(by_chat.get(row.chat_id, []), target)
            )
        elif chat != row.chat_id:
            out.moved[row.id] = chat
            out.targets[row.id] = target
    return out


@dataclass
class ReaddressHooks:
    hooks: dict[str, ReaddressHook] = field(default_factory=dict)

    def register(self, origin_type: str, hook: ReaddressHook) -> None:
        self.hooks[origin_type] = hook

    async def run(
        self, session: AsyncSession, rows: Sequence[OutboxEntry], moved: dict[int, int]
    ) -> None:
        by_origin: dict[str, dict[int, int]] = {}
        for row in rows:
            if row.id in moved and row.origin_type in self.hooks:
                by_origin.setdefault(row.origin_type, {})[row.id] = moved[row.id]
        for origin, mine in by_origin.items():
            await self.hooks[origin](session, mine)


default_readdress_hooks = ReaddressHooks()


def on_readdress(origin_type: str, hook: ReaddressHook) -> None:
    """`hook(session, {row id: new chat id})` runs in the claim's transaction when rows of
    `origin_type` were addressed to their target's new chat."""
    default_readdress_hooks.register(origin_type, hook)


async def apply(
    session: AsyncSession, rows: Sequence[OutboxEntry], token: str, now: datetime
) -> set[int]:
    """Resolve the claimed rows' addresses and act on them; the ids no longer to send now."""
    found = await resolve(session, rows)
    if not found.moved and not found.unreachable:
        return set()
    repo = OutboxRepository(session)
    if found.moved:
        await repo.readdress_claimed(found.moved, found.targets, token, now)
        await default_readdress_hooks.run(session, rows, found.moved)
        log.info("%d message(s) readdressed to their target's current chat", len(found.moved))
    if found.unreachable:
        await repo.fail_claimed(found.unreachable, token, now)
        log.info("%d message(s) to a target with no chat now: failed", len(found.unreachable))
    return set(found.moved) | set(found.unreachable)
