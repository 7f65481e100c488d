"""Meeting messages through the outbox: languages, dedupe, corrections, limits, live counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.meetings import LiveCounts, RsvpCb, RsvpChoice
from bot.services.meetings.presentation import TEXT_LIMIT, announcement_text, rsvp_markup
from handlers.meetings import callbacks as handler_callbacks
from storage.models import Branch, Meeting, MeetingNotice, Member, TelegramUser
from storage.models.outbox import OutboxEntry
from tests.helpers import local
from tests.orgdata import DEP1, MEM1, SEC1, SEC3, MeetingWorld, meeting_world

GROUP = -100321
I18N = create_i18n("vi")


@pytest.fixture
async def world(engine: AsyncEngine) -> MeetingWorld:
    users = [
        TelegramUser(id=SEC1, first_name="Bí"),
        TelegramUser(id=DEP1, first_name="Phó", language="en"),
        TelegramUser(id=MEM1, first_name="Viên", telegram_language="en-US"),
    ]
    return await meeting_world(engine, GROUP, users)


async def _schedule(w: MeetingWorld, when: datetime, **kw: Any) -> int:
    async with w.factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        res = await svc.schedule_meeting(
            s, actor, w.ctx, w.org.b1, kind="regular", starts_at=when, **kw
        )
        return res.meeting.id


async def _outbox(w: MeetingWorld) -> list[OutboxEntry]:
    async with w.factory() as s:
        return list((await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all())


def test_rsvp_buttons_pack_like_the_handler_filter() -> None:
    assert handler_callbacks.RsvpCb is RsvpCb  # one definition for both sides
    row = rsvp_markup(I18N, "vi", 42)["inline_keyboard"][0]
    assert [RsvpCb.unpack(b["callback_data"]).a for b in row] == [RsvpChoice.YES, RsvpChoice.NO]
    assert [b["callback_data"] for b in row] == ["rsvp:42:y", "rsvp:42:n"]


async def test_announce_once_in_the_group_in_vietnamese(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30), place="Nhà văn hóa thôn 3")
    rows = await _outbox(world)
    assert [(r.chat_id, r.dedupe_key) for r in rows] == [(GROUP, f"mtg:{mid}:v1:announce:{GROUP}")]
    text = rows[0].text or ""
    assert "Thứ Năm, 03/12/2026 lúc 19:30" in text and "Nhà văn hóa thôn 3" in text
    assert "Chưa trả lời: 5" in text  # five active members, nobody answered yet
    buttons = rows[0].reply_markup["inline_keyboard"][0]  # type: ignore[index]
    assert [b["callback_data"] for b in buttons] == [f"rsvp:{mid}:y", f"rsvp:{mid}:n"]
    async with world.factory() as s, s.begin():
        meeting = await s.get(Meeting, mid)
        assert meeting is not None
        await world.notices(s).announce(meeting)  # again: same version, nothing new
    assert len(await _outbox(world)) == 1


async def test_reminders_in_each_language_exactly_once(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    world.clock.t = local(2026, 12, 2, 19, 31)
    async with world.factory() as s, s.begin():
        assert await world.notices(s).send_due_reminders() == 4
    async with world.factory() as s, s.begin():
        assert await world.notices(s).send_due_reminders() == 0  # the database says: done
    rows = {r.chat_id: r for r in (await _outbox(world))[1:]}
    assert set(rows) == {GROUP, SEC1, DEP1, MEM1}
    assert "Sinh hoạt: <b>ngày mai lúc 19:30</b>" in (rows[GROUP].text or "")
    assert "đồng chí cho biết có tham dự buổi sinh hoạt không?" in (rows[SEC1].text or "")
    assert "will you attend the meeting?" in (rows[DEP1].text or "")  # chose English
    assert "Thursday, 03/12/2026 at 19:30" in (rows[MEM1].text or "")  # Telegram's language
    assert all(r.dedupe_key and f"mtg:{mid}:v1:" in r.dedupe_key for r in rows.values())
    async with world.factory() as s:
        notices = (await s.scalars(select(MeetingNotice))).all()
    assert {n.dedupe_key for n in notices} == {r.dedupe_key for r in await _outbox(world)}


async def test_reschedule_and_cancel_correct_everyone_told_before(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    world.clock.t = local(2026, 12, 2, 19, 31)
    async with world.factory() as s, s.begin():
        await world.notices(s).send_due_reminders()
    async with world.factory() as s, s.begin():
        await svc.reschedule_meeting(
            s, await load_actor(s, SEC1), world.ctx, mid, starts_at=local(2026, 12, 4, 20, 0)
        )
    corrections = [
        r for r in await _outbox(world) if r.dedupe_key and ":correction:" in r.dedupe_key
    ]
    assert {r.chat_id for r in corrections} == {GROUP, SEC1, DEP1, MEM1}
    by_chat = {r.chat_id: r.text or "" for r in corrections}
    assert "03/12/2026 lúc 19:30</s> → <b>Thứ Sáu, 04/12/2026 lúc 20:00" in by_chat[GROUP]
    assert "Friday, 04/12/2026 at 20:00" in by_chat[DEP1]
    assert "Chưa trả lời" in by_chat[GROUP]  # the group's correction is the new live message
    async with world.factory() as s, s.begin():
        await svc.cancel_meeting(s, await load_actor(s, SEC1), world.ctx, mid, "Bão")
    cancels = [r for r in await _outbox(world) if r.dedupe_key and ":cancellation:" in r.dedupe_key]
    assert {r.chat_id for r in cancels} == {GROUP, SEC1, DEP1, MEM1}
    assert all(r.reply_markup is None for r in cancels)
    assert "Lý do: Bão" in next(r.text or "" for r in cancels if r.chat_id == GROUP)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    agenda=st.text(alphabet="<&>ấa \n", min_size=2900, max_size=3000),
    place=st.text(alphabet="<&ư ", min_size=200, max_size=256),
)
async def test_every_message_fits_telegram(world: MeetingWorld, agenda: str, place: str) -> None:
    async with world.factory() as s:
        branch = await s.get(Branch, world.org.b1)
        assert branch is not None
        branch.name = "&" * 200
        meeting = Meeting(
            branch_id=branch.id,
            kind="thematic",
            starts_at=local(2026, 12, 3, 19, 30),
            place=place.strip() or "x",
            title="<" * 256,
            agenda=agenda.strip() or "x",
        )
        text = announcement_text(I18N, "vi", meeting, branch, 1, 2, 3)
        await s.rollback()
    assert len(text) <= TEXT_LIMIT
    assert "Chưa trả lời: 3" in text  # the counts survive the cut
    assert "&lt;" in text and "<" + "<" not in text  # user text escaped


async def test_live_counts_coalesce_a_burst_into_one_edit(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    # The sender delivered the announcement as message 555.
    async with world.factory() as s, s.begin():
        await s.execute(update(OutboxEntry).values(state="sent", telegram_message_id=555))
        # 30 members in the branch, all answering in a burst.
        branch = await s.get(Branch, world.org.b1)
        assert branch is not None
        for i in range(27):
            s.add(
                Member(
                    code=f"B{i}",
                    full_name=f"Đảng viên {i}",
                    branch_id=branch.id,
                    district_id=branch.district_id,
                    role="member",
                    status="official",
                    telegram_id=10_000 + i,
                )
            )
    ids = [SEC1, DEP1, MEM1, *(10_000 + i for i in range(27))]
    mono = [100.0]
    edits: list[tuple[int, int, str]] = []

    async def edit(chat_id: int, message_id: int, text: str, _markup: dict[str, Any]) -> None:
        edits.append((chat_id, message_id, text))

    live = LiveCounts(every=3.0, monotonic=lambda: mono[0])
    for n, uid in enumerate(ids):
        async with world.factory() as s, s.begin():
            await svc.record_rsvp(s, world.clock, mid, uid, "yes" if n % 3 else "no")
        if n % 10 == 9:  # the job ticks during the burst, well under 3 s apart
            await live.flush(world.factory, world.ctx, edit)
            mono[0] += 1.0
    assert len(edits) == 1  # the first tick edited; the next two were within 3 s
    mono[0] += 3.0
    await live.flush(world.factory, world.ctx, edit)
    assert len(edits) == 2
    assert edits[-1][:2] == (GROUP, 555)
    assert "Có mặt: 20 · ❌ Vắng: 10 · ⏳ Chưa trả lời: 2" in edits[-1][2]
    mono[0] += 10.0
    await live.flush(world.factory, world.ctx, edit)
    assert len(edits) == 2  # nothing changed: no edit
    async with world.factory() as s:
        meeting = await s.get(Meeting, mid)
        assert meeting is not None
        assert (meeting.announce_chat_id, meeting.announce_message_id) == (GROUP, 555)


async def test_tet_shift_tells_the_secretary_once(world: MeetingWorld) -> None:
    world.clock.t = local(2027, 1, 20, 9)
    async with world.factory() as s, s.begin():
        branch = await s.get(Branch, world.org.b1)
        assert branch is not None
        branch.meeting_day = 6  # 06/02/2027 is Tết
    async with world.factory() as s, s.begin():
        await svc.generate_plan(s, world.clock, branch_ids=[world.org.b1])
        assert await world.notices(s).shift_notices() == 1
    async with world.factory() as s, s.begin():
        assert await world.notices(s).shift_notices() == 0
    rows = await _outbox(world)
    assert [r.chat_id for r in rows] == [SEC1]
    assert "Tết" in (rows[0].text or "") and "11/02/2027" in (rows[0].text or "")


async def test_tet_shift_waits_for_a_secretary_the_bot_can_write_to(
    world: MeetingWorld,
) -> None:
    """B03's secretary never opened a chat with the bot: nothing is sent (a send would only
    fail) and the shift stays pending until they do."""
    world.clock.t = local(2027, 1, 20, 9)
    async with world.factory() as s, s.begin():
        branch = await s.get(Branch, world.org.b3)
        assert branch is not None
        branch.meeting_day = 6  # 06/02/2027 is Tết
    async with world.factory() as s, s.begin():
        await svc.generate_plan(s, world.clock, branch_ids=[world.org.b3])
        assert await world.notices(s).shift_notices() == 0
    assert await _outbox(world) == []
    async with world.factory() as s, s.begin():
        s.add(TelegramUser(id=SEC3, first_name="Ba"))
    async with world.factory() as s, s.begin():
        assert await world.notices(s).shift_notices() == 1
    assert [r.chat_id for r in await _outbox(world)] == [SEC3]


async def test_private_chat_hint_once_per_person_and_group(world: MeetingWorld) -> None:
    mid = await _schedule(world, local(2026, 12, 3, 19, 30))
    async with world.factory() as s, s.begin():
        meeting = await s.get(Meeting, mid)
        assert meeting is not None
        n = world.notices(s)
        assert await n.private_chat_hint(meeting, SEC3, "Ba <b>", "https://t.me/b?start=m")
        assert not await n.private_chat_hint(meeting, SEC3, "Ba", "https://t.me/b")
    hints = [r for r in await _outbox(world) if r.dedupe_key and "pchat" in r.dedupe_key]
    assert len(hints) == 1 and "Ba &lt;b&gt;" in (hints[0].text or "")


async def test_meeting_far_ahead_gets_no_reminder_yet(world: MeetingWorld) -> None:
    await _schedule(world, local(2026, 12, 3, 19, 30))
    world.clock.t = local(2026, 12, 2, 19, 29)  # one minute before the 24 h mark
    async with world.factory() as s, s.begin():
        assert await world.notices(s).send_due_reminders() == 0
    world.clock.t += timedelta(minutes=2)
    async with world.factory() as s, s.begin():
        assert await world.notices(s).send_due_reminders() > 0
