"""Issue 5, part A end to end: plan, schedule (wizard and quick form), announce, 30 RSVPs with
coalesced edits, reminders exactly once across a restart, reschedule and cancel with
corrections, Tết shifting, and every bad input refused with nothing changed.

Time is moved with time-machine; scheduler jobs are run directly (`ctx` of the running app), so
nothing waits for APScheduler's interval except the live-count edits, which are awaited as
events in the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import time_machine
from sqlalchemy import func, select

from bot.jobs.meetings import plan_job, reminders_job
from bot.scheduler import JobContext
from handlers.meetings.callbacks import (
    CalAction,
    CalCb,
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


async def _group_msg(env: BotEnv, needle: str, after: int = 0, wait: float = 10) -> dict[str, Any]:
    return await env.world.wait_for_bot_message(
        GROUP, lambda m: needle in m.get("text", ""), timeout=wait, after=after
    )


async def test_a_month_of_meetings(database_url: str) -> None:
    start = local(2026, 11, 23, 9)
    async with _sandbox() as sb:
        traveller = time_machine.travel(start, tick=True)
        clock = traveller.start()
        try:
            await _story(database_url, sb, clock)
        finally:
            traveller.stop()


async def _story(database_url: str, sb: Any, clock: Any) -> None:
    async with running_bot(database_url, sandbox=sb) as env:
        org = await _setup(env)
        ctx = _ctx(env)

        # 1. The rule plans December's meeting (5th, 19:30): the secretary confirms it in a tap.
        await plan_job(ctx)
        async with env.app.session_factory() as s:
            planned = list(await s.scalars(select(Meeting).where(Meeting.branch_id == org.b1)))
        assert {(m.period_month, m.status) for m in planned} >= {(12, "planned"), (1, "planned")}

        # 2. Bad quick forms: a clear message each, nothing changes.
        before = await _fingerprint(env)
        bad = {
            "/schedule 30/02 19:30 Nhà văn hóa": "không có trong lịch",
            "/schedule 03/12 25:00 Nhà văn hóa": "không hợp lệ",
            "/schedule hôm nào đó": "Không hiểu lệnh",
            "/schedule 01/11 19:30": "đã qua",
            "/schedule 03/12 19:30 " + "x" * 300: "Địa điểm quá dài",
        }
        for text, needle in bad.items():
            reply = await env.ask(o.SEC1, text)
            assert needle in reply["text"], (text, reply["text"])
        refused = await env.ask(o.MEM1, "/schedule 03/12 19:30 Nhà văn hóa")
        assert "⛔" in refused["text"]
        assert await _fingerprint(env) == before

        # 3. Quick form confirms the planned regular meeting, moved to the 3rd (same identity).
        dec = next(m for m in planned if m.period_month == 12)
        done = await env.ask(o.SEC1, "/schedule 03/12 19:30 Nhà văn hóa thôn 3")
        assert f"số {dec.id}" in done["text"] and "Thứ Năm, 03/12/2026 lúc 19:30" in done["text"]
        announce = await _group_msg(env, "THÔNG BÁO SINH HOẠT")
        assert "Nhà văn hóa thôn 3" in announce["text"] and "Chưa trả lời: 32" in announce["text"]

        # 4. The wizard: a thematic meeting on the 10th at 19:30, usual place, with an agenda.
        kind = await env.ask(o.SEC1, "/schedule")
        assert any(b["callback_data"] == KindCb(kind="thematic").pack() for b in buttons(kind))
        await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
        cal = await env.world.wait_for_bot_message(
            o.SEC1, lambda m: "Chọn ngày" in m["text"], after=kind["message_id"] - 1
        )
        past = await env.press(o.SEC1, cal, CalCb(act=CalAction.DAY, y=2026, m=11, d=20).pack())
        assert past["show_alert"] is True and "đã qua" in past["text"]
        nxt = await env.press(o.SEC1, cal, CalCb(act=CalAction.MONTH, y=2026, m=12, d=0).pack())
        assert nxt.get("show_alert") is not True
        cal = await env.world.wait_for_bot_message(
            o.SEC1,
            lambda m: (
                CalCb(act=CalAction.DAY, y=2026, m=12, d=10).pack()
                in [b["callback_data"] for b in buttons(m)]
            ),
        )
        await env.press(o.SEC1, cal, CalCb(act=CalAction.DAY, y=2026, m=12, d=10).pack())
        times = await env.world.wait_for_bot_message(o.SEC1, lambda m: "10/12/2026" in m["text"])
        bad_time = await env.ask(o.SEC1, "25:00")
        assert "không hợp lệ" in bad_time["text"]
        await env.press(o.SEC1, times, TimeCb(h=19, mi=30).pack())
        place = await env.world.wait_for_bot_message(
            o.SEC1, lambda m: m["message_id"] == times["message_id"] and "địa điểm" in m["text"]
        )
        await env.press(o.SEC1, place, StepCb(act=StepAct.PLACE).pack())
        await env.world.wait_for_bot_message(
            o.SEC1, lambda m: m["message_id"] == times["message_id"] and "nội dung" in m["text"]
        )
        too_long = await env.ask(o.SEC1, "a" * 3001)
        assert "Nội dung quá dài" in too_long["text"]
        check = await env.ask(o.SEC1, "Học tập chuyên đề năm 2026 <Nghị quyết>")
        assert "Kiểm tra lại" in check["text"] and "&lt;" not in check["text"]
        await env.press(o.SEC1, check, StepCb(act=StepAct.OK).pack())
        await env.world.wait_for_bot_message(o.SEC1, lambda m: "Đã lên lịch" in m["text"])
        thematic = await _group_msg(env, "Sinh hoạt chuyên đề")
        assert "Nghị quyết" in thematic["text"]

        # 5. 30 members tap within seconds; the announcement is edited, coalesced.
        await _delivered(env)
        await env.settle()
        tappers = [o.SEC1, o.DEP1, o.MEM1, *(FIRST_EXTRA + i for i in range(EXTRA))]
        no_taps = {o.MEM1, FIRST_EXTRA + EXTRA - 1, FIRST_EXTRA}
        yes = RsvpCb(meeting_id=dec.id, a=RsvpChoice.YES).pack()
        no = RsvpCb(meeting_id=dec.id, a=RsvpChoice.NO).pack()
        t0 = asyncio.get_running_loop().time()
        queries = [
            env.world.press_button(
                uid, announce["message_id"], GROUP, no if uid in no_taps else yes
            )
            for uid in tappers
        ]
        answers = [await env.world.wait_for_callback_answer(q, timeout=10) for q in queries]
        assert all(a.get("show_alert") is not True for a in answers)
        final = await _group_msg(env, "Có mặt: 27 · ❌ Vắng: 3 · ⏳ Chưa trả lời: 2", wait=15)
        elapsed = asyncio.get_running_loop().time() - t0
        edits = [
            e
            for e in env.world.sent_log()
            if e["method"] == "editMessageText" and e.get("chat_id") == GROUP
        ]
        assert 1 <= len(edits) <= int(elapsed / 3) + 2, (len(edits), elapsed)
        assert final["message_id"] == announce["message_id"]

        # The absent member with a private chat is asked why; one tap records it.
        ask = await env.world.wait_for_bot_message(o.MEM1, lambda m: "chọn lý do" in m["text"])
        await env.press(o.MEM1, ask, ReasonCb(meeting_id=dec.id, code="sick").pack())
        await env.world.wait_for_bot_message(o.MEM1, lambda m: "Đã ghi lý do" in m["text"])
        # The one without a private chat: told once in the group, with a deep link.
        hint = await _group_msg(env, "trò chuyện riêng")
        assert "https://t.me/" in hint["text"] and "?start=" in hint["text"]
        last = FIRST_EXTRA + EXTRA - 1
        for data in (yes, no):
            await env.world.wait_for_callback_answer(
                env.world.press_button(last, announce["message_id"], GROUP, data)
            )
        await _delivered(env)
        hints = [m for m in env.world.bot_messages(GROUP) if "trò chuyện riêng" in m["text"]]
        assert len(hints) == 1

        # Bad RSVPs: a stranger, a forged button to another branch's meeting.
        before = await _fingerprint(env)
        stranger = await env.press(o.STRANGER, announce, yes)
        assert stranger["show_alert"] is True and "không phải đảng viên" in stranger["text"]
        picker = await env.ask(o.SEC3, "/cancel Bão")  # branch B03's own planned meetings
        assert "Chọn buổi" in picker["text"]
        forged = await env.press(
            o.SEC3, picker, PickCb(act=PickAct.CANCEL, meeting_id=dec.id).pack(), strict=False
        )
        assert forged["show_alert"] is True and forged["text"].startswith("⛔")
        assert await _fingerprint(env) == before

        # 6. 24 h before: the group and each member who has not answered, exactly once.
        async with env.app.session_factory() as s, s.begin():
            await s.execute(
                MeetingRsvp.__table__.delete().where(
                    MeetingRsvp.member_id == org.members["M2"], MeetingRsvp.meeting_id == dec.id
                )
            )
        clock.move_to(local(2026, 12, 2, 19, 31))
        await reminders_job(ctx)
        await reminders_job(ctx)
        await _delivered(env)
        reminder = await _group_msg(env, "còn 24 giờ")
        assert "03/12/2026 lúc 19:30" in reminder["text"]
        private = [m for m in env.world.bot_messages(o.DEP1) if "chưa cho biết" in m["text"]]
        assert len(private) == 1 and buttons(private[0])
        # The deputy answers from the private reminder.
        await env.press(o.DEP1, private[0], yes)
        await env.settle()

    # 7. Restart: a new bot on the same database sends nothing twice; 2 h before, once.
    async with running_bot(database_url, sandbox=sb) as env:
        ctx = _ctx(env)
        await reminders_job(ctx)
        await _delivered(env)
        group_24 = [m for m in env.world.bot_messages(GROUP) if "còn 24 giờ" in m["text"]]
        assert len(group_24) == 1
        clock.move_to(local(2026, 12, 3, 17, 31))
        await reminders_job(ctx)
        await reminders_job(ctx)
        await _delivered(env)
        group_2 = [m for m in env.world.bot_messages(GROUP) if "còn 2 giờ" in m["text"]]
        assert len(group_2) == 1

        # 8. Reschedule after the reminders: corrections to everyone told before.
        # (The restart's catch-up planned February 2027, whose Tết shift notice may arrive too.)
        def picker(m: dict[str, Any]) -> bool:
            return "Chọn buổi" in m["text"]

        pick = await env.ask(o.SEC1, "/reschedule 03/12 20:30 Hội trường thôn", predicate=picker)
        assert "Chọn buổi" in pick["text"]  # two open meetings: which one?
        await env.press(o.SEC1, pick, PickCb(act=PickAct.RESCHEDULE, meeting_id=dec.id).pack())
        await env.world.wait_for_bot_message(o.SEC1, lambda m: "Đã đổi lịch" in m["text"])
        await _delivered(env)
        fix = await _group_msg(env, "THAY ĐỔI LỊCH")
        assert "19:30</s>" not in fix["text"] and "20:30" in fix["text"]
        assert "Hội trường thôn" in fix["text"]
        # The deputy had a private reminder, so gets the correction; the secretary had none.
        assert [m for m in env.world.bot_messages(o.DEP1) if "THAY ĐỔI" in m["text"]]
        assert not [m for m in env.world.bot_messages(o.SEC1) if "THAY ĐỔI LỊCH" in m["text"]]

        # 9. Cancel the thematic meeting with a reason: the group is told.
        no_reason = await env.ask(o.SEC1, "/cancel", predicate=lambda m: "/cancel" in m["text"])
        assert "lý do" in no_reason["text"]
        pick = await env.ask(o.SEC1, "/cancel Trùng lịch họp thôn", predicate=picker)
        thematic_id = next(
            int(b["callback_data"].split(":")[-1])
            for b in buttons(pick)
            if b["callback_data"].startswith("mpick") and "chuyên đề" in b["text"]
        )
        await env.press(o.SEC1, pick, PickCb(act=PickAct.CANCEL, meeting_id=thematic_id).pack())
        await env.world.wait_for_bot_message(o.SEC1, lambda m: "Đã hủy" in m["text"])
        await _delivered(env)
        cancel = await _group_msg(env, "HỦY BUỔI SINH HOẠT")
        assert "Trùng lịch họp thôn" in cancel["text"]

        # 10. After the meeting started: RSVP refused, nothing changes.
        clock.move_to(local(2026, 12, 3, 20, 31))
        before = await _fingerprint(env)
        late = await env.press(o.MEM1, announce, yes)
        assert late["show_alert"] is True and "đã bắt đầu" in late["text"]
        assert await _fingerprint(env) == before


async def test_tet_shift_tells_the_secretary(database_url: str) -> None:
    async with _sandbox() as sb, running_bot(database_url, sandbox=sb) as env:
        org = await _setup(env)
        async with env.app.session_factory() as s, s.begin():
            branch = await s.get(Branch, org.b1)
            assert branch is not None
            branch.meeting_day = 6  # 06/02/2027 is Tết
        with time_machine.travel(local(2027, 1, 20, 9), tick=True):
            await plan_job(_ctx(env))
            await plan_job(_ctx(env))
            msg = await env.world.wait_for_bot_message(
                o.SEC1, lambda m: "Tết" in m["text"], timeout=10
            )
            await _delivered(env)
        assert "11/02/2027" in msg["text"] and "06/02/2027" in msg["text"]
        assert len([m for m in env.world.bot_messages(o.SEC1) if "Tết" in m["text"]]) == 1
