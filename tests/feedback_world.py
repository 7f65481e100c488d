"""The small organisation of `orgdata` set up for feedback: the branch B01's group, commune
T01U01's group (UNIT_CHAT) and the district committee's group (COMMITTEE_CHAT) linked; commune
T01U02 has no group, so its cards go to the district's admin in private. UNIT_OFFICER and
DISTRICT_OFFICER are not in the organisation: they act by pressing cards in their chats. Every
person has written to the bot, so every private notice is queued.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.services.access.policy import Actor, load_actor
from bot.services.feedback.common import FeedbackError
from bot.services.feedback.items import FileRef, NewItem, categories, departments, raise_item
from storage.models import (
    AuditLog,
    ChatBinding,
    FeedbackCounter,
    FeedbackEvent,
    FeedbackFile,
    FeedbackItem,
    FeedbackOption,
    HeardProposal,
    OutboxEntry,
    TelegramUser,
)
from tests.orgdata import (
    ADMIN,
    ADMIN_OTHER,
    DEP1,
    MEM1,
    SEC1,
    SEC2,
    SEC3,
    SEC_OTHER,
    WG_LEADER,
    WG_MEMBER,
    MeetingWorld,
    meeting_world,
)

BRANCH_CHAT = -100101  # B01's group
UNIT_CHAT = -100201  # commune T01U01's group
COMMITTEE_CHAT = -100300  # the district committee's group
OTHER_CHAT = -100999  # some other group
UNIT_OFFICER, DISTRICT_OFFICER = 601, 602
PEOPLE = (SEC1, DEP1, MEM1, ADMIN, SEC2, SEC3, WG_LEADER, WG_MEMBER, SEC_OTHER, ADMIN_OTHER)
T = TypeVar("T")


@dataclass
class FeedbackWorld:
    w: MeetingWorld

    @property
    def org(self) -> Any:
        return self.w.org

    async def actor(self, s: AsyncSession, who: int) -> Actor:
        return await load_actor(s, who)

    async def run(self, who: int, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        """`fn(session, ctx, actor, *args, **kw)` in one transaction, as `who`."""
        async with self.w.factory() as s, s.begin():
            return await fn(s, self.w.ctx, await self.actor(s, who), *args, **kw)

    async def refused(
        self, who: int, fn: Callable[..., Awaitable[Any]], *args: Any, **kw: Any
    ) -> FeedbackError:
        """The refusal, with the transaction COMMITTED afterwards: a write made before the
        refusal would stay, so `state()` unchanged proves nothing was written."""
        async with self.w.factory() as s, s.begin():
            actor = await self.actor(s, who)
            with pytest.raises(FeedbackError) as info:
                await fn(s, self.w.ctx, actor, *args, **kw)
        return info.value

    async def read(self, fn: Callable[..., Awaitable[T]], *args: Any, **kw: Any) -> T:
        async with self.w.factory() as s, s.begin():
            return await fn(s, *args, **kw)

    async def raise_(
        self,
        who: int,
        branch_id: int | None = None,
        text: str = "Đường thôn bị hỏng, xin sửa",
        *,
        category: str = "infra",
        files: tuple[FileRef, ...] = (),
        on_behalf: bool = False,
        private: bool = False,
    ) -> FeedbackItem:
        new = NewItem(
            branch_id=branch_id or self.org.b1,
            category=category,
            text=text,
            files=files,
            on_behalf=on_behalf,
            private=private,
        )
        return await self.run(who, raise_item, new)

    async def item(self, item_id: int) -> FeedbackItem:
        async with self.w.factory() as s:
            item = await s.get(FeedbackItem, item_id)
            assert item is not None
            return item

    async def events(self, item_id: int) -> list[str]:
        async with self.w.factory() as s:
            rows = await s.scalars(
                select(FeedbackEvent.action)
                .where(FeedbackEvent.item_id == item_id)
                .order_by(FeedbackEvent.id)
            )
            return list(rows)

    async def outbox(self, chat_id: int | None = None, part: str = "") -> list[OutboxEntry]:
        """Queued messages (to `chat_id`) whose dedupe key contains `part`, oldest first; each
        rendered from the catalogs, never a bare key."""
        async with self.w.factory() as s:
            stmt = select(OutboxEntry).order_by(OutboxEntry.id)
            if chat_id is not None:
                stmt = stmt.where(OutboxEntry.chat_id == chat_id)
            rows = [r for r in await s.scalars(stmt) if part in (r.dedupe_key or "")]
        for r in rows:
            assert not (r.text or r.caption or "").startswith("fb."), r.text
            assert not any(b["text"].startswith("fb.") for b in buttons(r)), r.reply_markup
        return rows

    async def state(self) -> tuple[Any, ...]:
        """Everything a refused request must leave alone."""
        async with self.w.factory() as s:
            items = (await s.scalars(select(FeedbackItem).order_by(FeedbackItem.id))).all()
            counts = []
            for model in (
                FeedbackEvent,
                FeedbackFile,
                OutboxEntry,
                AuditLog,
                FeedbackCounter,
                FeedbackOption,
            ):
                counts.append(await s.scalar(select(func.count()).select_from(model)))
            heard = (await s.scalars(select(HeardProposal.feedback_id))).all()
            counters = (await s.scalars(select(FeedbackCounter.last))).all()
            return (
                [
                    (
                        i.id,
                        i.status,
                        i.level_type,
                        i.level_id,
                        i.version,
                        i.answer,
                        i.reopened,
                        i.question,
                        i.taken_by,
                        i.deadline,
                        i.close_reason,
                    )
                    for i in items
                ],
                counts,
                sorted(x or 0 for x in heard),
                sorted(counters),
            )


def buttons(entry: OutboxEntry) -> list[dict[str, str]]:
    markup = entry.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def callbacks(entry: OutboxEntry) -> list[str]:
    return [b["callback_data"] for b in buttons(entry)]


async def feedback_world(engine: AsyncEngine) -> FeedbackWorld:
    """Monday 23/11/2026 11:00 in Hà Nội (orgdata's meeting world), with the chats above."""
    users = [TelegramUser(id=i, first_name="x") for i in (*PEOPLE, UNIT_OFFICER, DISTRICT_OFFICER)]
    w = await meeting_world(engine, BRANCH_CHAT, users)
    async with w.factory() as s, s.begin():
        s.add_all(
            [
                ChatBinding(
                    chat_id=UNIT_CHAT,
                    target_type="unit",
                    target_id=w.org.u1,
                    district_id=w.org.district,
                ),
                ChatBinding(
                    chat_id=COMMITTEE_CHAT,
                    target_type="committee",
                    target_id=w.org.district,
                    district_id=w.org.district,
                ),
            ]
        )
        # The lists, as the first /feedback screen writes them.
        await categories(s, w.org.district)
        await departments(s, w.org.district)
    return FeedbackWorld(w)
