"""The checks made at a press before the bot asks for a text (`prompts.before_text`) agree with
the acts themselves, status by status, so nobody is asked to type what will be refused and
nobody is refused a prompt for an act that would go through; they write nothing. The redrawn
card keeps its buttons only while the person may still act on it there.

The world is tests/feedback_world.py (Monday 23/11/2026; B01 in commune T01U01, whose group is
UNIT_CHAT; the district committee's group COMMITTEE_CHAT).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.access.policy import load_actor
from bot.services.feedback import prompts, workflow
from bot.services.feedback.common import FeedbackError
from bot.services.feedback.levels import LevelRef
from bot.services.feedback.prompts import TextAct
from storage.models.feedback import LevelType
from tests.feedback_world import (
    COMMITTEE_CHAT,
    UNIT_CHAT,
    UNIT_OFFICER,
    FeedbackWorld,
    feedback_world,
)
from tests.orgdata import MEM1, SEC1, SEC2

LEVEL_ACTS = (TextAct.ASK, TextAct.ANSWER, TextAct.CLOSE, TextAct.REJECT)


async def _outcome(fw: FeedbackWorld, who: int, fn: Any, *args: Any, **kw: Any) -> str:
    """ "ok" or the refusal's key, the transaction rolled back either way."""
    async with fw.w.factory() as s:
        await s.begin()
        try:
            actor = await load_actor(s, who)
            await fn(s, actor, *args, **kw)
            return "ok"
        except FeedbackError as err:
            return err.key
        finally:
            await s.rollback()


async def _check(s: Any, actor: Any, act: TextAct, item_id: int, version: int, via: Any) -> None:
    await prompts.before_text(s, actor, act, item_id, version, via_chat=via)


def _acting(fw: FeedbackWorld, text: str) -> Any:
    async def act(s: Any, actor: Any, a: TextAct, item_id: int, version: int, via: Any) -> None:
        await prompts.with_text(s, fw.w.ctx, actor, a, item_id, version, text, via_chat=via)

    return act


async def _at_unit(fw: FeedbackWorld, status: str) -> tuple[int, int]:
    """An item at the commune (raised for the branch by its secretary) in `status`."""
    item = await fw.raise_(SEC1, on_behalf=True)
    v = item.version

    async def step(fn: Any, **kw: Any) -> None:
        nonlocal v
        done = await fw.run(UNIT_OFFICER, fn, item.id, v, via_chat=UNIT_CHAT, **kw)
        v = done.version

    if status == "taken":
        await step(workflow.take)
    elif status == "asked":
        await step(workflow.ask, question="Ở đâu?")
    elif status == "answered":
        await step(workflow.answer, text="Đã xử lý.")
    elif status == "closed":
        await step(workflow.close, reason="Trùng kiến nghị khác.")
    return item.id, v


@pytest.mark.parametrize("status", ["open", "taken", "asked", "answered", "closed"])
async def test_the_press_check_agrees_with_the_act(engine: AsyncEngine, status: str) -> None:
    fw = await feedback_world(engine)
    item_id, v = await _at_unit(fw, status)
    before = await fw.state()
    act_with = _acting(fw, "Nội dung")
    for act in LEVEL_ACTS:
        for who, via in ((UNIT_OFFICER, UNIT_CHAT), (UNIT_OFFICER, COMMITTEE_CHAT), (SEC2, None)):
            checked = await _outcome(fw, who, _check, act, item_id, v, via)
            acted = await _outcome(fw, who, act_with, act, item_id, v, via)
            assert checked == acted, (status, act, who, via)
        stale = await _outcome(fw, UNIT_OFFICER, _check, act, item_id, v - 1, UNIT_CHAT)
        assert stale == ("fb.item_closed" if status == "closed" else "fb.stale")
    assert await fw.state() == before


@pytest.mark.parametrize("status", ["open", "asked", "answered"])
async def test_the_submitters_checks_agree_with_reopen_and_details(
    engine: AsyncEngine, status: str
) -> None:
    fw = await feedback_world(engine)
    item_id, v = await _at_unit(fw, status)
    before = await fw.state()
    act_with = _acting(fw, "Chưa rõ")
    for act in (TextAct.REOPEN, TextAct.INFO):
        for who in (SEC1, MEM1, UNIT_OFFICER):
            checked = await _outcome(fw, who, _check, act, item_id, v, None)
            acted = await _outcome(fw, who, act_with, act, item_id, v, None)
            assert checked == acted, (status, act, who)
    assert await fw.state() == before


async def test_reopening_is_refused_at_the_press_once_used(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    item_id, v = await _at_unit(fw, "answered")
    done = await fw.run(SEC1, workflow.reopen, item_id, v, "Chưa thỏa đáng")
    done = await fw.run(
        UNIT_OFFICER, workflow.answer, item_id, done.version, via_chat=UNIT_CHAT, text="Lần 2"
    )
    key = await _outcome(fw, SEC1, _check, TextAct.REOPEN, item_id, done.version, None)
    assert key == "fb.reopen_used"


async def test_the_redrawn_card_keeps_buttons_only_where_one_may_act(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    item_id, v = await _at_unit(fw, "open")
    async with fw.w.factory() as s, s.begin():
        officer = await load_actor(s, UNIT_OFFICER)
        view, targets = await prompts.forward_choices(s, officer, item_id, via_chat=UNIT_CHAT)
        assert LevelRef(LevelType.DISTRICT, fw.org.district) in [t.ref for t in targets]
        text, markup = await prompts.card_of(
            s, fw.w.ctx, officer, view.item, "vi", via_chat=UNIT_CHAT
        )
        assert view.number in text and markup is not None
        to = LevelRef(LevelType.DISTRICT, fw.org.district)
        moved = await workflow.forward(s, fw.w.ctx, officer, item_id, v, via_chat=UNIT_CHAT, to=to)
        text, markup = await prompts.card_of(s, fw.w.ctx, officer, moved, "vi", via_chat=UNIT_CHAT)
        assert view.number in text and markup is None
        _, markup = await prompts.card_of(
            s, fw.w.ctx, officer, moved, "en", via_chat=COMMITTEE_CHAT
        )
        assert markup is not None
