"""Issue 20's acceptance story: a district's first six weeks on the bot, on dan-phuong, with a
fixed clock (time-machine, jumped between the moments that matter; each stop runs every
scheduled job once, as the scheduler would, then lets the outbox drain).

1. dan-phuong imported (the rosters' template), the bot started on Monday 30/11/2026 08:00.
2. One commune onboards: its branches' secretaries write /start, one branch links its group
   (/linkcode, /link); the district's committee admin opens the bot.
3. December's meeting days pass and January's come: only the joined branches are reminded,
   nudged or escalated; the others receive nothing and `/meetings` and `/nudges` call them
   "chưa tham gia", never skipped nor missing.
4. The linked branch's secretary confirms January's planned meeting at another time with the
   quick form `/schedule DD/MM HHhMM ...` (its check screen confirmed): the group's announcement,
   the reminders and the published roster's visit follow the new time.
5. The committee admin schedules a broadcast to the commune for 09:00 the next day; before
   09:00 the branch relinks to a new group; at 09:00 the new group gets the copy, the old none,
   and the progress counts it.
6. Nights: between 22:00 and 06:00 nothing automatic leaves, and no message says "ngày mai" of
   a meeting that is today.

Then the whole sandbox log: every message at a waking hour unless it answers a person's own
update, every group message to a chat bound to its target at that moment, and the figures
shown equal the story's events.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from bot.scheduler import JobContext, run_job
from bot.services import meeting_views as views
from bot.services.access.policy import load_actor
from bot.services.meetings import ReportInput, submit_report
from bot.services.meetings.regularity import Outcome
from bot.services.rosters.review import publish
from bot.services.vn_calendar import VN_TZ, to_local
from handlers.meetings.callbacks import StepAct, StepCb
from sandbox.testing import run_sandbox
from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    Meeting,
    MeetingNotice,
    Member,
    NudgeEvent,
    NudgeTrack,
    OutboxEntry,
    Roster,
    RosterVisit,
    Unit,
    VisitProgram,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.rosters import LIVE_VISIT_STATUSES
from storage.repositories.onboarding import joined
from tests.e2e.access import link_code
from tests.e2e.broadcasts_world import BroadcastWorld
from tests.e2e.harness import BotEnv, running_bot
from tests.e2e.rosters_world import _started, plain
from tests.helpers import buttons, local

START = local(2026, 11, 30, 8)  # Monday
COMMUNE = "D01U02"  # Đảng bộ xã ..., visited by working group 1
ADMIN = 8_950_001
OLD_GROUP, NEW_GROUP = -1_004_000_001, -1_004_000_002
SEC_BASE = 8_960_000  # a secretary's Telegram id when the data has none: + member id
Msg = dict[str, Any]


@dataclass
class Story:
    env: BotEnv
    clock: Any
    district: int
    commune: int
    branches: dict[int, str]  # the commune's active branches: id -> name
    secretaries: dict[int, int]  # branch id -> secretary's Telegram id
    linked: int  # the branch whose group is linked
    forgetful: int  # a branch whose secretary ignores every nudge
    seen: dict[int, int] = field(default_factory=dict)
    stops: list[datetime] = field(default_factory=list)
    planned: date | None = None

    @property
    def jobs(self) -> JobContext:
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        return component.ctx  # type: ignore[attr-defined, no-any-return]

    def t(self, key: str, /, **params: Any) -> str:
        text = self.env.app.i18n.t(key, "vi", **params)
        assert text != key, f"no catalog text for {key}"
        return plain(text)

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def at(self, when: datetime) -> None:
        """The clock jumps to `when`; every job runs once, as the scheduler would; the
        outbox drains of what is due."""
        assert when >= self.now() - timedelta(minutes=1), (when, self.now())
        self.clock.move_to(when)
        self.stops.append(when)
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        registry = component.registry  # type: ignore[attr-defined]
        for spec in registry.specs.values():
            if spec.name == "meetings.live_counts":
                continue
            if spec.name == "meetings.plan" and self.planned == to_local(when, VN_TZ).date():
                continue  # a daily job
            if spec.name == "meetings.plan":
                self.planned = to_local(when, VN_TZ).date()
            await run_job(spec, self.jobs, registry.holder)
        await self.delivered()

    async def run(self, name: str) -> None:
        """One job run now, as the scheduler would."""
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        registry = component.registry  # type: ignore[attr-defined]
        await run_job(registry.specs[name], self.jobs, registry.holder)

    async def delivered(self) -> None:
        await self.env.settle()
        for _ in range(2000):
            async with self.env.app.session_factory() as s:
                due = await s.scalar(
                    select(OutboxEntry.id)
                    .where(
                        OutboxEntry.state.in_(["pending", "claimed", "sending"]),
                        OutboxEntry.next_attempt_at <= self.now(),
                    )
                    .limit(1)
                )
            if due is None:
                await self.env.settle()
                return
            with contextlib.suppress(TimeoutError):
                await self.env.world.wait_for(lambda: False, timeout=0.05)
        raise AssertionError(f"outbox not drained at {self.now()}")

    def sent_since(self, chat: int, after: int) -> list[Msg]:
        return [m for m in self.env.world.bot_messages(chat) if m["message_id"] > after]

    def new(self, chat: int) -> list[Msg]:
        last = self.seen.get(chat, 0)
        msgs = [m for m in self.env.world.bot_messages(chat) if m["message_id"] > last]
        if msgs:
            self.seen[chat] = msgs[-1]["message_id"]
        return msgs


async def _cast(env: BotEnv) -> Story:
    async with env.app.session_factory() as s, s.begin():
        commune = await s.scalar(select(Unit).where(Unit.code == COMMUNE))
        assert commune is not None and commune.district_id is not None
        branches = list(
            await s.scalars(
                select(Branch)
                .where(Branch.unit_id == commune.id, Branch.active)
                .order_by(Branch.code)
            )
        )
        secretaries = {}
        for b in branches:
            sec = await s.scalar(
                select(Member)
                .where(Member.branch_id == b.id, Member.role == "secretary", Member.active)
                .order_by(Member.code)
            )
            assert sec is not None, b.code
            if sec.telegram_id is None:
                sec.telegram_id = SEC_BASE + sec.id
            secretaries[b.id] = sec.telegram_id
        s.add(CommitteeAdmin(district_id=commune.district_id, telegram_id=ADMIN))
        all_ids = list(await s.scalars(select(Branch.id).where(Branch.active)))
        already = await joined(s, all_ids)
    assert not already, f"step 1: {len(already)} branches joined right after the import"
    return Story(
        env,
        None,
        commune.district_id,
        commune.id,
        {b.id: b.name for b in branches},
        secretaries,
        linked=branches[0].id,
        forgetful=branches[-1].id,
    )


@contextlib.asynccontextmanager
async def story_world(database_url: str) -> AsyncIterator[Story]:
    traveller = time_machine.travel(START, tick=True)
    clock = traveller.start()
    try:
        async with run_sandbox(port=0) as sb, running_bot(database_url, sandbox=sb) as env:
            await _started(env)
            env.app.scheduler.pause()  # the story runs each job at its stops
            story = await _cast(env)
            story.clock = clock
            yield story
    finally:
        traveller.stop()


# The days that matter (local), each visited at these hours: 03:00 and 23:00 are the nights.
HOURS = (3, 7, 12, 17, 20, 23)
DECEMBER = [date(2026, 12, d) for d in range(1, 9)]
ROSTER_DAYS = [date(2026, 12, 22)]
JANUARY = [date(2026, 12, 31), *(date(2027, 1, d) for d in range(1, 7))]


def stops(days: list[date]) -> list[datetime]:
    return [local(d.year, d.month, d.day, h) for d in days for h in HOURS]


def local_of(entry_time: float) -> datetime:
    return datetime.fromtimestamp(entry_time, VN_TZ)


def data_of(msg: Msg, prefix: str) -> list[str]:
    return [b["callback_data"] for b in buttons(msg) if b["callback_data"].startswith(prefix)]


class Script:
    """What the onboarded secretaries do with what reaches them: each schedules the planned
    meeting from the nudge's Lên lịch ngay (one tap on the planned one) and reports when nudged
    to (Báo cáo ngay opens the report; the report itself is the report tests' walk), except the
    forgetful one, who schedules but never reports."""

    def __init__(self, st: Story) -> None:
        self.st = st
        self.scheduled: set[int] = set()  # meeting ids confirmed by a nudge's button
        self.reported: set[int] = set()

    async def act(self) -> None:
        st = self.st
        for branch, tg in st.secretaries.items():
            for msg in st.new(tg):
                for data in data_of(msg, "ndg:s:"):
                    await self._schedule(tg, msg, data)
                if branch == st.forgetful:
                    continue
                for data in data_of(msg, "ndg:r:"):
                    await self._report(tg, msg, data)
        await st.delivered()

    async def _schedule(self, tg: int, msg: Msg, data: str) -> None:
        env = self.st.env
        before = len(env.world.bot_messages(tg))
        await env.press(tg, msg, data)
        await env.settle()
        screen = env.world.bot_messages(tg)[before:]
        assert screen, f"{data} opened nothing"
        planned = data_of(screen[-1], "mplan:")
        assert planned, screen[-1].get("text")
        await env.press(tg, screen[-1], planned[0])
        await env.settle()
        meeting_id = int(data.split(":")[2])
        async with env.app.session_factory() as s:
            meeting = await s.get(Meeting, meeting_id)
            assert meeting is not None and meeting.status == "scheduled", meeting
        self.scheduled.add(meeting_id)
        self.st.new(tg)

    async def _report(self, tg: int, msg: Msg, data: str) -> None:
        env = self.st.env
        await env.press(tg, msg, data)
        await env.settle()
        meeting_id = int(data.split(":")[2])
        async with env.app.session_factory() as s, s.begin():
            actor = await load_actor(s, tg)
            await submit_report(
                s, actor, self.st.jobs.clock, meeting_id, ReportInput(present_count=1),
                i18n=env.app.i18n,
            )  # fmt: skip
        self.reported.add(meeting_id)
        self.st.new(tg)


async def _walk(st: Story, script: Script, moments: list[datetime]) -> None:
    """The clock through `moments`; after each, the secretaries act; a night stop sends
    nothing."""
    for when in moments:
        if when <= st.now():
            continue
        before = len(st.env.world.sent_log())
        await st.at(when)
        hour = to_local(when, VN_TZ).hour
        if hour >= 22 or hour < 6:
            sent = st.env.world.sent_log()[before:]
            assert not sent, f"step 6: sent at night ({to_local(when, VN_TZ)}): {sent}"
            continue
        await script.act()


# The story -------------------------------------------------------------------------------


async def step_onboard(st: Story) -> None:
    """Step 2: the commune's secretaries write /start; the first branch links its group."""
    env = st.env
    async with env.app.session_factory() as s:
        assert not await joined(s, list(st.branches)), "step 2: joined before anyone came"
    env.user(ADMIN, "Văn phòng", "vi")
    await env.ask(ADMIN, "/start")
    for tg in st.secretaries.values():
        env.user(tg, "Bí thư", "vi")
        await env.ask(tg, "/start")
    sec = st.secretaries[st.linked]
    name = st.branches[st.linked]
    env.world.create_group(OLD_GROUP, name, {sec: "creator"})
    env.world.add_bot_to_group(OLD_GROUP, sec)
    await env.world.wait_for_bot_message(OLD_GROUP)
    code = await link_code(env, sec)
    done = await env.ask(sec, f"/link {code}", OLD_GROUP)
    assert st.t("link.done", target=name) in plain(done["text"]), done["text"]
    await st.delivered()
    async with env.app.session_factory() as s:
        assert await joined(s, list(st.branches)) == set(st.branches), "step 2: not all joined"
    for chat in [*st.secretaries.values(), ADMIN, OLD_GROUP]:
        st.new(chat)


async def step_december(st: Story, script: Script) -> None:
    """Step 3: December's meeting days pass: only the commune is nudged and reminded."""
    await _walk(st, script, [m for m in stops(DECEMBER) if m < local(2026, 12, 7, 10)])
    assert script.scheduled, "step 3: no secretary was nudged to schedule December's meeting"
    async with st.env.app.session_factory() as s:
        tracks = list(await s.scalars(select(NudgeTrack)))
    outside = [t.key for t in tracks if t.branch_id is not None and t.branch_id not in st.branches]
    assert not outside, f"step 3: branches that never joined were nudged: {outside[:5]}"


async def step_broadcast(st: Story, script: Script) -> None:
    """Step 5: a broadcast for 09:00 tomorrow; the branch relinks before; the new group gets it."""
    env = st.env
    await _walk(st, script, [local(2026, 12, 7, 10)])
    w = BroadcastWorld(env, st.clock, st.district, [(st.commune, COMMUNE, "")], [])
    async with env.app.session_factory() as s:
        commune = await s.get(Unit, st.commune)
        assert commune is not None
        name = commune.name
    panel = await w.start(ADMIN, lambda: env.world.send_text(ADMIN, BROADCAST))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.units", mark="▫️", n=0)))
    await w.tap(ADMIN, panel, w.button(panel, name))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.done")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    await w.tap(ADMIN, panel, w.button(panel, w.t("bcui.button.later")))
    await w.tap(ADMIN, panel, w.button(panel, "08/12"))
    await w.tap(ADMIN, panel, w.button(panel, "09:00"))
    summary = await w.preview(ADMIN, panel)
    (b,) = await w.broadcasts()
    await w.tap(ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    nine = w.t("people.when", weekday=w.t("people.weekday.1"), date="08/12/2026", time="09:00")
    assert w.now(summary)["text"] == w.t("bcui.sent.later", when=nine)
    await st.delivered()
    assert w.copies(OLD_GROUP, b.id, BROADCAST) == [], "step 5: sent before its time"
    # Before nine the branch moves to a new group.
    await _walk(st, script, [local(2026, 12, 7, 14)])
    sec = st.secretaries[st.linked]
    env.world.create_group(NEW_GROUP, "Chi bộ (nhóm mới)", {sec: "creator"})
    env.world.add_bot_to_group(NEW_GROUP, sec)
    await env.world.wait_for_bot_message(NEW_GROUP)
    code = await link_code(env, sec)
    moved = await env.ask(sec, f"/link {code}", NEW_GROUP)
    assert st.t("link.done", target=st.branches[st.linked]) in plain(moved["text"]), moved["text"]
    await st.delivered()
    st.new(sec)
    await _walk(st, script, [m for m in stops(DECEMBER) if m <= local(2026, 12, 8, 9)])
    await _walk(st, script, [local(2026, 12, 8, 9, 1)])
    assert len(w.copies(NEW_GROUP, b.id, BROADCAST)) == 1, "step 5: the new group got no copy"
    assert w.copies(OLD_GROUP, b.id, BROADCAST) == [], "step 5: the old group got a copy"
    head = w.t("bc.progress.head", excerpt=BROADCAST)
    (progress,) = [
        m for m in env.world.bot_messages(ADMIN) if (m.get("text") or "").startswith(head)
    ]
    done = w.t("bc.progress.done", when="", sent=0, queued=0, failed=0).split(" vào")[0]

    def final() -> Msg | None:
        now = w.now(progress)
        return now if done in now["text"] else None

    for _ in range(60):  # the progress job mirrors the outcome (its edits 5 s apart)
        await st.run("broadcasts.progress")
        with contextlib.suppress(TimeoutError):
            await env.world.wait_for(final, timeout=0.5)
        if final():
            break
    report = final()
    assert report is not None, f"step 5: progress never final: {w.now(progress)['text']}"
    unreachable = len(st.branches) - 1
    assert ": đã gửi 1/1 · lỗi 0" in report["text"], f"step 5: {report['text']}"
    assert w.t("bc.progress.unreachable", n=unreachable) in report["text"], report["text"]
    for _ in range(60):  # the recipients' rows follow the outbox at the progress job's pass
        recipients = await w.recipients(b.id)
        live = [r for r in recipients if r.state == "sent"]
        if live:
            break
        await st.run("broadcasts.progress")
    assert [r.chat_id for r in live] == [NEW_GROUP], [(r.chat_id, r.state) for r in recipients]


async def step_roster(st: Story, script: Script) -> int | None:
    """The coming quarter's drafts are made on 22/12; working group 1's is published as drafted.
    Returns the linked branch's January visit, if the roster has one."""
    await _walk(st, script, [m for m in stops(ROSTER_DAYS) if to_local(m, VN_TZ).hour < 13])
    async with st.env.app.session_factory() as s:
        rows = list(
            await s.execute(
                select(Roster, VisitProgram.working_group_id)
                .join(VisitProgram, Roster.program_id == VisitProgram.id)
                .where(Roster.year == 2027, Roster.quarter == 1)
            )
        )
        unit_groups = set(
            await s.scalars(
                select(WorkingGroupUnit.working_group_id).where(
                    WorkingGroupUnit.unit_id == st.commune
                )
            )
        )
    assert rows, "no draft made on 22/12"
    for roster, group in rows:
        if group in unit_groups:
            async with st.env.app.session_factory() as s, s.begin():
                await publish(s, st.jobs.services, None, roster.id, roster.version)
    await st.delivered()
    await _walk(st, script, stops(ROSTER_DAYS))
    async with st.env.app.session_factory() as s:
        return await s.scalar(
            select(RosterVisit.id)
            .join(Meeting, Meeting.id == RosterVisit.meeting_id)
            .where(
                RosterVisit.branch_id == st.linked,
                RosterVisit.status.in_([v.value for v in LIVE_VISIT_STATUSES]),
                Meeting.period_year == 2027,
                Meeting.period_month == 1,
            )
        )


async def step_reschedule(st: Story, script: Script, visit: int | None) -> int:
    """Step 4: the linked branch confirms January's planned meeting at another time by the
    quick form; returns the meeting's id."""
    env = st.env
    await _walk(st, script, [m for m in stops(JANUARY) if m <= local(2027, 1, 1, 10)])
    async with env.app.session_factory() as s:
        meeting = await s.scalar(
            select(Meeting).where(
                Meeting.branch_id == st.linked,
                Meeting.period_year == 2027,
                Meeting.period_month == 1,
                Meeting.kind == "regular",
            )
        )
    assert meeting is not None
    planned = to_local(meeting.starts_at, VN_TZ)
    new_day = planned.date() + timedelta(days=1)
    sec = st.secretaries[st.linked]
    after = env.last_bot_id(NEW_GROUP)
    check = await env.ask(sec, f"/schedule {new_day:%d/%m} 19h30 Nhà văn hóa thôn")
    await env.press(sec, check, StepCb(act=StepAct.OK).pack())
    said = st.t("mtg.sched.done", id=meeting.id)
    await env.world.wait_for_bot_message(
        sec, lambda x: x["message_id"] == check["message_id"] and said in plain(x["text"])
    )
    await st.delivered()
    when = f"{new_day:%d/%m/%Y}"
    announce = [
        m
        for m in st.sent_since(NEW_GROUP, after)
        if st.t("mtg.announce.head") in plain(m.get("text") or "")
    ]
    assert announce and when in announce[-1]["text"] and "19:30" in announce[-1]["text"], (
        "step 4: the group was not told the new time",
        [m.get("text") for m in st.sent_since(NEW_GROUP, after)],
    )
    async with env.app.session_factory() as s:
        moved = await s.get(Meeting, meeting.id)
        assert moved is not None and moved.status == "scheduled"
        assert to_local(moved.starts_at, VN_TZ) == datetime.combine(
            new_day, datetime.min.time().replace(hour=19, minute=30), VN_TZ
        ), moved.starts_at
        if visit is not None:
            row = await s.get(RosterVisit, visit)
            assert row is not None and row.meeting_id == meeting.id, "step 4: the visit was left"
    st.new(sec)
    return meeting.id


async def step_figures(st: Story, script: Script) -> None:
    """`/meetings` and `/nudges` for December equal the story's events."""
    env = st.env
    async with env.app.session_factory() as s:
        actor = await load_actor(s, ADMIN)
        dec = await views.summary(
            s, actor, st.jobs.clock, views.Scope("committee", st.district), 2026, 12
        )
        meetings = {
            m.id: m
            for m in await s.scalars(
                select(Meeting).where(Meeting.period_year == 2026, Meeting.period_month == 12)
            )
        }
        events = [e for e in await s.scalars(select(NudgeEvent)) if e.withdrawn_at is None]
    all_branches = dec.totals and sum(dec.totals.values())
    assert dec.totals.get(Outcome.NOT_JOINED) == all_branches - len(st.branches), dec.totals
    reported = {m for m in script.reported if meetings.get(m) is not None}
    on_record = dec.totals.get(Outcome.ON_TIME, 0) + dec.totals.get(Outcome.LATE, 0)
    assert on_record == len(reported), ("figures: reported", dec.totals, len(reported))
    unreported = {m for m in script.scheduled if m in meetings} - reported
    assert dec.totals.get(Outcome.NOT_REPORTED, 0) + dec.totals.get(
        Outcome.AWAITING_REPORT, 0
    ) == len(unreported), ("figures: not reported", dec.totals, len(unreported))
    shown = plain((await env.ask(ADMIN, "/meetings 12/2026"))["text"])
    assert st.t("mrep.sum.not_joined", n=all_branches - len(st.branches)) in shown, shown
    dec_events = [e for e in events if to_local(e.at, VN_TZ).month == 12]
    nudges = sum(e.step.startswith("nudge") for e in dec_events)
    escalations = sum(e.step == "escalation" and e.chat_id != 0 for e in dec_events)
    assert nudges and escalations, (
        "the story nudged and escalated nobody",
        Counter(e.step for e in events),
    )
    assert any(e.step == "escalation" and e.chat_id == ADMIN for e in dec_events)
    figures = plain((await env.ask(ADMIN, "/nudges 12/2026"))["text"])
    expected = st.t("nudge.fig.sent", nudges=nudges, escalations=escalations)
    assert expected in figures, figures


async def final_checks(st: Story, wg_people: set[int], meeting_id: int) -> None:
    """Over the whole log: waking hours, current chats, the days named, reminders counted."""
    env = st.env
    log = env.world.sent_log()
    async with env.app.session_factory() as s:
        bindings = list(await s.scalars(select(ChatBinding)))
        notices = list(await s.scalars(select(MeetingNotice)))
        moved = await s.get(Meeting, meeting_id)
        starts = {
            (to_local(m.starts_at, VN_TZ).date(), f"{to_local(m.starts_at, VN_TZ):%H:%M}")
            for m in await s.scalars(
                select(Meeting).where(Meeting.status.in_(["planned", "scheduled"]))
            )
        }
    assert moved is not None
    people = {*st.secretaries.values(), ADMIN, *wg_people}
    texts: dict[tuple[int, int], str] = {}
    for chat in {e["chat_id"] for e in log}:
        for m in env.world.bot_messages(chat):
            texts[(chat, m["message_id"])] = plain(m.get("text") or m.get("caption") or "")
    problems: list[str] = []
    for e in log:
        chat, mid = int(e["chat_id"]), e.get("message_id")
        at = local_of(e["time"])
        answered = (chat, mid) in env.caused
        text = texts.get((chat, mid), "")
        if not answered and not 7 <= at.hour < 21:
            problems.append(f"night: {at:%d/%m %H:%M} to {chat}: {text[:60]!r}")
        if chat > 0 and chat not in people:
            problems.append(f"to someone outside the story: {chat}: {text[:60]!r}")
        if chat < 0 and not answered:
            utc = at.astimezone(UTC)
            current = [
                b
                for b in bindings
                if b.chat_id == chat
                and b.bound_at <= utc
                and (b.unbound_at is None or utc < b.unbound_at)
            ]
            # The greeting when the bot is added (it says how to /link) precedes a binding.
            if not current and "/link" not in text:
                problems.append(f"not the current chat: {at:%d/%m %H:%M} {chat}: {text[:60]!r}")
        for word, offset in (("day.today_at", 0), ("day.tomorrow_at", 1)):
            head = st.t(word, time="").strip()
            for hhmm in re.findall(re.escape(head) + r" (\d{2}:\d{2})", text):
                if (at.date() + timedelta(days=offset), hhmm) not in starts:
                    problems.append(f"{head} {hhmm} at {at:%d/%m %H:%M}, no meeting: {text[:80]!r}")
    assert not problems, "\n".join(problems[:20])
    # Reminders sent equal the reminders recorded; the moved meeting's were for its new time.
    heads = [
        st.t(f"mtg.remind.{k}").split(":")[0]
        for k in ("group_24h", "group_2h", "member_24h", "visitor_24h")
    ]
    reminders = [t for t in texts.values() if any(t.startswith(h) for h in heads)]
    recorded = [n for n in notices if n.kind in REMINDER_KINDS]
    assert len(reminders) == len(recorded), (len(reminders), Counter(n.kind for n in recorded))
    new_time = f"{to_local(moved.starts_at, VN_TZ):%d/%m/%Y}"
    for n in recorded:
        if n.meeting_id == meeting_id:
            assert n.version == moved.version, ("a reminder of the old time", n.kind, n.version)
    mine = [
        t for (c, _), t in texts.items() if c == NEW_GROUP and any(t.startswith(h) for h in heads)
    ]
    assert mine and all(new_time in t for t in mine if "/01/2027" in t), mine


REMINDER_KINDS = {"group_24h", "group_2h", "member_24h", "visitor_24h"}
BROADCAST = "Kế hoạch tổng kết công tác Đảng năm 2026"


@pytest.mark.timeout(480)
async def test_district_first_six_weeks(dan_phuong_url: str) -> None:
    async with story_world(dan_phuong_url) as st:
        async with st.env.app.session_factory() as s:
            wg_people = set(
                await s.scalars(
                    select(Member.telegram_id)
                    .join(WorkingGroupMember, WorkingGroupMember.member_id == Member.id)
                    .where(Member.telegram_id.is_not(None))
                )
            )
        for tg in wg_people:
            st.env.user(tg, "Tổ viên", "vi", started=True)
        script = Script(st)
        await step_onboard(st)
        await step_december(st, script)
        await step_broadcast(st, script)
        await _walk(st, script, stops(DECEMBER))
        await step_figures(st, script)
        visit = await step_roster(st, script)
        meeting_id = await step_reschedule(st, script, visit)
        await _walk(st, script, stops(JANUARY))
        await final_checks(st, wg_people, meeting_id)
