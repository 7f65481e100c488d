"""The nudges end-to-end world: dan-phuong in the bot's database (the roster tests' template),
cut down to the communes working group 1 visits, the production bot polling the sandbox, and
a clock that travels two months in the sweep's steps.

Cast: every secretary of those communes (and of the group members' own branches) has written
to the bot except one (nobody can remind
them); most are diligent (they act on the first nudge, through its button), one forgets and
snoozes, one acts only the day after the level above was told. The group's visitors confirm
with the nudge's Xác nhận, one never does. The first commune's committee has its group
chat; the district has one admin. The scheduler's own sweep is taken out: the test runs it at
fixed hours, so each nudge's hour can be checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.app.jobs.nudges import sweep_job
from bot.app.jobs.rosters import drafts_job
from bot.scheduler import JobContext
from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from bot.services.rosters.review import publish
from bot.services.vn_calendar import to_local
from sandbox.testing import SandboxHandle, run_sandbox
from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    Member,
    NudgeEvent,
    NudgeTrack,
    OutboxEntry,
    Roster,
    TelegramUser,
    Unit,
    VisitProgram,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from tests.e2e.harness import BotEnv, running_bot
from tests.e2e.rosters_world import TG_BASE, Msg
from tests.helpers import local

START = local(2026, 12, 22, 9)
SWEEP_HOURS = (7, 9, 13, 17, 20, 22)  # 22:00 runs and must send nothing
ADMIN = 8_900_001
UNIT_CHAT = -1_001_300_001
SECRETARY_TG = TG_BASE + 500_000  # + member id


@dataclass
class Cast:
    district: int
    units: list[int]
    branches: dict[int, str]  # active branch id -> name
    secretaries: dict[int, int]  # branch id -> secretary's Telegram id (reachable ones)
    unreachable: int  # a joined branch whose secretary blocked the bot
    forgetful: int  # secretary's Telegram id: ignores, snoozes the first nudge
    late: int  # acts the day after the escalation
    group: int  # working group id
    leader: int  # its leader's Telegram id
    visitors: dict[int, int]  # member id -> Telegram id (the leader excluded)
    lazy_visitor: int  # Telegram id of the visitor who never confirms nor reports


@dataclass
class NudgeRun:
    env: BotEnv
    sandbox: SandboxHandle
    database_url: str
    clock: Any
    cast: Cast
    seen: dict[int, int] = field(default_factory=dict)  # chat -> last message id read

    @property
    def jobs(self) -> JobContext:
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        return component.ctx  # type: ignore[attr-defined, no-any-return]

    @property
    def ctx(self) -> ServiceContext:
        return self.jobs.services

    def now(self) -> datetime:
        return self.jobs.clock.now()

    async def actor(self, tg: int) -> Actor:
        async with self.env.app.session_factory() as s:
            return await load_actor(s, tg)

    async def sweep(self) -> None:
        await sweep_job(self.jobs)
        await self.delivered()

    async def delivered(self) -> None:
        await self.env.settle()
        # A group gets at most 20 messages a minute: the reports of a busy evening take a while.
        for _ in range(3000):
            async with self.env.app.session_factory() as s:
                states = ["pending", "claimed", "sending"]
                due = select(func.count()).where(
                    OutboxEntry.state.in_(states), OutboxEntry.next_attempt_at <= self.now()
                )
                if not await s.scalar(due):
                    await self.env.settle()
                    return
            with contextlib.suppress(TimeoutError):
                await self.env.world.wait_for(lambda: False, timeout=0.05)
        async with self.env.app.session_factory() as s:
            stuck = await s.scalars(
                select(OutboxEntry).where(OutboxEntry.state.in_(["pending", "claimed", "sending"]))
            )
            rows = [(r.id, r.chat_id, r.state, r.kind, r.next_attempt_at, r.error) for r in stuck]
        raise AssertionError(f"outbox not drained at {self.now()}: {rows}")

    def new(self, chat: int) -> list[Msg]:
        """The bot's messages in `chat` not read yet."""
        last = self.seen.get(chat, 0)
        msgs = [m for m in self.env.world.bot_messages(chat) if m["message_id"] > last]
        if msgs:
            self.seen[chat] = msgs[-1]["message_id"]
        return msgs

    async def events(self) -> list[NudgeEvent]:
        async with self.env.app.session_factory() as s:
            return list(await s.scalars(select(NudgeEvent).order_by(NudgeEvent.id)))

    async def tracks(self) -> dict[int, NudgeTrack]:
        async with self.env.app.session_factory() as s:
            return {t.id: t for t in await s.scalars(select(NudgeTrack))}

    async def restart(self) -> None:
        """The bot's process replaced: a new app on the same database and sandbox."""
        await self.env.stop()  # the dispatcher's shutdown stops the sender and the scheduler
        self.env = await _start(self.database_url, self.sandbox, self._stack)

    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)


async def _start(
    database_url: str, sandbox: SandboxHandle, stack: contextlib.AsyncExitStack
) -> BotEnv:
    env = await stack.enter_async_context(running_bot(database_url, sandbox=sandbox))
    for _ in range(500):
        if env.app.scheduler.running:
            break
        await env.world.wait_until_idle()
        with contextlib.suppress(TimeoutError):
            await env.world.wait_for(lambda: False, timeout=0.02)
    assert env.app.scheduler.running, "the app did not start"
    env.app.scheduler.remove_job("nudges.sweep")  # the test sweeps at its own hours
    return env


async def _cast(env: BotEnv) -> Cast:
    """Cut dan-phuong down to group 1's communes and give the secretaries their accounts."""
    async with env.app.session_factory() as s, s.begin():
        group = (await s.scalars(select(WorkingGroup).order_by(WorkingGroup.code))).first()
        assert group is not None and group.leader_member_id is not None
        units = sorted(
            await s.scalars(
                select(WorkingGroupUnit.unit_id).where(
                    WorkingGroupUnit.working_group_id == group.id
                )
            )
        )
        # The group's communes and its members' own branches stay; the rest closes.
        own = select(Member.branch_id).join(
            WorkingGroupMember, WorkingGroupMember.member_id == Member.id
        )
        await s.execute(
            update(Branch)
            .where(Branch.unit_id.not_in(units), Branch.id.not_in(own))
            .values(active=False)
        )
        branches = list(await s.scalars(select(Branch).where(Branch.active).order_by(Branch.id)))
        secretaries: dict[int, int] = {}
        unreachable = branches[-1].id
        for b in branches:
            sec = await s.scalar(
                select(Member)
                .where(Member.branch_id == b.id, Member.role == "secretary", Member.active)
                .order_by(Member.id)
            )
            assert sec is not None, b.code
            if b.id == unreachable:
                # Joined (its secretary has an account), but blocked the Trợ lý: nobody to remind.
                sec.telegram_id = sec.telegram_id or SECRETARY_TG + sec.id
                if await s.get(TelegramUser, sec.telegram_id) is None:
                    s.add(
                        TelegramUser(
                            id=sec.telegram_id,
                            first_name=sec.full_name.split()[-1],
                            reachable=False,
                        )
                    )
                continue
            if sec.telegram_id is None:
                sec.telegram_id = SECRETARY_TG + sec.id
            if await s.get(TelegramUser, sec.telegram_id) is None:
                s.add(TelegramUser(id=sec.telegram_id, first_name=sec.full_name.split()[-1]))
            secretaries[b.id] = sec.telegram_id
        unit = await s.get(Unit, units[0])
        assert unit is not None and unit.district_id is not None
        s.add_all(
            [
                CommitteeAdmin(district_id=unit.district_id, telegram_id=ADMIN),
                TelegramUser(id=ADMIN, first_name="Admin"),
                ChatBinding(
                    chat_id=UNIT_CHAT,
                    chat_title=unit.name,
                    target_type="unit",
                    target_id=unit.id,
                    district_id=unit.district_id,
                ),
            ]
        )
        seats = list(
            await s.scalars(
                select(Member)
                .join(WorkingGroupMember, WorkingGroupMember.member_id == Member.id)
                .where(WorkingGroupMember.working_group_id == group.id)
                .order_by(Member.id)
            )
        )
        leader = next(m for m in seats if m.id == group.leader_member_id)
        visitors = {m.id: m.telegram_id for m in seats if m.id != leader.id and m.telegram_id}
    reachable = sorted(secretaries.values())
    assert len(reachable) >= 4, reachable
    assert leader.telegram_id is not None
    return Cast(
        district=unit.district_id,
        units=units,
        branches={b.id: b.name for b in branches},
        secretaries=secretaries,
        unreachable=unreachable,
        forgetful=reachable[0],
        late=reachable[1],
        group=group.id,
        leader=leader.telegram_id,
        visitors=visitors,
        lazy_visitor=sorted(visitors.values())[0],
    )


@contextlib.asynccontextmanager
async def nudge_run(database_url: str, clock: Any) -> AsyncIterator[NudgeRun]:
    """The bot on a clone of dan-phuong at `START` (the clock travelling with time-machine),
    the cast on Telegram."""
    async with contextlib.AsyncExitStack() as stack:
        sandbox = await stack.enter_async_context(run_sandbox(port=0))
        env = await _start(database_url, sandbox, stack)
        cast = await _cast(env)
        people = [*cast.secretaries.values(), *cast.visitors.values(), cast.leader, ADMIN]
        for tg in people:
            env.user(tg, "Đồng chí", "vi", started=True)
        env.world.create_group(UNIT_CHAT, "Đảng ủy xã", {ADMIN: "creator"}, bot_status="member")
        run = NudgeRun(env, sandbox, database_url, clock, cast)
        run._stack = stack
        await _publish(run)
        yield run


async def _publish(run: NudgeRun) -> None:
    """Group 1's first-quarter roster published as drafted (the start-up pass drafted it)."""
    async with run.env.app.session_factory() as s:
        program = await s.scalar(
            select(VisitProgram).where(VisitProgram.working_group_id == run.cast.group)
        )
        assert program is not None
        roster = await s.scalar(
            select(Roster).where(
                Roster.program_id == program.id, Roster.year == 2027, Roster.quarter == 1
            )
        )
    if roster is None:
        await drafts_job(run.jobs)
        return await _publish(run)
    async with run.env.app.session_factory() as s, s.begin():
        await publish(s, run.ctx, None, roster.id, roster.version)
    await run.delivered()


def sweep_times(start: datetime, end: datetime) -> list[datetime]:
    """Every sweep moment of the run: each day at `SWEEP_HOURS` (local)."""
    out = []
    day = to_local(start).date()
    while True:
        for h in SWEEP_HOURS:
            at = local(day.year, day.month, day.day, h)
            if at > end:
                return out
            if at > start:
                out.append(at)
        day += timedelta(days=1)
