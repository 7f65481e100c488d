"""Tying Telegram accounts to members: personal invite links and shared contacts.

Invites: a secretary (or deputy, or admin) creates a one-time deep link for one member,
`https://t.me/<bot>?start=<token>`, valid 7 days; only the token's SHA-256 is stored.

Contacts: a person shares their own contact with the request-contact button; the phone number
is normalised and matched to exactly one active member. A contact counts only when its
`user_id` is the sender's own id (anyone can forward somebody else's contact card).

Decisions: one Telegram account belongs to at most one active member, and a member who
already has an account can only be re-tied through an invite (the secretary's decision), never
by a contact (which would let a person with a recycled phone number take over the member).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import (
    Action,
    Actor,
    Refused,
    Target,
    load_actor,
    menu_roles,
    require,
)
from bot.services.phones import try_normalize_phone
from storage.models import Invite, Member
from storage.repositories.access import AccessRepository

INVITE_TTL = timedelta(days=7)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Payload prefix so /start links of other features can coexist with invites.
PAYLOAD_PREFIX = "i_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_url(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={PAYLOAD_PREFIX}{token}"


def token_from_payload(payload: str) -> str | None:
    """The invite token in a /start payload, or None when the payload is not an invite."""
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    token = payload[len(PAYLOAD_PREFIX) :]
    return token if TOKEN_RE.match(token) else ""


@dataclass(frozen=True)
class IssuedInvite:
    url: str
    token: str
    member_name: str
    branch_name: str
    expires_at: datetime


@dataclass(frozen=True)
class Joined:
    member_id: int
    full_name: str
    branch_name: str
    already: bool = False
    roles: list[str] = field(default_factory=list)  # the person's roles now, for their menu


async def create_invite(
    session: AsyncSession, actor: Actor, member_id: int, bot_username: str, now: datetime
) -> IssuedInvite:
    """A personal link for one member of a branch the actor manages (ids re-checked)."""
    repo = AccessRepository(session)
    member = await repo.member(member_id)
    if member is None or not member.active:
        raise Refused("invite.member_gone")
    branch = await repo.branch(member.branch_id)
    if branch is None or not branch.active:
        raise Refused("invite.member_gone")
    require(actor, Action.MANAGE_BRANCH, Target.branch(branch))
    token = secrets.token_urlsafe(18)
    row = Invite(
        token_hash=token_hash(token),
        member_id=member.id,
        district_id=member.district_id,
        created_by=actor.telegram_id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="invite.issue",
        entity_type="invite",
        entity_id=row.id,
        before=None,
        after={"member_id": member.id, "expires_at": row.expires_at},
        actor_id=actor.telegram_id,
        district_id=member.district_id,
    )
    return IssuedInvite(
        url=invite_url(bot_username, token),
        token=token,
        member_name=member.full_name,
        branch_name=branch.name,
        expires_at=row.expires_at,
    )


async def _tie(
    session: AsyncSession,
    member: Member,
    telegram_id: int,
    username: str | None,
    *,
    via: str,
    now: datetime,
) -> None:
    """Set the member's account, refusing if the account already belongs to another member."""
    repo = AccessRepository(session)
    for other, _branch in await repo.memberships(telegram_id):
        if other.id != member.id:
            raise Refused("join.account_taken", name=other.full_name)
    before = {"telegram_id": member.telegram_id, "telegram_username": member.telegram_username}
    member.telegram_id = telegram_id
    member.telegram_username = username
    member.updated_at = now
    await session.flush()
    await audit.record(
        session,
        action=f"member.telegram_link.{via}",
        entity_type="member",
        entity_id=member.id,
        before=before,
        after={"telegram_id": telegram_id, "telegram_username": username},
        actor_id=telegram_id,
        district_id=member.district_id,
    )


async def _with_roles(
    session: AsyncSession, joined: Joined, telegram_id: int, bootstrap_admin_ids: Collection[int]
) -> Joined:
    actor = await load_actor(session, telegram_id, bootstrap_admin_ids)
    return Joined(
        joined.member_id, joined.full_name, joined.branch_name, joined.already, menu_roles(actor)
    )


async def redeem_invite(
    session: AsyncSession,
    token: str,
    telegram_id: int,
    username: str | None,
    now: datetime,
    bootstrap_admin_ids: Collection[int] = (),
) -> Joined:
    """Tie the account to the invited member; unknown, used and expired tokens are refused.
    The result carries the person's new roles (their menu changes with them)."""
    joined = await _redeem(session, token, telegram_id, username, now)
    return await _with_roles(session, joined, telegram_id, bootstrap_admin_ids)


async def _redeem(
    session: AsyncSession, token: str, telegram_id: int, username: str | None, now: datetime
) -> Joined:
    if not token or not TOKEN_RE.match(token):
        raise Refused("invite.unknown")
    repo = AccessRepository(session)
    row = await repo.invite_by_hash(token_hash(token))
    if row is None:
        raise Refused("invite.unknown")
    if row.used_at is not None:
        if row.used_by == telegram_id:
            member = await repo.member(row.member_id)
            branch = await repo.branch(member.branch_id) if member is not None else None
            if member is not None and branch is not None and member.telegram_id == telegram_id:
                return Joined(member.id, member.full_name, branch.name, already=True)
        raise Refused("invite.used")
    if row.expires_at <= now:
        raise Refused("invite.expired")
    member = await repo.member(row.member_id)
    branch = await repo.branch(member.branch_id) if member is not None else None
    if member is None or branch is None or not member.active or not branch.active:
        raise Refused("invite.member_gone")
    await _tie(session, member, telegram_id, username, via="invite", now=now)
    row.used_at = now
    row.used_by = telegram_id
    await session.flush()
    return Joined(member.id, member.full_name, branch.name)


async def join_by_contact(
    session: AsyncSession,
    *,
    sender_id: int,
    contact_user_id: int | None,
    phone: str,
    username: str | None,
    now: datetime,
    bootstrap_admin_ids: Collection[int] = (),
) -> Joined:
    """Match a shared contact's phone to one active member and tie the sender's account; the
    result carries the person's new roles."""
    joined = await _join_by_contact(session, sender_id, contact_user_id, phone, username, now)
    return await _with_roles(session, joined, sender_id, bootstrap_admin_ids)


async def _join_by_contact(
    session: AsyncSession,
    sender_id: int,
    contact_user_id: int | None,
    phone: str,
    username: str | None,
    now: datetime,
) -> Joined:
    if contact_user_id != sender_id:
        raise Refused("contact.not_yours")
    normalized = try_normalize_phone(phone)
    if normalized is None:
        raise Refused("contact.bad_phone")
    repo = AccessRepository(session)
    matches = await repo.members_by_phone(normalized)
    if not matches:
        raise Refused("contact.no_match")
    if len(matches) > 1:
        raise Refused("contact.ambiguous")
    member = matches[0]
    branch = await repo.branch(member.branch_id)
    assert branch is not None
    if member.telegram_id == sender_id:
        return Joined(member.id, member.full_name, branch.name, already=True)
    if member.telegram_id is not None:
        raise Refused("contact.member_taken")
    await _tie(session, member, sender_id, username, via="contact", now=now)
    return Joined(member.id, member.full_name, branch.name)
