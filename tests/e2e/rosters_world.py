"""The roster tests' world: the real dan-phuong district in the bot's database, the 46 members
of its 8 working groups on Telegram (each has written to the bot), each group's chat bound to
the group with the bot in it, and the clock 10 days before 2027-Q1, when the drafts are due.

Importing dan-phuong takes seconds, so it is done once per backend and run into a template that
each test copies (a file copy on SQLite; on PostgreSQL a database of the pool reset to it, see
`tests/pgpool.py`): the
import, the members' Telegram accounts and the chat bindings are database rows; the sandbox's
people and group chats are made for each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.app.jobs.rosters import drafts_job
from bot.i18n import create_i18n
from bot.scheduler import JobContext
from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from bot.services.meetings import Notices, generate_plan
from bot.services.org_import import import_org
from bot.services.rosters.review import publish
from bot.services.vn_calendar import VN_TZ, format_quarter, to_local
from storage.db import create_engine
from storage.models import (
    Branch,
    ChatBinding,
    Meeting,
    Member,
    Roster,
    RosterVisit,
    TelegramUser,
    WorkingGroup,
    WorkingGroupMember,
)
from storage.models.outbox import OutboxEntry
from storage.models.rosters import LIVE_VISIT_STATUSES
from tests.conftest import _Templates, pg_database, sqlite_database
from tests.e2e.harness import BotEnv, running_bot
from tests.helpers import DAN_PHUONG, FakeClock, local

DATASET = DAN_PHUONG
START = local(2026, 12, 22, 9)  # 10 days before 2027-Q1: the drafts are due
TG_BASE = 8_000_000  # a working-group member's Telegram id: TG_BASE + their row id
CHAT_BASE = -1_001_200_000  # group i's chat: CHAT_BASE - i
Msg = dict[str, Any]


def plain(text: str) -> str:
    """A catalog text as the person reads it: the HTML markup parsed away."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# The database, once per backend --------------------------------------------------------------


async def _populate(url: str, dataset: Path = DATASET) -> None:
    """dan-phuong (or another `dataset`), the working-group members' accounts, each group's chat
    bound, and the plan job's work as of `START` done (the months to February planned, the
    secretaries told of the Tết shifts: those notices went out long ago, so the outbox is
    empty)."""
    engine = create_engine(url)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        async with factory() as s, s.begin():
            outcome = await import_org(s, dataset)
            assert outcome.errors == [], outcome.errors
        async with factory() as s, s.begin():
            seated = select(WorkingGroupMember.member_id)
            for m in await s.scalars(select(Member).where(Member.id.in_(seated))):
                m.telegram_id = TG_BASE + m.id
                s.add(TelegramUser(id=m.telegram_id, first_name=m.full_name.split()[-1]))
            groups = await s.scalars(select(WorkingGroup).order_by(WorkingGroup.code))
            for i, g in enumerate(groups, start=1):
                s.add(
                    ChatBinding(
                        chat_id=CHAT_BASE - i,
                        chat_title=g.name,
                        target_type="working_group",
                        target_id=g.id,
                        district_id=g.district_id,
                    )
                )
        clock = FakeClock(START)
        async with factory() as s, s.begin():
            await generate_plan(s, clock)
        async with factory() as s, s.begin():
            await Notices(s, ServiceContext(clock, create_i18n("vi"))).shift_notices()
            await s.execute(delete(OutboxEntry))
    finally:
        await engine.dispose()


class DanPhuong:
    """The populated template of each backend, made on first use, cloned for each test."""

    def __init__(self, templates: _Templates) -> None:
        self.templates = templates

    def sqlite_database(self) -> contextlib.AbstractContextManager[str]:
        """A SQLite database holding the populated world, for one test."""
        world = self.templates.sqlite_world(f"dan-phuong:{DATASET.name}", _populate)
        return sqlite_database(self.templates, world)

    def pg_database(self) -> contextlib.AbstractContextManager[str]:
        """A PostgreSQL database holding the populated world, for one test."""
        return pg_database(self.templates, f"dan-phuong:{DATASET.name}", _populate)


# The world a test acts in --------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    id: int
    code: str
    name: str
    chat_id: int
    leader: int  # the leader's member id
    members: tuple[int, ...]  # member ids, the leader among them


@dataclass
class RosterWorld:
    env: BotEnv
    clock: Any  # time-machine's coordinates: move_to(...)
    groups: list[Group]
    tg: dict[int, int]  # member id -> Telegram id
    names: dict[int, str]  # member id -> full name

    # Context and catalogs -------------------------------------------------------------------

    @property
    def jobs(self) -> JobContext:
        """The running app's job context (jobs are run directly, as the scheduler would)."""
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        return component.ctx  # type: ignore[attr-defined, no-any-return]

    @property
    def ctx(self) -> ServiceContext:
        return self.jobs.services

    def raw(self, key: str, /, **params: Any) -> str:
        text = self.env.app.i18n.t(key, "vi", **params)
        assert text != key, f"no catalog text for {key}"  # a renamed key fails here, loudly
        return text

    def t(self, key: str, /, **params: Any) -> str:
        """The Vietnamese catalog text of `key`, as read in the chat."""
        return plain(self.raw(key, **params))

    def refused(self, key: str, /, **params: Any) -> str:
        """The alert a refused press shows."""
        return plain(self.raw("people.refused", reason=self.raw(key, **params)))

    def when(self, at: datetime) -> str:
        """'Chủ Nhật, 03/01/2027 lúc 19:30': how every message gives a visit's time."""
        local_at = to_local(at, VN_TZ)
        day = self.t(f"people.weekday.{local_at.weekday()}")
        return self.t(
            "people.when", weekday=day, date=f"{local_at:%d/%m/%Y}", time=f"{local_at:%H:%M}"
        )

    async def about(self, visit: RosterVisit) -> dict[str, str]:
        """A visit's branch, time and place, as the messages about a visit give them."""
        async with self.env.app.session_factory() as s:
            branch = await s.get(Branch, visit.branch_id)
            meeting = await s.get(Meeting, visit.meeting_id)
        assert branch is not None and meeting is not None
        return {"branch": branch.name, "when": self.when(meeting.starts_at), "place": meeting.place}

    def quarter(self, q: int = 1, year: int = 2027) -> str:
        return format_quarter(year, q, "vi")

    # People ---------------------------------------------------------------------------------

    def leader_tg(self, group: Group) -> int:
        return self.tg[group.leader]

    def plain_member(self, group: Group) -> int:
        """A member of the group who does not lead it (member id)."""
        return next(m for m in group.members if m != group.leader)

    async def actor(self, member_id: int) -> Actor:
        async with self.env.app.session_factory() as s:
            return await load_actor(s, self.tg[member_id])

    # Waiting and reading --------------------------------------------------------------------

    async def delivered(self) -> None:
        """Every update handled and every outbox row gone out (event waits, bounded)."""
        await self.env.settle()
        for _ in range(400):
            if await self.pending() == 0:
                await self.env.settle()
                return
            with contextlib.suppress(TimeoutError):
                await self.env.world.wait_for(lambda: False, timeout=0.05)
        raise AssertionError("outbox not drained")

    async def pending(self) -> int:
        async with self.env.app.session_factory() as s:
            states = ["pending", "claimed", "sending"]
            return int(
                await s.scalar(select(func.count()).where(OutboxEntry.state.in_(states))) or 0
            )

    async def outbox_rows(self) -> int:
        async with self.env.app.session_factory() as s:
            return int(await s.scalar(select(func.count()).select_from(OutboxEntry)) or 0)

    def sent(self, chat_id: int, after: int = 0) -> list[Msg]:
        return [m for m in self.env.world.bot_messages(chat_id) if m["message_id"] > after]

    def counts(self, chats: Iterable[int] | None = None) -> dict[int, int]:
        """How many messages the bot has sent to each chat (private and group)."""
        wanted = list(chats) if chats is not None else [*self.tg.values(), *self.chats]
        return {c: len(self.env.world.bot_messages(c)) for c in wanted}

    @property
    def chats(self) -> list[int]:
        return [g.chat_id for g in self.groups]

    # Rosters --------------------------------------------------------------------------------

    async def rosters(self, q: int = 1, year: int = 2027) -> dict[int, Roster]:
        """Group id -> its roster of the quarter."""
        from storage.models import VisitProgram

        async with self.env.app.session_factory() as s:
            rows = await s.execute(
                select(VisitProgram.working_group_id, Roster)
                .join(Roster, Roster.program_id == VisitProgram.id)
                .where(Roster.year == year, Roster.quarter == q)
            )
            return {gid: r for gid, r in rows}

    async def visits(self, roster_id: int, *, live: bool = True) -> list[RosterVisit]:
        async with self.env.app.session_factory() as s:
            stmt = select(RosterVisit).where(RosterVisit.roster_id == roster_id)
            if live:
                stmt = stmt.where(RosterVisit.status.in_([v.value for v in LIVE_VISIT_STATUSES]))
            return list(await s.scalars(stmt.order_by(RosterVisit.id)))

    async def snapshot(self) -> dict[str, Any]:
        """Every roster and visit, and the outbox size: what a refused press leaves alone."""
        await self.env.settle()
        async with self.env.app.session_factory() as s:
            rosters = [
                (r.id, r.status, r.version, r.published_at)
                for r in await s.scalars(select(Roster).order_by(Roster.id))
            ]
            visits = [
                (v.id, v.roster_id, v.visitor_member_id, v.branch_id, v.status, v.meeting_id)
                for v in await s.scalars(select(RosterVisit).order_by(RosterVisit.id))
            ]
        return {"rosters": rosters, "visits": visits, "outbox": await self.outbox_rows()}

    def move_to(self, when: datetime) -> None:
        self.clock.move_to(when)
        # APScheduler walks every run a job missed, one by one: a 2-second job over a jump of
        # two weeks is ~600k steps with the event loop blocked for seconds (a press's answer
        # then comes too late). Each job starts again from its next run after the new now.
        scheduler = self.env.app.scheduler
        now = datetime.now(scheduler.timezone)
        for job in scheduler.get_jobs():
            if job.next_run_time is not None and job.next_run_time < now:
                job.modify(next_run_time=job.trigger.get_next_fire_time(None, now))

    async def publish(self, groups: Iterable[Group] | None = None) -> dict[int, Roster]:
        """The drafts job run (if it has not been), the drafts of `groups` (default: all)
        published as they are, by the system, and everything sent delivered: group id -> its
        roster."""
        drafts = await self.rosters()
        if not drafts:
            await drafts_job(self.jobs)
            drafts = await self.rosters()
        for g in self.groups if groups is None else groups:
            roster = drafts[g.id]
            async with self.env.app.session_factory() as s, s.begin():
                await publish(s, self.ctx, None, roster.id, roster.version)
        await self.delivered()
        return await self.rosters()

    async def secretary(self, branch_id: int) -> Actor:
        """The branch's secretary, with a Telegram account (given one if the data has none)."""
        async with self.env.app.session_factory() as s, s.begin():
            sec = await s.scalar(
                select(Member)
                .where(Member.branch_id == branch_id, Member.role == "secretary", Member.active)
                .order_by(Member.code)
            )
            assert sec is not None, branch_id
            if sec.telegram_id is None:
                sec.telegram_id = TG_BASE + 500_000 + sec.id
            tg = sec.telegram_id
        async with self.env.app.session_factory() as s:
            return await load_actor(s, tg)


async def _groups(env: BotEnv) -> tuple[list[Group], dict[int, int], dict[int, str]]:
    async with env.app.session_factory() as s:
        groups = list(await s.scalars(select(WorkingGroup).order_by(WorkingGroup.code)))
        seats = (await s.execute(select(WorkingGroupMember))).scalars().all()
        ids = {seat.member_id for seat in seats}
        people = {m.id: m for m in await s.scalars(select(Member).where(Member.id.in_(ids)))}
        chats = {
            b.target_id: b.chat_id
            for b in await s.scalars(
                select(ChatBinding).where(ChatBinding.target_type == "working_group")
            )
        }
    out = []
    for g in groups:
        members = sorted(seat.member_id for seat in seats if seat.working_group_id == g.id)
        assert g.leader_member_id in members
        out.append(Group(g.id, g.code, g.name, chats[g.id], g.leader_member_id, tuple(members)))
    tg = {mid: m.telegram_id for mid, m in people.items() if m.telegram_id}
    return out, tg, {mid: m.full_name for mid, m in people.items()}


async def _started(env: BotEnv) -> None:
    """The app's start-up done: its catch-up pass has run every job once (the scheduler is
    started after it)."""
    for _ in range(500):
        if env.app.scheduler.running:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the app did not start")


@contextlib.asynccontextmanager
async def roster_world(database_url: str) -> AsyncIterator[RosterWorld]:
    """The bot running on a clone of the populated template, the clock at `START` (ticking).

    The bot starts the day before, so its start-up catch-up pass finds no draft due yet (the
    tests run the drafts job themselves, and would race the catch-up otherwise)."""
    traveller = time_machine.travel(START - timedelta(days=1), tick=True)
    clock = traveller.start()
    try:
        async with running_bot(database_url) as env:
            await _started(env)
            # The tests run the drafts job themselves: a periodic run the one-day jump makes
            # "due" would draft some groups in the middle of a test that counts rows.
            env.app.scheduler.pause_job("rosters.drafts")
            # Nudges have their own two-month world (nudges_world.py); here a sweep would add
            # reminders to the outbox in the middle of tests that count its rows.
            env.app.scheduler.pause_job("nudges.sweep")
            # Likewise the daily plan: once the world's secretaries can be written to, its run
            # would tell them of February's Tết shift in the middle of a test.
            env.app.scheduler.pause_job("meetings.plan")
            clock.move_to(START)
            groups, tg, names = await _groups(env)
            for mid, uid in tg.items():
                env.user(uid, names[mid].split()[-1], "vi", started=True)
            for g in groups:
                people = {tg[m]: "member" for m in g.members}
                people[tg[g.leader]] = "creator"
                env.world.create_group(g.chat_id, g.name, people, bot_status="member")
            yield RosterWorld(env, clock, groups, tg, names)
    finally:
        traveller.stop()
