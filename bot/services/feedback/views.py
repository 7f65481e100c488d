"""One item as a card or a detail screen shows it: the item with its branch, level, files and
history, loaded once, and whether the reader may act on it or answer for its submitter.

Who may see an item: its submitter, the branch's secretary and deputies, the people who may act
at its level (the level's chat included), and the district's admins. Everyone else is told the
item is not theirs: a forged id shows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.feedback.common import FeedbackError, item_number
from bot.services.feedback.levels import Level, acts_at, leads, level_holding
from storage.models import Branch, FeedbackEvent, FeedbackFile, FeedbackItem
from storage.models.feedback import OptionKind, RaisedAs
from storage.repositories.feedback import FeedbackRepository


@dataclass(frozen=True)
class ItemView:
    item: FeedbackItem
    number: str  # KN-2026-0042
    branch: Branch
    unit_name: str
    level: Level
    category_code: str
    category_name: str  # as the district's list names it
    submitter: str  # the member's name, "" when raised by someone outside the branch
    files: tuple[FeedbackFile, ...]
    events: tuple[FeedbackEvent, ...]
    can_act: bool = False  # the reader may act at the level (in private, or from its chat)
    speaks_for_submitter: bool = False  # the reader may accept, reopen, give details

    @property
    def last_info(self) -> str | None:
        """The submitter's latest details, when asked for some."""
        for e in reversed(self.events):
            if e.action == "info":
                return e.text
        return None


def speaks_for_submitter(actor: Actor, item: FeedbackItem) -> bool:
    """The submitter, or, for an item raised on the branch's behalf, its secretary or deputy."""
    if item.raised_by_tg is not None and item.raised_by_tg == actor.telegram_id:
        return True
    return item.raised_as != RaisedAs.MEMBER and leads(actor, item.branch_id)


async def build_view(
    session: AsyncSession,
    item: FeedbackItem,
    actor: Actor | None = None,
    via_chat: int | None = None,
) -> ItemView:
    repo = FeedbackRepository(session)
    branch = await repo.branch(item.branch_id)
    unit = await repo.unit(item.unit_id)
    assert branch is not None and unit is not None
    level = await level_holding(session, item)
    categories = await repo.options(item.district_id, OptionKind.CATEGORY, active_only=False)
    name = next((c.name for c in categories if c.code == item.category), item.category)
    member = await repo.member(item.raised_by_member_id) if item.raised_by_member_id else None
    return ItemView(
        item=item,
        number=item_number(item.year, item.number),
        branch=branch,
        unit_name=unit.name,
        level=level,
        category_code=item.category,
        category_name=name,
        submitter=member.full_name if member is not None else "",
        files=tuple(await repo.files(item.id)),
        events=tuple(await repo.events(item.id)),
        can_act=actor is not None and acts_at(actor, level, via_chat),
        speaks_for_submitter=actor is not None and speaks_for_submitter(actor, item),
    )


async def item_view(
    session: AsyncSession, actor: Actor, item_id: int, *, via_chat: int | None = None
) -> ItemView:
    """The item for a card or a detail screen, if `actor` may see it; else `fb.not_your_level`
    (also for an id that does not exist: a forged button learns nothing)."""
    item = await FeedbackRepository(session).item(item_id)
    if item is None:
        raise FeedbackError("fb.not_your_level")
    view = await build_view(session, item, actor, via_chat)
    if not (
        view.can_act
        or view.speaks_for_submitter
        or leads(actor, item.branch_id)
        or actor.is_admin_of(item.district_id)
    ):
        raise FeedbackError("fb.not_your_level")
    return view
