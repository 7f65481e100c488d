"""What a group chat can be linked to (a branch, unit, working group or the committee), and
how it is named: the targets of `linking` and `chat_bindings` (beside it in this package)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, Target
from storage.models.org import TargetType
from storage.repositories.access import AccessRepository


@dataclass(frozen=True)
class TargetInfo:
    target: Target
    label: str
    active: bool = True


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
