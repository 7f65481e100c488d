"""Binding group chats to a branch, unit, working group or the committee.

A person who may manage a target asks for a one-time code (valid 24 h) in private; a group
administrator types `/link CODE` in the group. Only the SHA-256 of a code is stored.

Decisions:
* One chat per target: linking a target that already has a chat moves the binding to the new
  chat (the old one is marked inactive with reason `moved`) and the reply says so.
* One target per chat: a chat already bound to another target is refused, unless the sender
  may also manage that current target (e.g. a committee admin, or the secretary of both), in
  which case the chat is re-pointed. So a stranger's valid code can never hijack a group.
* Linking a chat to the target it is already bound to changes nothing and keeps the code.
* Wrong codes are counted and, repeated, slowed then refused for a while
  (`bot.services.access.link_guard`); a wrong code never costs a getChatMember call.
* The bot's own life in the group (removed, upgraded) is `bot.services.access.chat_bindings`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n
from bot.services import audit
from bot.services.access import link_guard
from bot.services.access.chat_bindings import (
    binding_of,
    bot_removed,
    chat_migrated,
    snapshot,
    unbind,
)
from bot.services.access.link_targets import TargetInfo, describe, own_targets, resolve_code_spec
from bot.services.access.notices import local_time
from bot.services.access.policy import Action, Actor, Refused, can, require
from bot.services.vn_calendar import VN_TZ
from storage.models import ChatBinding, LinkCode
from storage.repositories.access import AccessRepository

__all__ = [
    "ChatInfo",
    "CodeRequest",
    "IssuedCode",
    "LinkOutcome",
    "TargetInfo",
    "WrongCode",
    "binding_of",
    "bot_removed",
    "chat_migrated",
    "describe",
    "issue_code",
    "link_chat",
    "new_code",
    "normalize_code",
    "own_targets",
    "request_code",
    "resolve_code_spec",
]

CODE_TTL = timedelta(hours=24)
# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
GROUP_CHAT_TYPES = frozenset({"group", "supergroup"})


def new_code() -> str:
    """An 8-character code shown as XXXX-XXXX (~39 bits, one-time, 24 h)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str | None:
    """Upper-case and drop spaces/dashes; None when it cannot be a code we issued."""
    raw = re.sub(r"[\s\-_.]", "", text).upper()
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def code_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    target: TargetInfo


@dataclass(frozen=True)
class ChatInfo:
    id: int
    type: str
    title: str


@dataclass(frozen=True)
class CodeRequest:
    """The answer to /linkcode: a code, a choice between targets, or how to use it."""

    issued: IssuedCode | None = None
    choices: list[TargetInfo] = field(default_factory=list)
    usage: bool = False


@dataclass(frozen=True)
class WrongCode:
    """A well-formed code that is not ours: counted, not raised, so the count commits with the
    update. `key`/`params` are the refusal the person reads."""

    key: str
    params: dict[str, str] = field(default_factory=dict)


# Asks Telegram whether the sender administers the chat (only once a code is right).
ChatAdminCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class LinkOutcome:
    target: TargetInfo
    already: bool = False
    moved_from_chat: str | None = None  # the target's previous chat, now unbound
    replaced_target: str | None = None  # the chat's previous target, when re-pointed


async def issue_code(
    session: AsyncSession, actor: Actor, target_type: str, target_id: int, now: datetime
) -> IssuedCode:
    """A fresh one-time code for a target the actor may link (re-checked: ids can be forged)."""
    info = await describe(session, target_type, target_id)
    if info is None or not info.active:
        raise Refused("linkcode.unknown_target")
    require(actor, Action.LINK_CHAT, info.target)
    code = new_code()
    row = LinkCode(
        code_hash=code_hash(normalize_code(code) or ""),
        target_type=info.target.type,
        target_id=info.target.id,
        district_id=info.target.district_id,
        created_by=actor.telegram_id,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="link_code.issue",
        entity_type="link_code",
        entity_id=row.id,
        before=None,
        after={"target_type": row.target_type, "target_id": row.target_id},
        actor_id=actor.telegram_id,
        district_id=row.district_id,
    )
    return IssuedCode(code=code, expires_at=row.expires_at, target=info)


async def request_code(
    session: AsyncSession, actor: Actor, spec: str, now: datetime
) -> CodeRequest:
    """/linkcode [CODE]: a code for the named target, or for the person's only own target; a
    choice when they lead several; the usage for admins with nothing of their own."""
    if spec:
        info = await resolve_code_spec(session, spec)
        if info is None:
            raise Refused("linkcode.unknown_code", code=spec)
        targets = [info]
    else:
        targets = await own_targets(session, actor)
    if not targets:
        if actor.is_any_admin:
            return CodeRequest(usage=True)
        raise Refused("policy.needs_secretary" if actor.known else "policy.unknown_person")
    if len(targets) > 1:
        return CodeRequest(choices=targets)
    only = targets[0].target
    return CodeRequest(issued=await issue_code(session, actor, only.type, only.id, now))


async def link_chat(
    session: AsyncSession,
    *,
    code: str,
    chat: ChatInfo,
    sender: Actor,
    chat_admin: ChatAdminCheck,
    now: datetime,
    i18n: CatalogI18n,
    anonymous: bool = False,
    tz: tzinfo = VN_TZ,
    fallback_admin_ids: Collection[int] = (),
) -> LinkOutcome | WrongCode:
    """`/link CODE` in a group: every check passes before anything is written.

    The chat's and the person's lock-out is checked first; a wrong code is counted (and the
    admins told once when it locks someone out) before any question to Telegram.
    `anonymous`: an administrator posting as the group, counted against the chat only.
    """
    if chat.type not in GROUP_CHAT_TYPES:
        raise Refused("link.not_group")
    who = link_guard.Subjects(chat.id, chat.title, None if anonymous else sender.telegram_id)
    await link_guard.check(session, who, now, tz)
    normalized = normalize_code(code)
    if normalized is None:
        raise Refused("link.code_unknown")  # not a guess: nothing we issue looks like it
    repo = AccessRepository(session)
    row = await repo.link_code_by_hash(code_hash(normalized))
    if row is None:
        current = await repo.binding_for_chat(chat.id)
        districts = [current.district_id] if current is not None else sorted(sender.districts)
        until = await link_guard.record_failure(
            session,
            who,
            now,
            district_ids=districts,
            i18n=i18n,
            tz=tz,
            fallback_admin_ids=fallback_admin_ids,
        )
        if until is not None:
            return WrongCode("link.locked", {"until": local_time(until, tz)})
        return WrongCode("link.code_unknown")
    if row.used_at is not None:
        raise Refused("link.code_used")
    if row.expires_at <= now:
        raise Refused("link.code_expired")
    if not await chat_admin():
        raise Refused("link.not_chat_admin")
    return await _bind(session, row, chat, sender, now)


async def _bind(
    session: AsyncSession, row: LinkCode, chat: ChatInfo, sender: Actor, now: datetime
) -> LinkOutcome:
    repo = AccessRepository(session)
    info = await describe(session, row.target_type, row.target_id)
    if info is None or not info.active:
        raise Refused("link.target_gone")
    current = await repo.binding_for_chat(chat.id)
    if current is not None and (current.target_type, current.target_id) == (
        info.target.type,
        info.target.id,
    ):
        return LinkOutcome(target=info, already=True)
    replaced: str | None = None
    if current is not None:
        other = await describe(session, current.target_type, current.target_id)
        other_label = other.label if other is not None else current.target_type
        if other is None or not can(sender, Action.LINK_CHAT, other.target):
            raise Refused("link.chat_bound_elsewhere", target=other_label)
        replaced = other_label
    existing = await repo.binding_for_target(info.target.type, info.target.id)

    # All checks passed: write.
    if current is not None:
        await unbind(session, current, "retargeted", sender.telegram_id, now)
    moved_from: str | None = None
    if existing is not None and existing.chat_id != chat.id:
        moved_from = existing.chat_title or str(existing.chat_id)
        await unbind(session, existing, "moved", sender.telegram_id, now)
    binding = ChatBinding(
        chat_id=chat.id,
        chat_title=chat.title[:256],
        target_type=info.target.type,
        target_id=info.target.id,
        district_id=info.target.district_id,
        active=True,
        bound_by=sender.telegram_id,
        bound_at=now,
    )
    session.add(binding)
    row.used_at = now
    row.used_in_chat = chat.id
    await session.flush()
    after: dict[str, Any] = snapshot(binding) | {"moved_from_chat": moved_from}
    await audit.record(
        session,
        action="chat.link",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=None,
        after=after,
        actor_id=sender.telegram_id,
        district_id=binding.district_id,
    )
    return LinkOutcome(target=info, moved_from_chat=moved_from, replaced_target=replaced)
