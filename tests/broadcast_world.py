"""The small organisation of `tests.orgdata`, set up for broadcasts.

Chats: B01's group is linked (G_B1); B02 never had one; B03's was linked until the bot was
kicked; B04 (T01U02, agency) is linked (G_B4) and its secretary is SEC1 again (one person, two
branches); B05 (T01U02, health) has no secretary and no group. Unit T01U01's committee chat is
linked (G_U1), T01U02's is not; the working group's chat is linked (G_WG). SEC1 has a private
chat with the bot, SEC2 never wrote to it, SEC3 blocked it. COMMUNE_ADMIN administers T01U01
only. The admin's message to copy is message 10 of their private chat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.i18n import create_i18n
from bot.services import broadcasts as bc
from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from storage.db import create_session_factory
from storage.models import (
    Branch,
    Broadcast,
    BroadcastRecipient,
    ChatBinding,
    CommitteeAdmin,
    Member,
    OutboxEntry,
    TelegramUser,
)
from tests import orgdata as o
from tests.helpers import FakeClock, local

COMMUNE_ADMIN = 910
G_B1, G_B3_OLD, G_B4, G_U1, G_WG = -1001, -1003, -1004, -2001, -3001
SOURCE_ID = 10


@dataclass
class BcWorld:
    org: o.Org
    b4: int
    b5: int
    factory: async_sessionmaker[AsyncSession]
    clock: FakeClock
    ctx: ServiceContext

    async def actor(self, telegram_id: int, s: AsyncSession | None = None) -> Actor:
        if s is not None:
            return await load_actor(s, telegram_id)
        async with self.factory() as s2:
            return await load_actor(s2, telegram_id)

    async def draft(
        self,
        audience: bc.Audience | None = None,
        *,
        by: int = o.ADMIN,
        kind: str = "text",
        ids: tuple[int, ...] = (SOURCE_ID,),
        **options: Any,
    ) -> int:
        """A draft with an audience (all branch groups by default) and options, committed."""
        async with self.factory() as s, s.begin():
            actor = await self.actor(by, s)
            b = await bc.start_draft(
                s, self.ctx, actor, self.org.district, bc.Source(by, ids, kind, "Hướng dẫn số 1")
            )
            await bc.set_audience(
                s,
                self.ctx,
                actor,
                b.id,
                audience or bc.Audience(parts={bc.AudiencePart.ALL_BRANCH_GROUPS}),
            )
            if options:
                defaults: dict[str, Any] = {
                    "ack_required": False,
                    "ack_deadline": None,
                    "pin": False,
                    "send_at": None,
                }
                await bc.set_options(s, self.ctx, actor, b.id, **{**defaults, **options})
            return b.id

    async def send(self, broadcast_id: int, *, by: int = o.ADMIN) -> Broadcast:
        async with self.factory() as s, s.begin():
            actor = await self.actor(by, s)
            b = await bc.get(s, actor, broadcast_id)
            return await bc.send(s, self.ctx, actor, broadcast_id, b.version)

    async def outbox(self, origin: str = "broadcast") -> list[OutboxEntry]:
        async with self.factory() as s:
            stmt = select(OutboxEntry).where(OutboxEntry.origin_type == origin)
            return list(await s.scalars(stmt.order_by(OutboxEntry.id)))

    async def recipients(self, broadcast_id: int) -> list[BroadcastRecipient]:
        async with self.factory() as s:
            stmt = select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id)
            return list(await s.scalars(stmt.order_by(BroadcastRecipient.id)))

    async def broadcast(self, broadcast_id: int) -> Broadcast:
        async with self.factory() as s:
            b = await s.get(Broadcast, broadcast_id)
            assert b is not None
            return b

    async def deliver(self, chat_ids: Iterable[int] | None = None, **values: Any) -> None:
        """Play the sender: the broadcast rows of these chats (all) end with `values`
        (default: sent, each with a message id)."""
        async with self.factory() as s, s.begin():
            rows = list(await s.scalars(select(OutboxEntry).where(OutboxEntry.state == "pending")))
            wanted = None if chat_ids is None else set(chat_ids)
            for row in rows:
                if wanted is not None and row.chat_id not in wanted:
                    continue
                vals = values or {"state": "sent", "telegram_message_id": 500 + row.id}
                vals = {"finished_at": self.clock.now(), **vals}
                await s.execute(update(OutboxEntry).where(OutboxEntry.id == row.id).values(**vals))


async def bc_world(engine: AsyncEngine) -> BcWorld:
    """Monday 23/11/2026 11:00 in Hà Nội."""
    org = await o.build_org(engine)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():

        def branch(code: str, name: str, kind: str) -> Branch:
            return Branch(
                code=code,
                name=name,
                unit_id=org.u2,
                district_id=org.district,
                kind=kind,
                meeting_day=5,
                meeting_time=time(19, 30),
            )

        b4 = branch("T01U02B04", "Chi bộ Cơ quan Xã Bình", "agency")
        b5 = branch("T01U02B05", "Chi bộ Trạm y tế Bình", "health")
        s.add_all([b4, b5])
        await s.flush()
        m11 = Member(
            code="M11",
            full_name="Nguyễn Văn Bí",
            branch_id=b4.id,
            district_id=org.district,
            role="secretary",
            telegram_id=o.SEC1,
        )
        s.add(m11)
        await s.flush()
        org.members["M11"] = m11.id
        d = org.district
        s.add_all(
            [
                ChatBinding(chat_id=G_B1, target_type="branch", target_id=org.b1, district_id=d),
                ChatBinding(
                    chat_id=G_B3_OLD,
                    target_type="branch",
                    target_id=org.b3,
                    district_id=d,
                    active=False,
                    unbound_reason="bot_kicked",
                ),
                ChatBinding(chat_id=G_B4, target_type="branch", target_id=b4.id, district_id=d),
                ChatBinding(chat_id=G_U1, target_type="unit", target_id=org.u1, district_id=d),
                ChatBinding(
                    chat_id=G_WG, target_type="working_group", target_id=org.wg, district_id=d
                ),
                TelegramUser(id=o.SEC1, first_name="Bí"),
                TelegramUser(id=o.SEC3, first_name="Ba", reachable=False),
                TelegramUser(id=o.ADMIN, first_name="Quản trị", language="vi"),
                CommitteeAdmin(district_id=d, unit_id=org.u1, telegram_id=COMMUNE_ADMIN),
            ]
        )
    clock = FakeClock(local(2026, 11, 23, 11))
    ctx = ServiceContext(clock, create_i18n("vi"), "vi")
    return BcWorld(org, b4.id, b5.id, factory, clock, ctx)
