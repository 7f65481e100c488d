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
* The bot removed or kicked: the binding goes inactive and the district's admins are told.
* A group upgraded to a supergroup keeps its binding (the chat id is updated).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import CatalogI18n, pick_locale
from bot.outbox.service import OutboxKind, OutboxMessage, enqueue
from bot.services import audit
from bot.services.policy import Action, Actor, Refused, Target, can, require
from storage.models import ChatBinding, LinkCode
from storage.models.org import TargetType
from storage.repositories.access import AccessRepository
from storage.repositories.users import UserRepository

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
class TargetInfo:
    target: Target
    label: str
    active: bool = True


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
class LinkOutcome:
    target: TargetInfo
    already: bool = False
    moved_from_chat: str | None = None  # the target's previous chat, now unbound
    replaced_target: str | None = None  # the chat's previous target, when re-pointed


@dataclass(frozen=True)
class UnbindOutcome:
    binding_id: int
    target_label: str
    chat_title: str
    district_id: int
    admin_ids: tuple[int, ...]


async def describe(session: AsyncSession, target_type: str, target_id: int) -> TargetInfo | None:
    """The target's policy view and display label, or None when it does not exist."""
    repo = AccessRepository(session)
    try:
        kind = TargetType(target_type)
    except ValueError:  # forged callback data
        return None
    if kind is TargetType.BRANCH:
        branch = await repo.branch(target_id)
        if branch is None:
            return None
        return TargetInfo(Target.branch(branch), branch.name, branch.active)
    if kind in (TargetType.UNIT, TargetType.COMMITTEE):
        unit = await repo.unit(target_id)
        if unit is None or unit.district_id is None:
            return None
        target = Target.unit(unit)
        if target.type is not kind:
            return None
        return TargetInfo(target, unit.name, unit.active)
    group = await repo.working_group(target_id)
    if group is None:
        return None
    return TargetInfo(Target.working_group(group), group.name, group.active)


async def resolve_code_spec(session: AsyncSession, spec: str) -> TargetInfo | None:
    """A branch, unit, working-group or district code as typed after /linkcode."""
    repo = AccessRepository(session)
    code = spec.strip().upper()
    branch = await repo.branch_by_code(code)
    if branch is not None:
        return await describe(session, TargetType.BRANCH, branch.id)
    unit = await repo.unit_by_code(code)
    if unit is not None:
        kind = TargetType.COMMITTEE if unit.id == unit.district_id else TargetType.UNIT
        return await describe(session, kind, unit.id)
    group = await repo.working_group_by_code(code)
    if group is not None:
        return await describe(session, TargetType.WORKING_GROUP, group.id)
    return None


async def own_targets(session: AsyncSession, actor: Actor) -> list[TargetInfo]:
    """Targets the person may link without typing a code: branches they lead, groups they lead."""
    out: list[TargetInfo] = []
    for branch_id in actor.led_branch_ids():
        info = await describe(session, TargetType.BRANCH, branch_id)
        if info is not None and info.active:
            out.append(info)
    for seat in actor.groups:
        if seat.leader:
            info = await describe(session, TargetType.WORKING_GROUP, seat.group_id)
            if info is not None and info.active:
                out.append(info)
    return out


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
        target_type=info.target.type.value,
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


def _binding_snapshot(binding: ChatBinding) -> dict[str, Any]:
    return {
        "chat_id": binding.chat_id,
        "chat_title": binding.chat_title,
        "target_type": binding.target_type,
        "target_id": binding.target_id,
        "active": binding.active,
        "unbound_reason": binding.unbound_reason,
    }


async def _unbind(
    session: AsyncSession, binding: ChatBinding, reason: str, actor_id: int | None, now: datetime
) -> None:
    before = _binding_snapshot(binding)
    binding.active = False
    binding.unbound_at = now
    binding.unbound_reason = reason
    await session.flush()
    await audit.record(
        session,
        action="chat.unlink",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=before,
        after=_binding_snapshot(binding),
        actor_id=actor_id,
        district_id=binding.district_id,
    )


async def link_chat(
    session: AsyncSession,
    *,
    code: str,
    chat: ChatInfo,
    sender: Actor,
    sender_is_chat_admin: bool,
    now: datetime,
) -> LinkOutcome:
    """`/link CODE` in a group: every check passes before anything is written."""
    if chat.type not in GROUP_CHAT_TYPES:
        raise Refused("link.not_group")
    if not sender_is_chat_admin:
        raise Refused("link.not_chat_admin")
    normalized = normalize_code(code)
    if normalized is None:
        raise Refused("link.code_unknown")
    repo = AccessRepository(session)
    row = await repo.link_code_by_hash(code_hash(normalized))
    if row is None:
        raise Refused("link.code_unknown")
    if row.used_at is not None:
        raise Refused("link.code_used")
    if row.expires_at <= now:
        raise Refused("link.code_expired")
    info = await describe(session, row.target_type, row.target_id)
    if info is None or not info.active:
        raise Refused("link.target_gone")

    current = await repo.binding_for_chat(chat.id)
    if current is not None and (current.target_type, current.target_id) == (
        info.target.type.value,
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
    existing = await repo.binding_for_target(info.target.type.value, info.target.id)

    # All checks passed: write.
    if current is not None:
        await _unbind(session, current, "retargeted", sender.telegram_id, now)
    moved_from: str | None = None
    if existing is not None and existing.chat_id != chat.id:
        moved_from = existing.chat_title or str(existing.chat_id)
        await _unbind(session, existing, "moved", sender.telegram_id, now)
    binding = ChatBinding(
        chat_id=chat.id,
        chat_title=chat.title[:256],
        target_type=info.target.type.value,
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
    await audit.record(
        session,
        action="chat.link",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=None,
        after=_binding_snapshot(binding) | {"moved_from_chat": moved_from},
        actor_id=sender.telegram_id,
        district_id=binding.district_id,
    )
    return LinkOutcome(target=info, moved_from_chat=moved_from, replaced_target=replaced)


async def bot_left(
    session: AsyncSession, *, chat_id: int, reason: str, actor_id: int | None, now: datetime
) -> UnbindOutcome | None:
    """The bot was removed or kicked: the binding goes inactive; who to tell is returned."""
    repo = AccessRepository(session)
    binding = await repo.binding_for_chat(chat_id)
    if binding is None:
        return None
    info = await describe(session, binding.target_type, binding.target_id)
    await _unbind(session, binding, reason, actor_id, now)
    admins = await repo.district_admins(binding.district_id)
    return UnbindOutcome(
        binding_id=binding.id,
        target_label=info.label if info is not None else binding.target_type,
        chat_title=binding.chat_title,
        district_id=binding.district_id,
        admin_ids=tuple(dict.fromkeys(a.telegram_id for a in admins)),
    )


async def notify_unbound(
    session: AsyncSession,
    outcome: UnbindOutcome,
    i18n: CatalogI18n,
    *,
    fallback_ids: Collection[int] = (),
) -> list[int]:
    """Tell the district's admins (or the bootstrap admins if it has none) via the outbox.

    Enqueued in the caller's transaction: the notice goes out only if the unbinding commits.
    """
    recipients = list(outcome.admin_ids) or sorted(fallback_ids)
    users = UserRepository(session)
    for admin_id in recipients:
        user = await users.get(admin_id)
        locale = pick_locale(
            user.language if user else None,
            user.telegram_language if user else None,
            i18n.default_locale,
        )
        text = i18n.t(
            "link.admin_bot_removed",
            locale,
            chat=escape(outcome.chat_title),
            target=escape(outcome.target_label),
        )
        await enqueue(
            session,
            OutboxMessage(
                chat_id=admin_id,
                kind=OutboxKind.INTERACTIVE,
                text=text,
                origin_type="chat_binding",
                origin_id=outcome.binding_id,
                dedupe_key=f"unbound:{outcome.binding_id}:{admin_id}",
            ),
        )
    return recipients


async def chat_migrated(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int, now: datetime
) -> bool:
    """A group became a supergroup: its binding follows the new chat id (idempotent)."""
    repo = AccessRepository(session)
    binding = await repo.binding_for_chat(old_chat_id)
    if binding is None or old_chat_id == new_chat_id:
        return False
    if await repo.binding_for_chat(new_chat_id) is not None:
        return False
    before = _binding_snapshot(binding)
    binding.chat_id = new_chat_id
    await session.flush()
    await audit.record(
        session,
        action="chat.migrate",
        entity_type="chat_binding",
        entity_id=binding.id,
        before=before,
        after=_binding_snapshot(binding),
        district_id=binding.district_id,
    )
    return True


async def binding_of(session: AsyncSession, chat_id: int) -> TargetInfo | None:
    """What a chat is bound to, for the group's own greeting and status."""
    binding = await AccessRepository(session).binding_for_chat(chat_id)
    if binding is None:
        return None
    return await describe(session, binding.target_type, binding.target_id)
