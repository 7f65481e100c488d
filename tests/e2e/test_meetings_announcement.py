"""Issue 21, classes 4 and 5 end to end: the group's announcement always shows the meeting as it
is now (after a reschedule, a cancel, the start), and people see what was answered (a member
their own answer, the secretary the absence reasons before the meeting).

Built on the meetings month (`tests.e2e.test_meetings_schedule`: 23/11/2026, the branch's
group, the plan job run); every expected text is rendered from the catalogs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.jobs.meetings import live_counts_job
from handlers.meetings.callbacks import PickAct, PickCb, ReasonCb, RsvpChoice
from storage.models import Member
from tests import orgdata as o
from tests.e2e import test_meetings_schedule as base
from tests.e2e.test_meetings_schedule import (
    FIRST_EXTRA,
    GROUP,
    Month,
    _confirm_change,
    _delivered,
    _group_msg,
    _rsvp,
    _schedule_december,
)
from tests.helpers import local


@pytest.fixture
async def month(database_url: str) -> AsyncIterator[Month]:
    """The meetings month of `tests.e2e.test_meetings_schedule`."""
    async with base.month_world(database_url) as m:
        yield m


def _keys(msg: dict[str, Any]) -> list[str]:
    """The callback data of a message's inline buttons as the chat shows them now."""
    rows = (msg.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b.get("callback_data", "") for row in rows for b in row]


async def _edited(m: Month, chat: int, message_id: int, needle: str) -> dict[str, Any]:
    """The message once an edit put `needle` in it."""
    return await m.env.world.wait_for_bot_message(
        chat, lambda x: x["message_id"] == message_id and needle in x["text"]
    )


async def _change(m: Month, command: str, act: PickAct) -> None:
    """The secretary's /reschedule or /cancel of December's meeting, picked and confirmed."""
    env = m.env
    shown = await env.ask(o.SEC1, command)
    if m.t("mtg.pick") in shown["text"]:
        await env.press(o.SEC1, shown, PickCb(act=act, meeting_id=m.dec.id).pack())
    await _confirm_change(m, shown, act, m.dec.id)


async def test_class4_announcement_shows_the_meeting_as_it_is_now_after_reschedule(
    month: Month,
) -> None:
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _delivered(env)
    assert _keys(announce)  # Có mặt / Vắng mặt
    await _change(month, "/reschedule 04/12 20:00 Hội trường thôn", PickAct.RESCHEDULE)
    await env.world.wait_for_bot_message(o.SEC1, lambda x: t("mtg.resched.done") in x["text"])
    # The short change notice, which now carries the buttons and the counts.
    old, new = month.when(2026, 12, 3, 19, 30), month.when(2026, 12, 4, 20, 0)
    notice = await _group_msg(env, t("mtg.changed.when", old=old, new=new))
    assert _keys(notice) == [_rsvp(month, RsvpChoice.YES), _rsvp(month, RsvpChoice.NO)]
    # The announcement itself is edited to the new day and place, its buttons gone.
    now = await _edited(month, GROUP, announce["message_id"], t("mtg.announce.superseded"))
    assert new in now["text"] and "Hội trường thôn" in now["text"]
    assert old not in now["text"] and "Nhà văn hóa thôn 3" not in now["text"]
    assert _keys(now) == []


def _answerable(m: Month, chat: int) -> list[dict[str, Any]]:
    """The chat's messages that carry live Có mặt / Vắng mặt buttons now."""
    rsvp = {_rsvp(m, RsvpChoice.YES), _rsvp(m, RsvpChoice.NO)}
    return [x for x in m.env.world.bot_messages(chat) if rsvp & set(_keys(x))]


async def test_class4_after_a_reschedule_one_group_message_carries_the_buttons(
    month: Month,
) -> None:
    """Announced, reminded 24 h before (the group's reminder has the buttons too), then moved:
    the change notice alone carries the buttons and the counts; the announcement and the
    reminder show the new time without buttons; a member's private reminder likewise."""
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await base._remind_24h(month)
    reminder = await _group_msg(env, t("mtg.remind.group_24h"))
    assert len(_answerable(month, GROUP)) == 2  # the announcement and the reminder
    private = base._private_24h(month, o.MEM1)[-1]
    await _change(month, "/reschedule 04/12 20:00 Hội trường thôn", PickAct.RESCHEDULE)
    await env.world.wait_for_bot_message(o.SEC1, lambda x: t("mtg.resched.done") in x["text"])
    await _delivered(env)
    old, new = month.when(2026, 12, 3, 19, 30), month.when(2026, 12, 4, 20, 0)
    notice = await _group_msg(env, t("mtg.changed.when", old=old, new=new))
    await live_counts_job(month.ctx)
    superseded = t("mtg.announce.superseded")
    for earlier in (announce, reminder):
        now = await _edited(month, GROUP, earlier["message_id"], superseded)
        assert new in now["text"] and old not in now["text"] and _keys(now) == []
    (live,) = _answerable(month, GROUP)
    assert live["message_id"] == notice["message_id"]
    # The new state is shown once: the counts and the call to answer in the live one only.
    counts = t("mtg.counts", yes=0, no=0, pending=32)
    shown = [x for x in env.world.bot_messages(GROUP) if counts in x["text"]]
    assert [x["message_id"] for x in shown] == [notice["message_id"]]
    # The member's private reminder of the old time: the new time, no buttons; the private
    # change notice carries them.
    now = await _edited(month, o.MEM1, private["message_id"], superseded)
    assert new in now["text"] and _keys(now) == []
    (mine,) = _answerable(month, o.MEM1)
    assert t("mtg.changed.head") in mine["text"]


async def test_class4_announcement_shows_the_meeting_as_it_is_now_after_cancel(
    month: Month,
) -> None:
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _delivered(env)
    await _change(month, "/cancel Trùng lịch họp thôn", PickAct.CANCEL)
    await env.world.wait_for_bot_message(o.SEC1, lambda x: t("mtg.cancel.done") in x["text"])
    head = t("mtg.cancelled.head", reason="Trùng lịch họp thôn")
    await _group_msg(env, head, after=announce["message_id"])  # the cancellation notice
    now = await _edited(month, GROUP, announce["message_id"], head)
    assert t("mtg.announce.ask") not in now["text"]
    assert _keys(now) == []


async def test_class4_rsvp_buttons_go_when_rsvp_closes(month: Month) -> None:
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _delivered(env)
    await env.press(o.MEM1, announce, _rsvp(month, RsvpChoice.YES))
    counts = t("mtg.counts", yes=1, no=0, pending=31)
    await _edited(month, GROUP, announce["message_id"], counts)
    month.clock.move_to(local(2026, 12, 3, 19, 31))  # a minute after the start
    await live_counts_job(month.ctx)
    now = await _edited(month, GROUP, announce["message_id"], t("mtg.announce.closed"))
    assert counts in now["text"]  # the final counts stay
    assert t("mtg.announce.ask") not in now["text"]
    assert _keys(now) == []


async def _full_name(m: Month, telegram_id: int) -> str:
    async with m.env.app.session_factory() as s:
        name = await s.scalar(select(Member.full_name).where(Member.telegram_id == telegram_id))
    assert name is not None
    return name


async def _absent_because_sick(m: Month, announce: dict[str, Any]) -> None:
    """The member taps Vắng mặt in the group and gives the reason in private."""
    env, t = m.env, m.t
    await env.press(o.MEM1, announce, _rsvp(m, RsvpChoice.NO))
    ask = await env.world.wait_for_bot_message(
        o.MEM1, lambda x: t("mtg.rsvp.ask_reason") in x["text"]
    )
    await env.press(o.MEM1, ask, ReasonCb(meeting_id=m.dec.id, code="sick").pack())
    saved = t("mtg.rsvp.reason_saved", reason=t("meetings.reason.sick"))
    await env.world.wait_for_bot_message(o.MEM1, lambda x: saved in x["text"])


async def test_class5_member_sees_own_answer(month: Month) -> None:
    """In /meeting and /meetings, in private: the member's own answer with its reason; one who
    has not answered is told so."""
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _delivered(env)
    await _absent_because_sick(month, announce)
    answer = t("mrep.answer.no_because", reason=t("meetings.reason.sick"))
    detail = await env.ask(o.MEM1, f"/meeting {month.dec.id}")
    assert t("mrep.detail.mine", answer=answer) in detail["text"]
    listed = await env.ask(o.MEM1, "/meetings")
    assert t("mrep.list.mine", answer=answer) in listed["text"]
    # The deputy has not answered: both views say so.
    detail = await env.ask(o.DEP1, f"/meeting {month.dec.id}")
    assert t("mrep.detail.mine_none") in detail["text"]
    listed = await env.ask(o.DEP1, "/meetings")
    assert t("mrep.list.mine_none") in listed["text"]


async def test_class5_secretary_sees_absence_reasons_before_the_meeting(month: Month) -> None:
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await _delivered(env)
    detail = await env.ask(o.SEC1, f"/meeting {month.dec.id}")
    assert t("mrep.detail.absences_none") in detail["text"]
    await _absent_because_sick(month, announce)
    await env.press(FIRST_EXTRA, announce, _rsvp(month, RsvpChoice.NO))  # no reason given
    await env.settle()
    detail = await env.ask(o.SEC1, f"/meeting {month.dec.id}")
    assert t("mrep.detail.absences", n=2) in detail["text"]
    sick = t(
        "mrep.detail.absence",
        name=await _full_name(month, o.MEM1),
        reason=t("meetings.reason.sick"),
    )
    silent = t(
        "mrep.detail.absence",
        name=await _full_name(month, FIRST_EXTRA),
        reason=t("mrep.detail.no_reason"),
    )
    assert sick in detail["text"] and silent in detail["text"]
    # A member sees no one else's reason.
    member_view = await env.ask(o.MEM1, f"/meeting {month.dec.id}")
    assert t("mrep.detail.absences", n=2) not in member_view["text"]
