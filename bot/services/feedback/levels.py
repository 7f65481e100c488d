"""Levels: where an item sits, what is above it, and who may act there.

A level is a branch (its secretary decides whether to answer inside the branch or send it up),
a unit's committee, the district committee, or one of the district's departments. Going up:
branch -> its unit (a branch directly under the district committee goes to the district) ->
the district.

Who may act at a level: a committee admin of the district always; at a branch, its secretary
or deputy; at a unit, the district or a department, a known person pressing the item's card
inside the level's linked group chat. Anyone viewing a public supergroup can press its buttons,
and a person who left may still hold its messages: the handlers pass a press's chat as
`via_chat` only after Telegram said the presser is a current member of it
(`handlers.kit.presence`), so the committee never has to list who sits in a commune's group.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import LEADER_ROLES, Actor
from bot.services.feedback.common import FeedbackError
from storage.models import FeedbackItem
from storage.models.feedback import LevelType, OptionKind
from storage.models.org import TargetType
from storage.repositories.feedback import FeedbackRepository


@dataclass(frozen=True)
class LevelRef:
    type: LevelType
    id: int


@dataclass(frozen=True)
class Level:
    type: LevelType
    id: int
    district_id: int
    name: str
    chat_id: int | None  # the level's linked group chat; None: people act in private

    @property
    def ref(self) -> LevelRef:
        return LevelRef(self.type, self.id)


def ref_of(item: FeedbackItem) -> LevelRef:
    return LevelRef(LevelType(item.level_type), item.level_id)


async def find_level(session: AsyncSession, ref: LevelRef) -> Level | None:
    """The level a reference names, or None when it does not exist (or is inactive, or names
    a unit as the district, or the reverse)."""
    repo = FeedbackRepository(session)
    if ref.type is LevelType.BRANCH:
        branch = await repo.branch(ref.id)
        if branch is None or not branch.active:
            return None
        # A branch's group is its members' chat, not a place to decide: its level has no chat.
        return Level(ref.type, branch.id, branch.district_id, branch.name, None)
    if ref.type in (LevelType.UNIT, LevelType.DISTRICT):
        unit = await repo.unit(ref.id)
        if unit is None or not unit.active or unit.district_id is None:
            return None
        is_district = unit.id == unit.district_id
        if is_district != (ref.type is LevelType.DISTRICT):
            return None
        target = TargetType.COMMITTEE if is_district else TargetType.UNIT
        chat = await repo.chat_of(target, unit.id)
        return Level(ref.type, unit.id, unit.district_id, unit.name, chat)
    option = await repo.option(ref.id)
    if option is None or not option.active or option.kind != OptionKind.DEPARTMENT:
        return None
    return Level(ref.type, option.id, option.district_id, option.name, option.chat_id)


async def level_holding(session: AsyncSession, item: FeedbackItem) -> Level:
    """The item's level; a department switched off while holding items stays a level only
    the district's admins act at (and read as "?")."""
    level = await find_level(session, ref_of(item))
    if level is None:
        level = Level(LevelType(item.level_type), item.level_id, item.district_id, "?", None)
    return level


async def level_of(session: AsyncSession, ref: LevelRef) -> Level:
    """The level, or `fb.bad_target` when there is no such level."""
    level = await find_level(session, ref)
    if level is None:
        raise FeedbackError("fb.bad_target")
    return level


async def level_above(session: AsyncSession, ref: LevelRef) -> Level | None:
    """The next level up: a branch's unit (or the top committee, for a branch directly under
    it), a unit's parent committee; None above the top and for departments (they answer for
    the top committee, so nothing is above them but the top: forward there)."""
    repo = FeedbackRepository(session)
    if ref.type is LevelType.BRANCH:
        branch = await repo.branch(ref.id)
        if branch is None:
            return None
        unit = await repo.unit(branch.unit_id)
        if unit is None or unit.id == unit.district_id or not unit.active:
            return await find_level(session, LevelRef(LevelType.DISTRICT, branch.district_id))
        return await find_level(session, LevelRef(LevelType.UNIT, unit.id))
    if ref.type is LevelType.UNIT:
        unit = await repo.unit(ref.id)
        if unit is None or unit.district_id is None:
            return None
        # A deeper tree (a province's commune's grassroots organisation) goes up one committee
        # at a time: to the parent, the top committee's own level once the parent is the top.
        parent = await repo.unit(unit.parent_id) if unit.parent_id is not None else None
        if parent is not None and parent.id != unit.district_id and parent.active:
            return await find_level(session, LevelRef(LevelType.UNIT, parent.id))
        return await find_level(session, LevelRef(LevelType.DISTRICT, unit.district_id))
    return None


def leads(actor: Actor, branch_id: int) -> bool:
    """The actor is the branch's secretary or deputy."""
    return any(m.branch_id == branch_id and m.role in LEADER_ROLES for m in actor.memberships)


def acts_at(actor: Actor, level: Level, via_chat: int | None) -> bool:
    """`may_act` once the level is loaded (pure)."""
    if actor.is_admin_of(level.district_id):
        return True
    if level.type is LevelType.BRANCH:
        return leads(actor, level.id)
    if level.type is LevelType.UNIT and actor.is_unit_admin_of(level.id):
        return True  # a commune's own admin acts for its committee
    # `via_chat` is a press's chat only for a known current member (handlers.kit.presence).
    return via_chat is not None and level.chat_id is not None and via_chat == level.chat_id


async def may_act(
    session: AsyncSession, actor: Actor, item: FeedbackItem, via_chat: int | None
) -> bool:
    """Whether `actor` may act on `item` at the level that holds it now (a press from a card
    in another level's chat is not)."""
    return acts_at(actor, await level_holding(session, item), via_chat)
