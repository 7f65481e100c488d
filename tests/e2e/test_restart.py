"""Conversations survive a restart of the bot (the embedded default keeps them in the
database): a schedule wizard at its confirm step and an absence reason half-way go on with the
same buttons after the process is replaced."""

from __future__ import annotations

import time_machine
from sqlalchemy import select

from bot.buttons.meetings import RsvpCb, RsvpChoice
from handlers.meetings.callbacks import (
    CalAction,
    CalCb,
    KindCb,
    ReasonCb,
    StepAct,
    StepCb,
    TimeCb,
)
from sandbox.testing import run_sandbox
from storage.models import ChatBinding, Meeting, MeetingRsvp
from tests import orgdata as o
from tests.e2e.harness import BotEnv, Msg, running_bot
from tests.helpers import local

GROUP = -100777


def _said(env: BotEnv, key: str) -> str:
    return env.app.i18n.t(key, "vi")


async def _wizard_to_confirm(env: BotEnv) -> Msg:
    """/schedule → thematic → 10/12 → 19:30 → the usual place → an agenda: the check screen."""
    kind = await env.ask(o.SEC1, "/schedule")
    await env.press(o.SEC1, kind, KindCb(kind="thematic").pack())
    await env.settle()
    await env.press(o.SEC1, kind, CalCb(act=CalAction.DAY, y=2026, m=12, d=10).pack(), strict=False)
    await env.settle()
    await env.press(o.SEC1, kind, TimeCb(h=19, mi=30).pack(), strict=False)
    await env.settle()
    await env.press(o.SEC1, kind, StepCb(act=StepAct.PLACE).pack(), strict=False)
    await env.settle()
    return await env.ask(o.SEC1, "Học tập Nghị quyết")


async def test_wizard_and_absence_reason_go_on_after_a_restart(database_url: str) -> None:
    with time_machine.travel(local(2026, 11, 23, 9), tick=True):
        async with run_sandbox(port=0) as sb:
            async with running_bot(database_url, sandbox=sb) as env:
                org = await o.build_org(env.app.engine)
                for uid, name in ((o.SEC1, "Bí"), (o.MEM1, "Viên")):
                    env.user(uid, name, "vi", started=True)
                members = {o.SEC1: "creator", o.MEM1: "member"}
                env.world.create_group(GROUP, "Thôn Một", members, bot_status="member")
                async with env.app.session_factory() as s, s.begin():
                    s.add(
                        ChatBinding(
                            chat_id=GROUP,
                            target_type="branch",
                            target_id=org.b1,
                            district_id=org.district,
                        )
                    )
                await env.ask(o.SEC1, "/schedule 03/12 19:30 Nhà văn hóa")
                await env.settle()
                async with env.app.session_factory() as s:
                    scheduled = select(Meeting.id).where(Meeting.status == "scheduled")
                    meeting_id = (await s.scalars(scheduled)).one()
                # The absence: "Vắng mặt" in the group, then "Other" in private: a reason to type.
                anchor = await env.app.bot.send_message(GROUP, "·")
                no = RsvpCb(meeting_id=meeting_id, a=RsvpChoice.NO).pack()
                env.world.press_button(o.MEM1, anchor.message_id, GROUP, no, strict=False)
                ask = await env.world.wait_for_bot_message(o.MEM1)
                other = ReasonCb(meeting_id=meeting_id, code="other").pack()
                await env.press(o.MEM1, ask, other)
                await env.settle()
                # The secretary's wizard, up to its confirm screen.
                check = await _wizard_to_confirm(env)
                assert check["text"].startswith(_said(env, "mtg.sched.check").split("{")[0])
            # The process is replaced: a new app on the same database and Telegram.
            async with running_bot(database_url, sandbox=sb) as env:
                ok = await env.press(o.SEC1, check, StepCb(act=StepAct.OK).pack())
                assert ok.get("text") != _said(env, "kit.expired")
                saved = await env.ask(o.MEM1, "Đi công tác tỉnh")
                await env.settle()
                async with env.app.session_factory() as s:
                    query = select(Meeting).where(Meeting.status == "scheduled")
                    kinds = sorted(m.kind for m in await s.scalars(query))
                    rsvp = (await s.scalars(select(MeetingRsvp))).one()
    assert kinds == ["regular", "thematic"]
    assert (rsvp.answer, rsvp.reason_code, rsvp.reason_text) == ("no", "other", "Đi công tác tỉnh")
    assert "Đi công tác tỉnh" in saved["text"]
