"""Deliveries to a group go to the chat its target has when they leave, never a former one.

A row queued for a branch's, unit's, working group's or the committee's group carries that
group's chat id as it was at queue time; a scheduled broadcast, a retried one, a reminder or
a nudge may leave hours or days later, after the target relinked (`/linkcode`, `/link`) or
unlinked its group. The address is the target the chat stood for when the row was queued
(the chat's binding then, from `chat_bindings`' history), resolved again right after a sender
claims the row:

- the target still has that chat: it goes;
- the target has another chat now: the row goes back to `pending`, addressed there (and its
  feature hears of it, `on_readdress`, e.g. a broadcast's recipient follows);
- the target has no chat because a person unlinked or moved its group: the row ends `failed`
  with reason `unlinked` (reported as not delivered, never sent to the former chat);
- the target has no chat because the bot was removed from the group (kicked, left, the chat
  gone): the row goes as it is and fails with Telegram's own, more precise, reason.

Rows to a chat that was not bound to anything when they were queued go as they are, and
private chats are people, not targets.
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


@dataclass(frozen=True)
class Addressing:
    moved: dict[int, int] = field(default_factory=dict)  # row id -> the target's chat now
    unreachable: dict[int, str] = field(default_factory=dict)  # row id -> reason


def _binding_at(bindings: Sequence[ChatBinding], at: datetime) -> ChatBinding | None:
    """The binding the chat had at `at` (bound then and not yet unbound)."""
    for b in sorted(bindings, key=lambda b: b.bound_at, reverse=True):
        if b.bound_at <= at and (b.unbound_at is None or at < b.unbound_at):
            return b
    return None


async def resolve(session: AsyncSession, rows: Sequence[OutboxEntry]) -> Addressing:
    """Where each claimed group row must go now (see the module's docstring)."""
    groups = [r for r in rows if r.chat_id < 0]
    if not groups:
        return Addressing()
    repo = OutboxRepository(session)
    by_chat: dict[int, list[ChatBinding]] = {}
    for b in await repo.bindings_of_chats({r.chat_id for r in groups}):
        by_chat.setdefault(b.chat_id, []).append(b)
    meant: dict[int, tuple[str, int]] = {}
    removed: set[int] = set()
    for row in groups:
        binding = _binding_at(by_chat.get(row.chat_id, []), row.created_at)
        if binding is not None and not binding.active:
            meant[row.id] = (str(binding.target_type), binding.target_id)
            if binding.unbound_reason in BOT_REMOVED:
                removed.add(row.id)
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
            if row.id not in removed:
                out.unreachable[row.id] = UNLINKED
        elif chat != row.chat_id:
            out.moved[row.id] = chat
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
        await repo.readdress_claimed(found.moved, token, now)
        await default_readdress_hooks.run(session, rows, found.moved)
        log.info("%d message(s) readdressed to their target's current chat", len(found.moved))
    if found.unreachable:
        await repo.fail_claimed(found.unreachable, token, now)
        log.info("%d message(s) to a target with no chat now: failed", len(found.unreachable))
    return set(found.moved) | set(found.unreachable)
