"""Issue 21, control classes end to end: nothing is announced by surprise (class 1, 2), no
wizard leaves a live keyboard behind (class 3), every private message gets a helpful answer and
a private command in a group says where it works (class 6).

Built on the meetings month (`tests.e2e.test_meetings_schedule`: 23/11/2026, the branch's
group, the plan job run); every expected text is rendered from the catalogs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.types import BotCommandScopeChat
from sqlalchemy import select

from bot.app.jobs.meetings import live_counts_job
from bot.commands import ROLE_COMMANDS
from handlers.meetings.callbacks import (
    CalAction,
    CalCb,
    ChangeCb,
    KindCb,
    PickAct,
    PickCb,
    StepAct,
    StepCb,
)
from storage.models import Meeting
from tests import orgdata as o
from tests.e2e import test_meetings_schedule as base
from tests.e2e.test_meetings_schedule import (
    GROUP,
    Month,
    _fingerprint,
    _group_msg,
    _schedule_december,
)
from tests.helpers import buttons, local


@pytest.fixture
async def month(database_url: str) -> AsyncIterator[Month]:
    """The meetings month of `tests.e2e.test_meetings_schedule`."""
    async with base.month_world(database_url) as m:
        yield m


OK = StepCb(act=StepAct.OK).pack()
EDIT = StepCb(act=StepAct.EDIT).pack()
ABORT = StepCb(act=StepAct.ABORT).pack()


def _now(m: Month, chat: int, message_id: int) -> dict[str, Any]:
    """A message as the chat shows it now (after any edits)."""
    return next(x for x in m.env.world.bot_messages(chat) if x["message_id"] == message_id)


async def _edited(m: Month, chat: int, message_id: int, needle: str) -> dict[str, Any]:
    """The message once an edit put `needle` in it (a press is answered before its edit)."""
    return await m.env.world.wait_for_bot_message(
        chat, lambda x: x["message_id"] == message_id and needle in x["text"]
    )


async def _meeting(m: Month, meeting_id: int) -> Meeting:
    async with m.env.app.session_factory() as s:
        found = await s.get(Meeting, meeting_id)
    assert found is not None
    return found


async def test_class1_quick_form_shows_what_it_understood_and_announces_only_on_confirm(
    month: Month,
) -> None:
    env, t = month.env, month.t
    before = await _fingerprint(env)
    check = await env.ask(o.SEC1, "/schedule 15/12 7 giờ tối Nhà văn hóa thôn 3")
    assert check["text"].startswith(t("mtg.sched.check", details="").strip())
    assert month.when(2026, 12, 15, 19, 0) in check["text"]
    assert "Nhà văn hóa thôn 3" in check["text"]
    assert t("mtg.sched.check_next") in check["text"]
    assert [b["callback_data"] for b in buttons(check)] == [OK, EDIT, ABORT]
    assert [b["text"] for b in buttons(check)][-1] == t("mtg.sched.abort")
    assert await _fingerprint(env) == before  # nothing written, nobody told
    await env.press(o.SEC1, check, OK)
    announce = await _group_msg(env, t("mtg.announce.head"))
    assert month.when(2026, 12, 15, 19, 0) in announce["text"]


async def test_class1_tối_after_the_time_is_not_the_place(month: Month) -> None:
    env, t = month.env, month.t
    check = await env.ask(o.SEC1, "/schedule 15/12 19:30 tối")
    assert month.when(2026, 12, 15, 19, 30) in check["text"]
    assert "📍" not in check["text"] or ": tối" not in check["text"]
    assert (
        t("mtg.sched.odd_hour", time="19:30", earliest="06:00", latest="22:00")
        not in (check["text"])
    )


async def test_class1_odd_hour_is_questioned_and_edit_goes_back_to_the_calendar(
    month: Month,
) -> None:
    env, t = month.env, month.t
    check = await env.ask(o.SEC1, "/schedule 03/12 03:00")
    question = t("mtg.sched.odd_hour", time="03:00", earliest="06:00", latest="22:00")
    assert question in check["text"]
    await env.press(o.SEC1, check, EDIT)
    cal = await _edited(month, o.SEC1, check["message_id"], t("mtg.sched.date"))
    assert any(b["callback_data"].startswith("mcal") for b in buttons(cal))


async def test_class1_quick_form_makes_a_thematic_meeting(month: Month) -> None:
    env, t = month.env, month.t
    check = await env.ask(o.SEC1, "/schedule chuyên đề 10/12 19:30 Hội trường")
    assert t("meetings.kind.thematic") in check["text"]
    await env.press(o.SEC1, check, OK)
    await _group_msg(env, t("meetings.kind.thematic"))
    async with env.app.session_factory() as s:
        kinds = list(await s.scalars(select(Meeting.kind).where(Meeting.place == "Hội trường")))
    assert kinds == ["thematic"]


async def test_class1_a_cancelled_month_asks_before_it_comes_back(month: Month) -> None:
    env, t = month.env, month.t
    await _schedule_december(month)
    pick = await env.ask(o.SEC1, "/cancel Bão số 9", predicate=lambda x: t("mtg.pick") in x["text"])
    await env.press(o.SEC1, pick, PickCb(act=PickAct.CANCEL, meeting_id=month.dec.id).pack())
    await _edited(month, o.SEC1, pick["message_id"], t("mtg.change.ok_cancel").split()[-1])
    await env.press(o.SEC1, pick, ChangeCb(act=PickAct.CANCEL, meeting_id=month.dec.id).pack())
    await _edited(month, o.SEC1, pick["message_id"], t("mtg.cancel.done"))
    assert (await _meeting(month, month.dec.id)).status == "cancelled"
    check = await env.ask(o.SEC1, "/schedule 17/12 19:30")
    assert t("mtg.sched.revives", month="12/2026", reason="Bão số 9") in check["text"]
    assert (await _meeting(month, month.dec.id)).status == "cancelled"  # asked, not revived
    await env.press(o.SEC1, check, OK)
    await _edited(month, o.SEC1, check["message_id"], t("mtg.sched.done", id=month.dec.id))
    assert (await _meeting(month, month.dec.id)).status == "scheduled"


async def test_class2_cancel_shows_the_meeting_and_keeps_it_unless_confirmed(
    month: Month,
) -> None:
    env, t = month.env, month.t
    await _schedule_december(month)
    before = await _fingerprint(env)
    pick = await env.ask(
        o.SEC1, "/cancel Trùng lịch", predicate=lambda x: t("mtg.pick") in x["text"]
    )
    await env.press(o.SEC1, pick, PickCb(act=PickAct.CANCEL, meeting_id=month.dec.id).pack())
    head = t("mtg.change.check_cancel", details="", reason="").split("\n")[0]
    check = await _edited(month, o.SEC1, pick["message_id"], head)
    assert "Trùng lịch" in check["text"]
    labels = [b["text"] for b in buttons(check)]
    assert labels == [t("mtg.change.ok_cancel"), t("mtg.change.keep")]
    assert await _fingerprint(env) == before  # one tap did not cancel nor announce
    await env.press(o.SEC1, check, ABORT)
    await _edited(month, o.SEC1, pick["message_id"], t("mtg.sched.aborted"))
    assert await _fingerprint(env) == before


async def test_class2_bare_cancel_inside_a_wizard_only_leaves_it(month: Month) -> None:
    env, t = month.env, month.t
    kind = await env.ask(o.SEC1, "/schedule")
    await env.settle()  # a person reads the screen before typing
    left = await env.ask(o.SEC1, "/cancel")
    assert left["text"] == t("mtg.left")
    assert t("mtg.cancel.usage") not in left["text"]
    assert buttons(_now(month, o.SEC1, kind["message_id"])) == []  # its keyboard went too


async def test_class2_typing_hủy_leaves_a_wizard(month: Month) -> None:
    env, t = month.env, month.t
    kind = await env.ask(o.SEC1, "/schedule")
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    await _edited(month, o.SEC1, kind["message_id"], t("mtg.sched.date"))
    left = await env.ask(o.SEC1, "Hủy")
    assert left["text"] == t("mtg.left")
    pressed = await env.press(
        o.SEC1, kind, CalCb(act=CalAction.DAY, y=2026, m=11, d=30).pack(), strict=False
    )
    assert pressed["text"] == t("kit.expired")


async def test_class3_a_typed_answer_takes_the_earlier_keyboard_away(month: Month) -> None:
    env, t = month.env, month.t
    kind = await env.ask(o.SEC1, "/schedule")
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    cal = await _edited(month, o.SEC1, kind["message_id"], t("mtg.sched.date"))
    assert buttons(cal)
    await env.settle()
    times = await env.ask(o.SEC1, "10/12")
    assert t("mtg.sched.time", date="Thứ Năm, 10/12/2026") in times["text"]
    await env.settle()
    assert buttons(_now(month, o.SEC1, kind["message_id"])) == []
    place = await env.ask(o.SEC1, "7 giờ tối")
    assert t("mtg.sched.place") in place["text"]
    await env.settle()
    assert buttons(_now(month, o.SEC1, times["message_id"])) == []


async def test_class6_every_private_message_gets_a_helpful_answer(month: Month) -> None:
    env, t = month.env, month.t
    free = await env.ask(o.MEM1, "Cho tôi hỏi lịch họp tháng này")
    assert free["text"] == month.t("convo.free_text")
    capital = await env.ask(o.SEC1, "/Schedule")
    assert capital["text"] == t("convo.lowercase", command="/schedule")
    unknown = await env.ask(o.MEM1, "/lichhop")
    assert unknown["text"] == t("convo.unknown_command", command="/lichhop")


async def test_class6_a_private_command_in_a_group_says_where_to_use_it(month: Month) -> None:
    env, t = month.env, month.t
    me = await env.app.bot.me()
    said = await env.ask(o.SEC1, "/schedule", chat_id=GROUP)
    assert said["text"] == t("convo.private_only", command="/schedule", username=me.username)
    chatter = env.last_bot_id(GROUP)
    env.world.send_text(o.MEM1, "/start@another_bot", GROUP)
    env.world.send_text(o.MEM1, "Họp lúc mấy giờ?", GROUP)
    await env.silence(GROUP, after=chatter)


async def test_class5_a_private_reminder_shows_the_answer_once_given(month: Month) -> None:
    env, t = month.env, month.t
    await _schedule_december(month)
    await base._remind_24h(month)
    reminder = base._private_24h(month, o.MEM1)[-1]
    await env.press(o.MEM1, reminder, base._rsvp(month, base.RsvpChoice.YES))
    said = t("mtg.rsvp.your_answer", answer=t("mtg.rsvp.yes"))
    edited = await _edited(month, o.MEM1, reminder["message_id"], said)
    assert buttons(edited)  # still there, to change the answer
    await env.press(o.MEM1, edited, base._rsvp(month, base.RsvpChoice.NO))
    changed = t("mtg.rsvp.your_answer", answer=t("mtg.rsvp.no"))
    edited = await _edited(month, o.MEM1, reminder["message_id"], changed)
    assert said not in edited["text"]


async def test_class5_a_private_reminder_follows_an_answer_given_in_the_group(
    month: Month,
) -> None:
    """The member answers on the group's announcement: their private reminder stops asking
    (it says the answer, its buttons kept to change it), and once the meeting starts it keeps
    the answer without buttons."""
    env, t = month.env, month.t
    _done, announce = await _schedule_december(month)
    await base._remind_24h(month)
    reminder = base._private_24h(month, o.MEM1)[-1]
    assert t("mtg.remind.answer") in reminder["text"] and buttons(reminder)
    await env.press(o.MEM1, announce, base._rsvp(month, base.RsvpChoice.NO))
    await live_counts_job(month.ctx)
    said = t("mtg.rsvp.your_answer", answer=t("mtg.rsvp.no"))
    edited = await _edited(month, o.MEM1, reminder["message_id"], said)
    assert t("mtg.remind.answer") not in edited["text"]
    assert [b["callback_data"] for b in buttons(edited)] == [
        base._rsvp(month, base.RsvpChoice.YES),
        base._rsvp(month, base.RsvpChoice.NO),
    ]
    # A member who has not answered keeps the question as sent.
    other = base._private_24h(month, o.SEC1)[-1]
    assert _now(month, o.SEC1, other["message_id"])["text"] == other["text"]
    month.clock.move_to(local(2026, 12, 3, 19, 31))  # a minute after the start
    await live_counts_job(month.ctx)
    final = t("mtg.remind.final", answer=t("mrep.answer.no"))
    closed = await _edited(month, o.MEM1, reminder["message_id"], final)
    assert said not in closed["text"] and buttons(closed) == []
    unanswered = await _edited(month, o.SEC1, other["message_id"], t("mtg.announce.closed"))
    assert t("mtg.remind.answer") not in unanswered["text"] and buttons(unanswered) == []


async def test_class7_help_gives_the_menu_of_the_roles_the_person_has(month: Month) -> None:
    env = month.env
    help_text = await env.ask(o.MEM1, "/help")
    assert "help.visitor" not in help_text["text"]
    await env.settle()
    menu = await env.app.bot.get_my_commands(scope=BotCommandScopeChat(chat_id=o.MEM1))
    assert set(ROLE_COMMANDS["member"]) <= {c.command for c in menu}


async def test_class7_start_gives_the_menu_of_the_roles_at_once(month: Month) -> None:
    """An imported secretary's first /start already sets their chat's menu (found by issue 21's
    role stories: it was the three base commands until /help or /whoami)."""
    env = month.env
    await env.ask(o.SEC1, "/start")
    await env.settle()
    menu = await env.app.bot.get_my_commands(scope=BotCommandScopeChat(chat_id=o.SEC1))
    assert set(ROLE_COMMANDS["member"] + ROLE_COMMANDS["secretary"]) <= {c.command for c in menu}
    # Someone the bot does not know keeps the base menu and what joining needs.
    await env.ask(o.STRANGER, "/start")
    await env.settle()
    menu = await env.app.bot.get_my_commands(scope=BotCommandScopeChat(chat_id=o.STRANGER))
    assert not set(ROLE_COMMANDS["secretary"]) & {c.command for c in menu}
