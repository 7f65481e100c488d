"""The small organisation of `orgdata` set up for nudges, with a clock the tests move.

District T01: commune T01U01 (branch B01: secretary SEC1, deputy DEP1; B02: secretary SEC2)
has its group linked (UNIT_CHAT); commune T01U02 (B03: SEC3) has none, so its escalations go
to the district's admin (ADMIN) in private. SEC2 and SEC3 never wrote to the bot: nobody can
remind them. District T02's admin never wrote to the bot either: nobody to tell there.
Meetings are written straight into the table (the features' own services do the things).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from bot.services.meetings import ReportInput, submit_report
from bot.services.meetings.plan import new_regular, rule_slot
from bot.services.nudges import SweepResult, sweep
from storage.models import (
    Branch,
    ChatBinding,
    Meeting,
    NudgeEvent,
    NudgeTrack,
    OutboxEntry,
    TelegramUser,
)
from tests.helpers import FakeClock, local
from tests.orgdata import (
    ADMIN,
    DEP1,
    MEM1,
    SEC1,
    SEC_OTHER,
    WG_LEADER,
    WG_MEMBER,
    MeetingWorld,
    meeting_world,
)

BRANCH_CHAT = -100101
UNIT_CHAT = -100201  # commune T01U01's group
BRANCH_CHAT_B2, BRANCH_CHAT_B3 = -100102, -100103
REACHABLE = (SEC1, DEP1, MEM1, ADMIN, WG_LEADER, WG_MEMBER, SEC_OTHER)


@dataclass
class NudgeWorld:
    w: MeetingWorld

    @property
    def org(self) -> Any:
        return self.w.org

    @property
    def factory(self) -> async_sessionmaker[AsyncSession]:
        return self.w.factory

    @property
    def clock(self) -> FakeClock:
        return self.w.clock

    @property
    def ctx(self) -> ServiceContext:
        return self.w.ctx

    def at(self, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> None:
        self.clock.t = local(y, mo, d, h, mi)

    async def sweep(self) -> SweepResult:
        async with self.factory() as s, s.begin():
            return await sweep(s, self.ctx)

    async def actor(self, s: AsyncSession, who: int) -> Actor:
        return await load_actor(s, who)

    async def meeting(
        self,
        branch_id: int,
        starts_at: datetime,
        *,
        status: str = "scheduled",
        kind: str = "extraordinary",
    ) -> int:
        async with self.factory() as s, s.begin():
            branch = await s.get(Branch, branch_id)
            assert branch is not None
            loc = starts_at.astimezone(self.ctx.tz)
            m = Meeting(
                branch_id=branch_id,
                district_id=branch.district_id,
                kind=kind,
                status=status,
                origin="secretary",
                period_year=loc.year,
                period_month=loc.month,
                starts_at=starts_at,
                place="Nhà văn hóa",
            )
            s.add(m)
            await s.flush()
            return m.id

    async def planned(self, branch_id: int, year: int, month: int) -> int:
        """The month's regular meeting as the plan job writes it (status planned)."""
        async with self.factory() as s, s.begin():
            branch = await s.get(Branch, branch_id)
            assert branch is not None
            m = new_regular(branch, rule_slot(branch.meeting_day, year, month), self.ctx.tz)
            s.add(m)
            await s.flush()
            return m.id

    async def report(self, who: int, meeting_id: int) -> None:
        async with self.factory() as s, s.begin():
            actor = await self.actor(s, who)
            await submit_report(
                s, actor, self.clock, meeting_id, ReportInput(present_count=1), i18n=self.ctx.i18n
            )

    async def nudges(self, chat_id: int | None = None) -> list[OutboxEntry]:
        """The nudge and escalation messages queued (to `chat_id`), oldest first; each
        rendered from the catalogs, never a bare key."""
        async with self.factory() as s:
            stmt = select(OutboxEntry).where(OutboxEntry.origin_type == "nudge")
            if chat_id is not None:
                stmt = stmt.where(OutboxEntry.chat_id == chat_id)
            rows = list(await s.scalars(stmt.order_by(OutboxEntry.id)))
        for r in rows:
            assert "nudge." not in (r.text or ""), r.text
            assert not any(b["text"].startswith("nudge.") for b in buttons(r)), r.reply_markup
        return rows

    async def events(self, step: str | None = None) -> list[NudgeEvent]:
        async with self.factory() as s:
            stmt = select(NudgeEvent).order_by(NudgeEvent.id)
            if step is not None:
                stmt = stmt.where(NudgeEvent.step == step)
            return list(await s.scalars(stmt))

    async def track(self, key: str) -> NudgeTrack | None:
        async with self.factory() as s:
            return (await s.scalars(select(NudgeTrack).where(NudgeTrack.key == key))).first()


def buttons(entry: OutboxEntry) -> list[dict[str, str]]:
    markup = entry.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def callbacks(entry: OutboxEntry) -> list[str]:
    return [b["callback_data"] for b in buttons(entry)]


async def nudge_world(engine: AsyncEngine, *, reachable: tuple[int, ...] = REACHABLE) -> NudgeWorld:
    """Monday 23/11/2026 11:00 in Hà Nội (orgdata's meeting world)."""
    users = [TelegramUser(id=i, first_name="x") for i in reachable]
    w = await meeting_world(engine, BRANCH_CHAT, users)
    async with w.factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=UNIT_CHAT,
                target_type="unit",
                target_id=w.org.u1,
                district_id=w.org.district,
            )
        )
        # B02 and B03 have joined the bot through their groups (a branch that has not
        # joined owes nothing), though their secretaries never wrote to it.
        for chat, branch in ((BRANCH_CHAT_B2, w.org.b2), (BRANCH_CHAT_B3, w.org.b3)):
            s.add(
                ChatBinding(
                    chat_id=chat, target_type="branch", target_id=branch, district_id=w.org.district
                )
            )
    return NudgeWorld(w)


def evening(y: int, mo: int, d: int) -> datetime:
    """19:30 local, the branches' usual meeting time."""
    return local(y, mo, d, 19, 30)
