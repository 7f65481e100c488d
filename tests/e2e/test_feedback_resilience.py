"""Issue 13's guarantees end to end: the bot replaced between two steps of an item's life loses
and repeats nothing (a /feedback draft half-way, a card's notices not yet sent, a prompt waiting
for its text), and with Telegram answering 5xx and 429 for a while every notice still arrives,
exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import time_machine

from bot.buttons.feedback import CardAct
from sandbox.testing import run_sandbox
from tests.e2e.feedback_world import (
    BRANCH_CHAT,
    PNG,
    UNIT_CHAT,
    FbWorld,
    card_button,
    feedback_world,
    number,
)
from tests.e2e.harness import running_bot
from tests.e2e.rosters_world import START, RosterWorld, _started
from tests.helpers import button, buttons


@asynccontextmanager
async def _bot(url: str, sandbox: Any, clock: Any, *, fresh: bool) -> AsyncIterator[FbWorld]:
    """One process of the bot on `url`, talking to `sandbox`: the feedback world on it."""
    async with running_bot(url, sandbox=sandbox) as env:
        await _started(env)
        if fresh:
            clock.move_to(START)  # started the day before: its catch-up found nothing due
        yield await feedback_world(RosterWorld(env, clock, [], {}, {}), fresh=fresh)


def _texts(fb: FbWorld, chat: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fb.w.sent(chat)]


async def test_a_restart_between_steps_loses_and_repeats_nothing(dan_phuong_url: str) -> None:
    traveller = time_machine.travel(START - timedelta(days=1), tick=True)
    clock = traveller.start()
    try:
        async with run_sandbox(port=0) as sb:
            # 1. Half-way through /feedback: the text typed, at the files step.
            async with _bot(dan_phuong_url, sb, clock, fresh=True) as fb:
                who = fb.member
                screen = await fb.say(who, "/feedback", fb.category_screen)
                await fb.tap(who, screen, "An ninh")
                files = await fb.say(who, "Đèn đường ngõ 3 hỏng.", fb.t("fbui.raise.files", max=10))
            # 2. A new process: the photo and "Xong" go on from the same draft; "Gửi", and the
            # process stops before the secretary's card is sent.
            async with _bot(dan_phuong_url, sb, clock, fresh=False) as fb:
                after = fb.env.last_bot_id(who)
                fb.env.world.upload_photo(who, None, PNG)
                await fb.env.world.wait_for_bot_message(
                    who, lambda m: "(1/10)" in (m.get("text") or ""), after=after
                )
                check = await fb.tap(who, files, fb.t("fbui.raise.files_done"))
                sent = await fb.env.press(who, check, button(check, fb.t("fbui.raise.send")))
                assert sent.get("show_alert") is not True
                await fb.env.settle()
            # 3. The next process sends what was queued, once; the secretary asks to answer.
            async with _bot(dan_phuong_url, sb, clock, fresh=False) as fb:
                await fb.w.delivered()
                (item,) = await fb.items()
                assert (item.category, len(await fb.files(item.id))) == ("security", 1)
                assert len(fb.cards(fb.secretary, item.id)) == 1
                card = fb.card(fb.secretary, item.id)
                await fb.press(fb.secretary, card, card_button(card, CardAct.ANSWER))
                assert (
                    fb.t("fbui.prompt.answer", item=number(item)) in fb.last(fb.secretary)["text"]
                )
            # 4. And the next one takes the typed answer: recorded once, told once.
            async with _bot(dan_phuong_url, sb, clock, fresh=False) as fb:
                await fb.typed(fb.secretary, "Đã báo công an xã.", "fbui.done.answer", item)
                item = await fb.item(item.id)
                assert (item.status, item.answer) == ("answered", "Đã báo công an xã.")
                assert await fb.actions(item.id) == ["raised", "answered"]
                answers = [t for t in _texts(fb, fb.member) if "Đã báo công an xã." in t]
                assert len(answers) == 1
                assert len(fb.cards(fb.secretary, item.id)) == 1
                assert len([t for t in _texts(fb, BRANCH_CHAT) if "Đã báo công an xã." in t]) == 1
    finally:
        traveller.stop()


async def test_notices_arrive_once_while_telegram_fails_for_a_while(fb: FbWorld) -> None:
    world = fb.env.world
    item = await fb.raised(fb.member, "Đề nghị cấp thẻ bảo hiểm y tế cho hộ cận nghèo.")
    no = number(item)
    # The commune's group and the member's chat fail for a while: 5xx, then 429.
    faults = [
        world.add_fault("server_error", method="sendMessage", chat_id=UNIT_CHAT, count=2),
        world.add_fault("retry_after", "sendMessage", chat_id=UNIT_CHAT, count=1, retry_after=1),
        world.add_fault("bad_gateway", method="sendMessage", chat_id=fb.member, count=1),
        world.add_fault("retry_after", "sendMessage", chat_id=fb.member, count=1, retry_after=1),
    ]
    card = fb.card(fb.secretary, item.id)
    await fb.press(fb.secretary, card, card_button(card, CardAct.FORWARD))
    targets = fb.targets(fb.secretary)
    await fb.press(fb.secretary, targets, button(targets, "Đảng bộ xã Đan Phượng"))
    assert len(fb.cards(UNIT_CHAT, item.id)) == 1
    moved = fb.t("fb.notice.moved", number=no, level="Đảng bộ xã Đan Phượng")
    assert _texts(fb, fb.member).count(moved) == 1

    # The answer: the branch's group and the member fail for a while too.
    faults += [
        world.add_fault("server_error", method="sendMessage", chat_id=BRANCH_CHAT, count=2),
        world.add_fault("retry_after", "sendMessage", chat_id=BRANCH_CHAT, count=1, retry_after=1),
        world.add_fault("server_error", method="sendMessage", chat_id=fb.member, count=1),
        world.add_fault("retry_after", "sendMessage", chat_id=fb.member, count=1, retry_after=1),
    ]
    card = fb.card(UNIT_CHAT, item.id)
    await fb.press(fb.unit_cadre, card, card_button(card, CardAct.ANSWER))
    await fb.typed(fb.unit_cadre, "Xã đã lập danh sách gửi huyện.", "fbui.done.answer", item)
    answers = [m for m in fb.w.sent(fb.member) if "Xã đã lập danh sách" in (m.get("text") or "")]
    assert len(answers) == 1
    assert [b["text"] for b in buttons(answers[0])][0] == fb.t("fb.button.accept")
    assert len([t for t in _texts(fb, BRANCH_CHAT) if "Xã đã lập danh sách" in t]) == 1
    assert len(faults) == 8 and all(f.fired == f.count for f in world.faults.faults)
