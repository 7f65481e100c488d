"""Who a broadcast reaches: the audience as chosen with buttons, resolved to chats.

Parts combine, and one rule decides the branches they speak about:

* the branch set is every active branch in the sender's scope (a commune admin: their
  commune), narrowed to `unit_ids` when UNIT_BRANCHES is chosen and to `kinds` when
  BRANCH_KINDS is chosen (both: the chosen kinds within the chosen units); ALL_BRANCH_GROUPS
  means no narrowing and wins over both;
* ALL_BRANCH_GROUPS, UNIT_BRANCHES or BRANCH_KINDS: the group chats of those branches;
* SECRETARIES: the secretaries of those branches, in private;
* UNIT_CHATS: the committee chats of the units (the chosen ones with UNIT_BRANCHES, else every
  unit in scope);
* WORKING_GROUPS: the working groups' chats (a commune admin: the groups covering the commune).

Each chat appears once. A recipient that cannot be reached is kept with its reason, so the
preview names it and the report counts it: `not_linked` (the branch, unit or group has no
group chat), `bot_removed` (it had one and the bot was removed or kicked), `no_private_chat`
(the secretary never opened a private chat with the bot, or blocked it), `no_secretary` (the
branch has no secretary on record). The catalog key of a reason is `bc.reason.<reason>`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, field_serializer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.broadcasts.common import BroadcastError, scope_of
from bot.services.vn_sort import vn_sorted
from storage.models import Branch
from storage.models.org import BranchKind, TargetType
from storage.repositories.broadcasts import BroadcastRepository

SECRETARY = "secretary"  # target type of a secretary reached in private (target id: member)
REMOVED_REASONS = frozenset({"bot_kicked", "bot_left", "kicked", "chat_not_found"})


class AudiencePart(enum.StrEnum):
    ALL_BRANCH_GROUPS = "all"
    UNIT_BRANCHES = "units"
    BRANCH_KINDS = "kinds"
    SECRETARIES = "secretaries"
    WORKING_GROUPS = "groups"
    UNIT_CHATS = "unit_chats"


BRANCH_GROUP_PARTS = frozenset(
    {AudiencePart.ALL_BRANCH_GROUPS, AudiencePart.UNIT_BRANCHES, AudiencePart.BRANCH_KINDS}
)


class Audience(BaseModel):
    """What the sender chose; stored as JSON on the broadcast (sorted lists)."""

    model_config = ConfigDict(frozen=True)

    parts: frozenset[AudiencePart]
    unit_ids: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()

    @field_serializer("parts", "unit_ids", "kinds")
    def _sorted(self, value: frozenset[object]) -> list[object]:
        return sorted(value, key=str)


@dataclass(frozen=True)
class Recipient:
    chat_id: int | None
    target_type: str  # branch / unit / working_group (group chats), secretary (private)
    target_id: int
    branch_id: int | None
    unit_id: int | None
    name: str
    reason: str | None  # set when it cannot be reached (see the module's docstring)

    @property
    def reachable(self) -> bool:
        return self.chat_id is not None


@dataclass(frozen=True)
class AudienceChoices:
    """What the audience buttons may offer this sender."""

    district_id: int
    units: tuple[tuple[int, str], ...]  # (unit id, name), in scope, by code
    kinds: tuple[str, ...]  # branch kinds present in scope
    whole_district: bool  # False for a commune admin


def reason_key(reason: str) -> str:
    return f"bc.reason.{reason}"


async def choices(session: AsyncSession, actor: Actor, district_id: int) -> AudienceChoices:
    scope = scope_of(actor, district_id)
    repo = BroadcastRepository(session)
    units = [u for u in await repo.units(district_id) if scope is None or u.id in scope]
    units = vn_sorted(units, key=lambda u: u.name)
    branches = await repo.branches(district_id, unit_ids=scope)
    present = {b.kind for b in branches}
    kinds = tuple(k.value for k in BranchKind if k.value in present)
    return AudienceChoices(
        district_id, tuple((u.id, u.name) for u in units), kinds, whole_district=scope is None
    )


async def resolve(
    session: AsyncSession, actor: Actor, district_id: int, audience: Audience
) -> list[Recipient]:
    """Every recipient the audience names in the sender's scope, unreachable ones included.

    A unit outside the scope (another commune, another district) is refused with
    `bc.other_unit`, an unknown kind with `bc.bad_kind`, an audience naming nobody with
    `bc.empty_audience`."""
    return await resolve_in(session, district_id, scope_of(actor, district_id), audience)


async def resolve_in(
    session: AsyncSession, district_id: int, scope: frozenset[int] | None, audience: Audience
) -> list[Recipient]:
    """`resolve` for a scope already decided (None: the whole district)."""
    repo = BroadcastRepository(session)
    parts = audience.parts
    if not parts:
        raise BroadcastError("bc.empty_audience")
    if not audience.kinds <= {k.value for k in BranchKind}:
        raise BroadcastError("bc.bad_kind")
    units = {u.id: u for u in await repo.units(district_id)}
    for unit_id in audience.unit_ids:
        if unit_id not in units or (scope is not None and unit_id not in scope):
            raise BroadcastError("bc.other_unit")
    in_scope = [u for u in units.values() if scope is None or u.id in scope]
    by_units = AudiencePart.UNIT_BRANCHES in parts and AudiencePart.ALL_BRANCH_GROUPS not in parts
    by_kinds = AudiencePart.BRANCH_KINDS in parts and AudiencePart.ALL_BRANCH_GROUPS not in parts
    if (by_units and not audience.unit_ids) or (by_kinds and not audience.kinds):
        raise BroadcastError("bc.empty_audience")
    unit_filter: set[int] | None = None if scope is None else set(scope)
    if by_units:
        unit_filter = set(audience.unit_ids)
    branches: list[Branch] = []
    if parts & (BRANCH_GROUP_PARTS | {AudiencePart.SECRETARIES}):
        branches = await repo.branches(
            district_id, unit_ids=unit_filter, kinds=audience.kinds if by_kinds else None
        )
    out: list[Recipient] = []
    if parts & BRANCH_GROUP_PARTS:
        out += await group_chats(
            repo, TargetType.BRANCH, [(b.id, b.id, b.unit_id, b.name) for b in branches]
        )
    if AudiencePart.SECRETARIES in parts:
        out += await _secretaries(repo, branches)
    if AudiencePart.UNIT_CHATS in parts:
        chosen = [u for u in in_scope if not by_units or u.id in audience.unit_ids]
        out += await group_chats(
            repo, TargetType.UNIT, [(u.id, None, u.id, u.name) for u in chosen]
        )
    if AudiencePart.WORKING_GROUPS in parts:
        groups = await repo.working_groups(district_id, covering=scope)
        out += await group_chats(
            repo, TargetType.WORKING_GROUP, [(g.id, None, None, g.name) for g in groups]
        )
    if not out:
        raise BroadcastError("bc.empty_audience")
    return _once_per_chat(out)


async def group_chats(
    repo: BroadcastRepository,
    target_type: TargetType,
    targets: list[tuple[int, int | None, int | None, str]],
) -> list[Recipient]:
    """(target id, branch id, unit id, name) -> each target's group chat, or why none (also
    how a scheduled broadcast finds, when its time comes, the groups linked after Gửi)."""
    ids = [t[0] for t in targets]
    chats = await repo.bindings(target_type, ids)
    reasons = await repo.last_unbind_reasons(target_type, [i for i in ids if i not in chats])
    out = []
    for target_id, branch_id, unit_id, name in targets:
        chat = chats.get(target_id)
        reason = None
        if chat is None:
            removed = reasons.get(target_id) in REMOVED_REASONS
            reason = "bot_removed" if removed else "not_linked"
        out.append(Recipient(chat, target_type, target_id, branch_id, unit_id, name, reason))
    return out


async def _secretaries(repo: BroadcastRepository, branches: list[Branch]) -> list[Recipient]:
    secretaries = {m.branch_id: m for m in await repo.leaders([b.id for b in branches])}
    reachable = await repo.reachable(m.telegram_id for m in secretaries.values() if m.telegram_id)
    out = []
    for branch in branches:
        member = secretaries.get(branch.id)
        if member is None:
            out.append(
                Recipient(
                    None, SECRETARY, 0, branch.id, branch.unit_id, branch.name, "no_secretary"
                )
            )
            continue
        name = f"{member.full_name} — {branch.name}"
        chat = member.telegram_id if member.telegram_id in reachable else None
        reason = None if chat is not None else "no_private_chat"
        out.append(Recipient(chat, SECRETARY, member.id, branch.id, branch.unit_id, name, reason))
    return out


def _once_per_chat(recipients: list[Recipient]) -> list[Recipient]:
    seen: set[int] = set()
    out = []
    for r in recipients:
        if r.chat_id is not None:
            if r.chat_id in seen:
                continue
            seen.add(r.chat_id)
        out.append(r)
    return out
