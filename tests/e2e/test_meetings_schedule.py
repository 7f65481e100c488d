"""Issue 5, part A end to end: plan, schedule (wizard and quick form), announce, 30 RSVPs with
coalesced edits, reminders exactly once across a restart, reschedule and cancel with
corrections, Tết shifting, and every bad input refused with nothing changed.

A month of one branch's meetings, one behaviour per test: each starts from the `month` fixture
(the organisation, the branch's group, the plan job run on 23/11/2026) and builds the state it
needs with the helpers below (the December meeting confirmed by the quick form, the thematic
meeting by the wizard, the members' answers, the 24 h reminders), so each can fail alone.

Time is moved with time-machine; scheduler jobs are run directly (`ctx` of the running app), so
nothing waits for APScheduler's interval except the live-count edits, which are awaited as
events in the sandbox. Expected texts are rendered from the catalogs (`Month.t`), as the person
reads them (markup parsed away).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bot.app.jobs.meetings import plan_job, reminders_job
from bot.scheduler import JobContext
from handlers.meetings.callbacks import (
    CalAction,
    CalCb,
    ChangeCb,
    KindCb,
    PickAct,
    PickCb,
    ReasonCb,
    RsvpCb,
    RsvpChoice,
    StepAct,
    StepCb,
    TimeCb,
)
from sandbox.testing import run_sandbox
from storage.models import Branch, ChatBinding, Meeting, MeetingRsvp, Member, TelegramUser
from storage.models.outbox import OutboxEntry
from tests import orgdata as o
from tests.e2e.harness import BotEnv, running_bot
from tests.helpers import buttons, local

GROUP = -100500
EXTRA = 27  # members beyond SEC1/DEP1/MEM1: 30 people tap the announcement
FIRST_EXTRA = 20_000


def _ctx(env: BotEnv) -> JobContext:
    jobs = next(c for c in env.app.components if c.name == "scheduler-jobs")
    return jobs.ctx  # type: ignore[attr-defined, no-any-return]


async def _delivered(env: BotEnv) -> None:
    """Every outbox row has left (an event wait on the sandbox, bounded)."""

    async def pending() -> int:
        async with env.app.session_factory() as s:
            return int(
                await s.scalar(
                    select(func.count()).where(
                        OutboxEntry.state.in_(["pending", "claimed", "sending"])
                    )
                )
                or 0
            )

    for _ in range(300):
        if await pending() == 0:
            return
        with contextlib.suppress(TimeoutError):
            await env.world.wait_for(lambda: False, timeout=0.05)
    raise AssertionError("outbox not drained")


async def _fingerprint(env: BotEnv) -> dict[str, Any]:
    await env.settle()
    async with env.app.session_factory() as s:
        meetings = [
            (m.id, m.status, m.starts_at, m.place, m.agenda, m.version)
            for m in await s.scalars(select(Meeting).order_by(Meeting.id))
        ]
        rsvps = [
            (r.meeting_id, r.member_id, r.answer, r.reason_code)
            for r in await s.scalars(select(MeetingRsvp).order_by(MeetingRsvp.member_id))
        ]
        outbox = await s.scalar(select(func.count()).select_from(OutboxEntry))
    return {"meetings": meetings, "rsvps": rsvps, "outbox": outbox}


async def _setup(env: BotEnv) -> o.Org:
    org = await o.build_org(env.app.engine)
    people = {o.SEC1: "Bí", o.DEP1: "Phó", o.MEM1: "Viên", o.SEC3: "Ba", o.STRANGER: "Lạ"}
    for uid, name in people.items():
        env.user(uid, name, "vi", started=True)
    extra = {FIRST_EXTRA + i: f"ĐV{i}" for i in range(EXTRA)}
    for uid, name in extra.items():
        # The last one never opened a private chat with the bot.
        env.user(uid, name, "vi", started=uid != FIRST_EXTRA + EXTRA - 1)
    in_group = {uid: "member" for uid in [*people, *extra]}
    in_group[o.SEC1] = "creator"
    env.world.create_group(GROUP, "Chi bộ thôn Một", in_group, bot_status="member")
    async with env.app.session_factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=GROUP, target_type="branch", target_id=org.b1, district_id=org.district
            )
        )
        s.add_all(TelegramUser(id=uid, first_name=n) for uid, n in {**people, **extra}.items())
        for i, uid in enumerate(extra):
            s.add(
                Member(
                    code=f"E{i}",
                    full_name=f"Đảng viên {i}",
                    branch_id=org.b1,
                    district_id=org.district,
                    role="member",
                    status="official",
                    telegram_id=uid,
                )
            )
    return org


@contextlib.asynccontextmanager
async def _sandbox() -> AsyncIterator[Any]:
    async with run_sandbox(port=0) as sb:
        yield sb


async def _group_msg(env: BotEnv, needle: str, after: int = 0, wait: float = 20) -> dict[str, Any]:
    return await env.world.wait_for_bot_message(
        GROUP, lambda m: needle in m.get("text", ""), timeout=wait, after=after
    )


START = local(2026, 11, 23, 9)
LAST = FIRST_EXTRA + EXTRA - 1  # the member who never opened a private chat with the bot
THEMATIC_AGENDA = "Học tập chuyên đề năm 2026 <Nghị quyết>"


def _plain(text: str) -> str:
    """A catalog text as the person reads it: the HTML markup parsed away."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _t(env: BotEnv, key: str, /, **params: Any) -> str:
    """The Vietnamese catalog text of `key`, as read in the chat."""
    return _plain(env.app.i18n.t(key, "vi", **params))


def _like(env: BotEnv, key: str, /, **params: Any) -> re.Pattern[str]:
    """The catalog text of `key` up to a line's end, the placeholders not given matching
    anything on the line (each captured under its name)."""
    template = env.app.i18n.t(key, "vi")
    parts = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(_plain(literal)))
        if name is None:
            continue
        if name in params:
            parts.append(re.escape(_plain(str(params[name]))))
        else:
            parts.append(f"(?P<{name}>[^\\n]+?)")
    return re.compile("".join(parts) + r"(?=\n|\Z)")


@dataclass
class Month:
    """One branch's month: the running bot, its sandbox and database, the moved clock."""

    database_url: str
    sb: Any
    clock: Any
    env: BotEnv
    org: o.Org
    planned: list[Meeting]
    stack: contextlib.AsyncExitStack

    @property
    def ctx(self) -> JobContext:
        return _ctx(self.env)

    @property
    def dec(self) -> Meeting:
        """December's regular meeting, as the plan job made it (5th, 19:30)."""
        return next(m for m in self.planned if m.period_month == 12)

    def t(self, key: str, /, **params: Any) -> str:
        return _t(self.env, key, **params)

    def like(self, key: str, /, **params: Any) -> re.Pattern[str]:
        return _like(self.env, key, **params)

    def when(self, y: int, mo: int, d: int, h: int, mi: int) -> str:
        """'Thứ Năm, 03/12/2026 lúc 19:30' from the catalogs."""
        weekday = self.t(f"people.weekday.{date(y, mo, d).weekday()}")
        return self.t(
            "people.when", weekday=weekday, date=f"{d:02d}/{mo:02d}/{y}", time=f"{h:02d}:{mi:02d}"
        )

    async def restart(self) -> None:
        """Stop the bot and start a new one on the same database and sandbox."""
        await self.stack.aclose()
        self.stack = contextlib.AsyncExitStack()
        self.env = await self.stack.enter_async_context(
            running_bot(self.database_url, sandbox=self.sb)
        )


@pytest.fixture
async def month(database_url: str) -> AsyncIterator[Month]:
    """23/11/2026 09:00 (time ticking): the organisation, the branch's group with 32 members
    (30 of them on Telegram), and the plan job run once."""
    async with month_world(database_url) as m:
        yield m


@contextlib.asynccontextmanager
async def month_world(database_url: str) -> AsyncIterator[Month]:
    """The `month` fixture's world, for other modules' fixtures."""
    traveller = time_machine.travel(START, tick=True)
    clock = traveller.start()
    try:
        async with _sandbox() as sb:
            stack = contextlib.AsyncExitStack()
            try:
                env = await stack.enter_async_context(running_bot(database_url, sandbox=sb))
                org = await _setup(env)
                await plan_job(_ctx(env))
                async with env.app.session_factory() as s:
                    planned = list(
                        await s.scalars(select(Meeting).where(Meeting.branch_id == org.b1))
                    )
                yield Month(database_url, sb, clock, env, org, planned, stack)
            finally:
                await stack.aclose()
    finally:
        traveller.stop()


async def _schedule_december(m: Month) -> tuple[dict[str, Any], dict[str, Any]]:
    """The secretary confirms December's planned meeting by the quick form, moved to the 3rd
    (its check screen confirmed): their reply and the group's announcement."""
    check = await m.env.ask(o.SEC1, "/schedule 03/12 19:30 Nhà văn hóa thôn 3")
    await m.env.press(o.SEC1, check, StepCb(act=StepAct.OK).pack())
    said = m.t("mtg.sched.done", id=m.dec.id)
    done = await m.env.world.wait_for_bot_message(
        o.SEC1, lambda x: x["message_id"] == check["message_id"] and said in x["text"]
    )
    announce = await _group_msg(m.env, m.t("mtg.announce.head"))
    return done, announce


async def _confirm_change(m: Month, shown: dict[str, Any], act: PickAct, meeting_id: int) -> None:
    """Press the check screen's confirmation of a reschedule or cancel (an edit of `shown`)."""
    data = ChangeCb(act=act, meeting_id=meeting_id).pack()
    check = await m.env.world.wait_for_bot_message(
        o.SEC1,
        lambda x: (
            x["message_id"] == shown["message_id"]
            and data in [b["callback_data"] for b in buttons(x)]
        ),
    )
    await m.env.press(o.SEC1, check, data)


async def _schedule_thematic(m: Month) -> int:
    """The secretary schedules a thematic meeting with the wizard (10/12 19:30, usual place, an
    agenda); its id once the group has been told."""
    env = m.env
    kind = await env.ask(o.SEC1, "/schedule")
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    cal = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: m.t("mtg.sched.date") in x["text"], after=kind["message_id"] - 1
    )
    await env.press(o.SEC1, cal, CalCb(act=CalAction.MONTH, y=2026, m=12, d=0).pack())
    day = CalCb(act=CalAction.DAY, y=2026, m=12, d=10).pack()
    cal = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: day in [b["callback_data"] for b in buttons(x)]
    )
    await env.press(o.SEC1, cal, day)
    times = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: m.t("mtg.sched.time", date="Thứ Năm, 10/12/2026") in x["text"]
    )
    await env.press(o.SEC1, times, TimeCb(h=19, mi=30).pack())
    place = await env.world.wait_for_bot_message(
        o.SEC1,
        lambda x: x["message_id"] == times["message_id"] and m.t("mtg.sched.place") in x["text"],
    )
    await env.press(o.SEC1, place, StepCb(act=StepAct.PLACE).pack())
    await env.world.wait_for_bot_message(
        o.SEC1,
        lambda x: x["message_id"] == times["message_id"] and m.t("mtg.sched.agenda") in x["text"],
    )
    check = await env.ask(o.SEC1, THEMATIC_AGENDA)
    await env.press(o.SEC1, check, StepCb(act=StepAct.OK).pack())
    await _group_msg(env, m.t("meetings.kind.thematic"))
    return await _thematic_id(m)


async def _thematic_id(m: Month) -> int:
    await m.env.settle()
    async with m.env.app.session_factory() as s:
        found = await s.scalar(
            select(Meeting.id).where(Meeting.branch_id == m.org.b1, Meeting.kind == "thematic")
        )
    assert found is not None
    return int(found)


def _rsvp(m: Month, answer: RsvpChoice) -> str:
    return RsvpCb(meeting_id=m.dec.id, a=answer).pack()


TAPPERS = [o.SEC1, o.DEP1, o.MEM1, *(FIRST_EXTRA + i for i in range(EXTRA))]
NO_TAPS = {o.MEM1, LAST, FIRST_EXTRA}


async def _everyone_taps(m: Month, announce: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Once all is sent and handled, the 30 members on Telegram tap the announcement at once
    (3 of them "absent"): when the taps began (loop time) and the callback answers."""
    env = m.env
    await _delivered(env)
    await env.settle()
    yes, no = _rsvp(m, RsvpChoice.YES), _rsvp(m, RsvpChoice.NO)
    t0 = asyncio.get_running_loop().time()
    queries = [
        env.world.press_button(uid, announce["message_id"], GROUP, no if uid in NO_TAPS else yes)
        for uid in TAPPERS
    ]
    return t0, [await env.world.wait_for_callback_answer(q) for q in queries]


async def _remind_24h(m: Month) -> None:
    """The deputy's answer is forgotten, then 24 h before the meeting the reminders job runs
    (twice)."""
    async with m.env.app.session_factory() as s, s.begin():
        await s.execute(
            MeetingRsvp.__table__.delete().where(
                MeetingRsvp.member_id == m.org.members["M2"], MeetingRsvp.meeting_id == m.dec.id
            )
        )
    m.clock.move_to(local(2026, 12, 2, 19, 31))
    await reminders_job(m.ctx)
    await reminders_job(m.ctx)
    await _delivered(m.env)


def _private_24h(m: Month, uid: int) -> list[dict[str, Any]]:
    return [x for x in m.env.world.bot_messages(uid) if m.t("mtg.remind.member_24h") in x["text"]]


async def _reminded_and_answered(m: Month, *, thematic: bool = False) -> dict[str, Any]:
    """December confirmed (and the thematic meeting scheduled, if asked), everyone's taps, the
    24 h reminders sent, and the deputy answering from the private one: the announcement."""
    _done, announce = await _schedule_december(m)
    if thematic:
        await _schedule_thematic(m)
    await _everyone_taps(m, announce)
    await _remind_24h(m)
    await m.env.press(o.DEP1, _private_24h(m, o.DEP1)[0], _rsvp(m, RsvpChoice.YES))
    await m.env.settle()
    return announce


def _count(m: Month, chat: int, text: str) -> int:
    return len([x for x in m.env.world.bot_messages(chat) if text in x["text"]])


async def test_the_rule_plans_the_coming_months(month: Month) -> None:
    """The plan job (run by the fixture) plans December's and January's regular meetings."""
    assert {(x.period_month, x.status) for x in month.planned} >= {
        (12, "planned"),
        (1, "planned"),
    }


async def test_bad_quick_forms_are_refused_and_change_nothing(month: Month) -> None:
    env, t = month.env, month.t
    before = await _fingerprint(env)
    bad = {
        "/schedule 30/02 19:30 Nhà văn hóa": t("meetings.error.bad_date", date="30/02"),
        "/schedule 03/12 25:00 Nhà văn hóa": t("meetings.error.bad_time", time="25:00"),
        "/schedule hôm nào đó": t("meetings.error.form_unparsable"),
        "/schedule 01/11 19:30": t("meetings.error.in_past"),
        "/schedule 03/12 19:30 " + "x" * 300: t(
            "meetings.error.place_too_long", length=300, max=256
        ),
    }
    for text, expected in bad.items():
        reply = await env.ask(o.SEC1, text)
        assert expected in reply["text"], (text, reply["text"])
    refused = await env.ask(o.MEM1, "/schedule 03/12 19:30 Nhà văn hóa")
    assert refused["text"].startswith(t("people.refused", reason=""))
    assert await _fingerprint(env) == before


async def test_quick_form_confirms_the_planned_meeting_and_announces_it(month: Month) -> None:
    """Moved to the 3rd, the planned regular meeting keeps its identity."""
    done, announce = await _schedule_december(month)
    assert month.t("mtg.sched.done", id=month.dec.id) in done["text"]
    assert month.when(2026, 12, 3, 19, 30) in done["text"]
    assert "Nhà văn hóa thôn 3" in announce["text"]
    assert month.t("mtg.counts", yes=0, no=0, pending=32) in announce["text"]


async def test_wizard_schedules_a_thematic_meeting_refusing_bad_steps(month: Month) -> None:
    env, t = month.env, month.t
    kind = await env.ask(o.SEC1, "/schedule")
    assert any(b["callback_data"] == KindCb(kind="thematic").pack() for b in buttons(kind))
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    cal = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: t("mtg.sched.date") in x["text"], after=kind["message_id"] - 1
    )
    past = await env.press(o.SEC1, cal, CalCb(act=CalAction.DAY, y=2026, m=11, d=20).pack())
    assert past["show_alert"] is True and t("meetings.error.in_past") in past["text"]
    nxt = await env.press(o.SEC1, cal, CalCb(act=CalAction.MONTH, y=2026, m=12, d=0).pack())
    assert nxt.get("show_alert") is not True
    day = CalCb(act=CalAction.DAY, y=2026, m=12, d=10).pack()
    cal = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: day in [b["callback_data"] for b in buttons(x)]
    )
    await env.press(o.SEC1, cal, day)
    times = await env.world.wait_for_bot_message(
        o.SEC1, lambda x: t("mtg.sched.time", date="Thứ Năm, 10/12/2026") in x["text"]
    )
    bad_time = await env.ask(o.SEC1, "25:00")
    assert t("meetings.error.bad_time", time="25:00") in bad_time["text"]
    await env.press(o.SEC1, times, TimeCb(h=19, mi=30).pack())
    place = await env.world.wait_for_bot_message(
        o.SEC1,
        lambda x: x["message_id"] == times["message_id"] and t("mtg.sched.place") in x["text"],
    )
    await env.press(o.SEC1, place, StepCb(act=StepAct.PLACE).pack())
    await env.world.wait_for_bot_message(
        o.SEC1,
        lambda x: x["message_id"] == times["message_id"] and t("mtg.sched.agenda") in x["text"],
    )
    too_long = await env.ask(o.SEC1, "a" * 3001)
    assert t("meetings.error.agenda_too_long", length=3001, max=3000) in too_long["text"]
    check = await env.ask(o.SEC1, THEMATIC_AGENDA)
    assert check["text"].startswith(t("mtg.sched.check", details="").strip())
    assert "&lt;" not in check["text"]
    await env.press(o.SEC1, check, StepCb(act=StepAct.OK).pack())
    done = t("mtg.sched.done", id=await _thematic_id(month))
    await env.world.wait_for_bot_message(o.SEC1, lambda x: done in x["text"])
    thematic = await _group_msg(env, t("meetings.kind.thematic"))
    assert "Nghị quyết" in thematic["text"]


async def test_thirty_taps_edit_the_announcement_coalesced(month: Month) -> None:
    env = month.env
    _done, announce = await _schedule_december(month)
    t0, answers = await _everyone_taps(month, announce)
    assert all(a.get("show_alert") is not True for a in answers)
    final = await _group_msg(env, month.t("mtg.counts", yes=27, no=3, pending=2), wait=15)
    elapsed = asyncio.get_running_loop().time() - t0
    edits = [
        e
        for e in env.world.sent_log()
        if e["method"] == "editMessageText" and e.get("chat_id") == GROUP
    ]
    assert 1 <= len(edits) <= int(elapsed / 3) + 2, (len(edits), elapsed)
    assert final["message_id"] == announce["message_id"]


async def test_absent_member_gives_the_reason_in_a_tap(month: Month) -> None:
    """The absent member with a private chat is asked why; one tap records it."""
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await env.press(o.MEM1, announce, _rsvp(month, RsvpChoice.NO))
    ask = await env.world.wait_for_bot_message(
        o.MEM1, lambda x: t("mtg.rsvp.ask_reason") in x["text"]
    )
    await env.press(o.MEM1, ask, ReasonCb(meeting_id=month.dec.id, code="sick").pack())
    saved = t("mtg.rsvp.reason_saved", reason=t("meetings.reason.sick"))
    await env.world.wait_for_bot_message(o.MEM1, lambda x: saved in x["text"])


async def test_member_without_private_chat_is_told_once_in_the_group(month: Month) -> None:
    """Told once in the group, with a deep link, however often they tap."""
    env = month.env
    _done, announce = await _schedule_december(month)
    hint_re = month.like("mtg.hint.private_chat")
    yes, no = _rsvp(month, RsvpChoice.YES), _rsvp(month, RsvpChoice.NO)
    await env.world.wait_for_callback_answer(
        env.world.press_button(LAST, announce["message_id"], GROUP, no)
    )
    hint = await env.world.wait_for_bot_message(
        GROUP, lambda x: hint_re.search(x["text"]) is not None
    )
    found = hint_re.search(hint["text"])
    assert found is not None
    assert "https://t.me/" in found["url"] and "?start=" in found["url"]
    for data in (yes, no):
        await env.world.wait_for_callback_answer(
            env.world.press_button(LAST, announce["message_id"], GROUP, data)
        )
    await _delivered(env)
    hints = [x for x in env.world.bot_messages(GROUP) if hint_re.search(x["text"])]
    assert len(hints) == 1


async def test_stranger_and_forged_buttons_change_nothing(month: Month) -> None:
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    before = await _fingerprint(env)
    stranger = await env.press(o.STRANGER, announce, _rsvp(month, RsvpChoice.YES))
    assert stranger["show_alert"] is True
    assert t("meetings.error.not_member") in stranger["text"]
    picker = await env.ask(o.SEC3, "/cancel Bão")  # branch B03's own planned meetings
    assert t("mtg.pick") in picker["text"]
    forged = await env.press(
        o.SEC3, picker, PickCb(act=PickAct.CANCEL, meeting_id=month.dec.id).pack(), strict=False
    )
    assert forged["show_alert"] is True
    assert forged["text"].startswith(t("people.refused", reason=""))
    assert await _fingerprint(env) == before


async def test_24h_reminders_reach_the_group_and_the_silent_once(month: Month) -> None:
    """24 h before: the group and each member who has not answered, exactly once."""
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _everyone_taps(month, announce)
    await _remind_24h(month)
    reminder = await _group_msg(env, t("mtg.remind.group_24h"))
    assert month.when(2026, 12, 3, 19, 30) in reminder["text"]
    private = _private_24h(month, o.DEP1)
    assert len(private) == 1 and buttons(private[0])
    # The deputy answers from the private reminder.
    answer = await env.press(o.DEP1, private[0], _rsvp(month, RsvpChoice.YES))
    assert answer.get("show_alert") is not True


async def test_restart_sends_nothing_twice_and_the_2h_reminder_once(month: Month) -> None:
    await _reminded_and_answered(month)
    await month.restart()
    t = month.t
    await reminders_job(month.ctx)
    await _delivered(month.env)
    assert _count(month, GROUP, t("mtg.remind.group_24h")) == 1
    month.clock.move_to(local(2026, 12, 3, 17, 31))
    await reminders_job(month.ctx)
    await reminders_job(month.ctx)
    await _delivered(month.env)
    assert _count(month, GROUP, t("mtg.remind.group_2h")) == 1


async def test_reschedule_after_reminders_corrects_those_told(month: Month) -> None:
    env, t = month.env, month.t
    await _reminded_and_answered(month, thematic=True)
    month.clock.move_to(local(2026, 12, 3, 17, 31))
    await reminders_job(month.ctx)
    await _delivered(env)

    pick = await env.ask(
        o.SEC1,
        "/reschedule 03/12 20:30 Hội trường thôn",
        predicate=lambda x: t("mtg.pick") in x["text"],
    )
    assert t("mtg.pick") in pick["text"]  # two open meetings: which one?
    await env.press(o.SEC1, pick, PickCb(act=PickAct.RESCHEDULE, meeting_id=month.dec.id).pack())
    await _confirm_change(month, pick, PickAct.RESCHEDULE, month.dec.id)
    await env.world.wait_for_bot_message(o.SEC1, lambda x: t("mtg.resched.done") in x["text"])
    await _delivered(env)
    fix = await _group_msg(env, t("mtg.changed.head"))
    assert "19:30</s>" not in fix["text"] and "20:30" in fix["text"]
    assert "Hội trường thôn" in fix["text"]
    old, new = month.when(2026, 12, 3, 19, 30), month.when(2026, 12, 3, 20, 30)
    assert t("mtg.changed.when", old=old, new=new) in fix["text"]
    # The deputy had a private reminder, so gets the correction; the secretary had none.
    assert _count(month, o.DEP1, t("mtg.changed.head"))
    assert not _count(month, o.SEC1, t("mtg.changed.head"))


async def test_cancel_needs_a_reason_and_tells_the_group(month: Month) -> None:
    env, t = month.env, month.t
    await _schedule_december(month)
    await _schedule_thematic(month)
    usage = t("mtg.cancel.usage")
    no_reason = await env.ask(o.SEC1, "/cancel", predicate=lambda x: usage in x["text"])
    assert usage in no_reason["text"]
    pick = await env.ask(
        o.SEC1, "/cancel Trùng lịch họp thôn", predicate=lambda x: t("mtg.pick") in x["text"]
    )
    thematic_id = next(
        int(b["callback_data"].split(":")[-1])
        for b in buttons(pick)
        if b["callback_data"].startswith("mpick") and t("meetings.kind.thematic") in b["text"]
    )
    await env.press(o.SEC1, pick, PickCb(act=PickAct.CANCEL, meeting_id=thematic_id).pack())
    await _confirm_change(month, pick, PickAct.CANCEL, thematic_id)
    await env.world.wait_for_bot_message(o.SEC1, lambda x: t("mtg.cancel.done") in x["text"])
    await _delivered(env)
    cancel = await _group_msg(env, t("mtg.cancelled.head", reason="Trùng lịch họp thôn"))
    assert "Trùng lịch họp thôn" in cancel["text"]


async def test_rsvp_after_the_start_is_refused(month: Month) -> None:
    env = month.env
    _done, announce = await _schedule_december(month)
    month.clock.move_to(local(2026, 12, 3, 19, 31))  # a minute after the start
    before = await _fingerprint(env)
    to_member = select(func.count()).select_from(OutboxEntry).where(OutboxEntry.chat_id == o.MEM1)
    async with env.app.session_factory() as s:
        member_rows = await s.scalar(to_member)
    late = await env.press(o.MEM1, announce, _rsvp(month, RsvpChoice.YES))
    assert late["show_alert"] is True and month.t("meetings.error.rsvp_closed") in late["text"]
    after = await _fingerprint(env)
    # The whole outbox is not compared: the jobs the clock's jump made due (the reminders' sweep,
    # the editor closing the announcement at the start) may queue their own rows meanwhile.
    assert (after["meetings"], after["rsvps"]) == (before["meetings"], before["rsvps"])
    async with env.app.session_factory() as s:
        assert await s.scalar(to_member) == member_rows  # nothing queued for the late presser


async def test_tet_shift_tells_the_secretary(database_url: str) -> None:
    async with _sandbox() as sb, running_bot(database_url, sandbox=sb) as env:
        org = await _setup(env)
        async with env.app.session_factory() as s, s.begin():
            branch = await s.get(Branch, org.b1)
            assert branch is not None
            branch.meeting_day = 6  # 06/02/2027 is Tết
        head = _t(env, "mtg.shift.head", branch="Chi bộ thôn Một", month="02/2027")
        with time_machine.travel(local(2027, 1, 20, 9), tick=True):
            await plan_job(_ctx(env))
            await plan_job(_ctx(env))
            msg = await env.world.wait_for_bot_message(o.SEC1, lambda m: head in m["text"])
            await _delivered(env)
        shift = _like(env, "meetings.holiday_shift").search(msg["text"])
        assert shift is not None, msg["text"]
        assert "Tết" in shift["holiday"]
        assert "11/02/2027" in shift["date"] and "06/02/2027" in shift["rule_date"]
        assert _t(env, "mtg.shift.hint") in msg["text"]
        assert len([m for m in env.world.bot_messages(o.SEC1) if head in m["text"]]) == 1
