"""Guidance not acknowledged by its deadline: the branch's secretary is nudged in private with
Đã nhận for each chat (one message), which acknowledges for that chat; 2 days later the rest
is escalated; a chat whose person in charge cannot be reminded is escalated at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buttons.nudges import NudgeAct
from bot.services import broadcasts as bc
from bot.services.access.policy import load_actor
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.nudges import NudgeCb, NudgeError, check_press, sweep
from storage.models import NudgeEvent, OutboxEntry
from storage.models.nudges import EscalationReason
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B4, G_U1, G_WG, BcWorld, bc_world
from tests.helpers import local
from tests.nudge_world import callbacks

EVERYONE = Audience(
    parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS})
)


async def _sweep(w: BcWorld) -> None:
    async with w.factory() as s, s.begin():
        await sweep(s, w.ctx)


async def _events(w: BcWorld) -> list[NudgeEvent]:
    async with w.factory() as s:
        return list(await s.scalars(select(NudgeEvent).order_by(NudgeEvent.id)))


async def _nudges(w: BcWorld, chat: int) -> list[OutboxEntry]:
    async with w.factory() as s:
        stmt = select(OutboxEntry).where(
            OutboxEntry.origin_type == "nudge", OutboxEntry.chat_id == chat
        )
        return list(await s.scalars(stmt.order_by(OutboxEntry.id)))


async def test_unacknowledged_guidance_nudges_the_secretary_then_escalates(
    engine: AsyncEngine,
) -> None:
    w = await bc_world(engine)
    draft = await w.draft(
        EVERYONE, ack_required=True, ack_deadline=w.clock.now() + timedelta(days=3)
    )
    await w.send(draft)
    await w.deliver()
    async with w.factory() as s, s.begin():
        await bc.acknowledge(
            s, w.ctx, await load_actor(s, o.STRANGER), draft, G_U1, via_chat=G_U1
        )  # anyone in a unit's chat
    w.clock.t = local(2026, 11, 26, 10, 59)
    await _sweep(w)
    assert await _events(w) == []
    w.clock.t = local(2026, 11, 26, 11, 0)
    await _sweep(w)
    [mine] = await _nudges(w, o.SEC1)  # B01's group, B04's group, their own copy: one message
    acks = [c for c in callbacks(mine) if c.startswith("ndg:k:")]
    assert NudgeCb(a=NudgeAct.ACK, id=draft, c=G_B1).pack() in acks
    assert NudgeCb(a=NudgeAct.ACK, id=draft, c=G_B4).pack() in acks
    assert len(acks) == 3 and "Hướng dẫn số 1" in (mine.text or "")
    # The working group's leader never wrote to the bot: the district's admin hears at once.
    [esc] = [e for e in await _events(w) if e.step == "escalation"]
    assert (esc.key, esc.chat_id, esc.reason) == (
        f"ack:{draft}:{G_WG}",
        o.ADMIN,
        EscalationReason.UNREACHABLE,
    )
    # Đã nhận on the nudge: what the button's handler does.
    async with w.factory() as s, s.begin():
        await check_press(s, w.ctx, NudgeAct.ACK, draft, G_B1)
        result = await bc.acknowledge(
            s, w.ctx, await load_actor(s, o.SEC1), draft, G_B1, via_chat=G_B1
        )
    assert result.status == "ok"
    async with w.factory() as s:
        with pytest.raises(NudgeError) as info:
            await check_press(s, w.ctx, NudgeAct.ACK, draft, G_B1)
    assert info.value.key == "nudge.already_done"
    w.clock.t = local(2026, 11, 27, 11, 0)
    await _sweep(w)
    assert len(await _nudges(w, o.SEC1)) == 2  # the second nudge: only what is still owed
    second = (await _nudges(w, o.SEC1))[-1]
    assert NudgeCb(a=NudgeAct.ACK, id=draft, c=G_B1).pack() not in callbacks(second)
    # 2 days after the deadline: B04's group to its commune (no chat; its admin never wrote
    # to the bot), so the district's admin.
    w.clock.t = local(2026, 11, 28, 11, 0)
    await _sweep(w)
    escalated = {e.key: e.chat_id for e in await _events(w) if e.step == "escalation"}
    assert escalated[f"ack:{draft}:{G_B4}"] == o.ADMIN
    assert f"ack:{draft}:{G_B1}" not in escalated
