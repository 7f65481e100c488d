"""Đã nhận: who counts in which chat, twice, the wrong chat or a forged broadcast; the one
reminder before the deadline; the silent chats after it, for the nudges feature."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import broadcasts as bc
from bot.services.access.policy import load_actor
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.broadcasts.acks import reminder_at
from storage.models import BroadcastRecipient
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B4, G_U1, G_WG, BcWorld, bc_world

EVERYONE = Audience(
    parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS})
)


async def _sent(w: BcWorld, *, ack: bool = True, days: int = 3) -> int:
    deadline = w.clock.now() + timedelta(days=days) if ack else None
    draft = await w.draft(EVERYONE, ack_required=ack, ack_deadline=deadline)
    await w.send(draft)
    await w.deliver()
    return draft


async def _press(w: BcWorld, who: int, broadcast_id: int, chat_id: int) -> bc.AckResult:
    async with w.factory() as s, s.begin():
        return await bc.acknowledge(
            s, w.ctx, await load_actor(s, who), broadcast_id, chat_id, via_chat=chat_id
        )


async def _acks(w: BcWorld, broadcast_id: int) -> dict[int | None, int | None]:
    return {r.chat_id: r.ack_by for r in await w.recipients(broadcast_id) if r.chat_id}


async def test_who_counts_in_a_branch_group(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    b = await _sent(w)
    # A member, and another branch's secretary: told who should press; nothing recorded.
    for who in (o.MEM1, o.SEC2, o.STRANGER):
        result = await _press(w, who, b, G_B1)
        assert (result.status, result.key) == ("refused", "bc.ack.leaders_only")
        assert result.params == {"names": "Nguyễn Văn Bí, Trần Thị Phó"}
        text = w.ctx.i18n.t(result.key, "vi", **result.params)
        assert "bí thư hoặc phó bí thư" in text and "Nguyễn Văn Bí" in text
    assert set((await _acks(w, b)).values()) == {None}
    ok = await _press(w, o.DEP1, b, G_B1)
    assert (ok.status, ok.key, ok.params) == ("ok", "bc.ack.thanks", {"name": "Chi bộ thôn Một"})
    again = await _press(w, o.SEC1, b, G_B1)
    assert (again.status, again.key, again.params) == (
        "already",
        "bc.ack.already",
        {"when": "Thứ Hai, 23/11/2026 lúc 11:00"},
    )
    assert (await _acks(w, b))[G_B1] == o.DEP1


async def test_private_working_group_and_unit_chats(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    b = await _sent(w)
    assert (await _press(w, o.SEC1, b, o.SEC1)).status == "ok"
    member = await _press(w, o.WG_MEMBER, b, G_WG)
    assert (member.status, member.key, member.params) == (
        "refused",
        "bc.ack.group_leader_only",
        {"name": "Bùi Văn Tổ"},
    )
    assert (await _press(w, o.WG_LEADER, b, G_WG)).status == "ok"
    assert (await _press(w, o.STRANGER, b, G_U1)).status == "ok"  # anyone in a unit's chat
    acks = await _acks(w, b)
    assert acks == {G_B1: None, G_B4: None, o.SEC1: o.SEC1, G_U1: o.STRANGER, G_WG: o.WG_LEADER}


async def test_wrong_chat_forged_broadcast_and_no_ack_are_refused(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    b = await _sent(w)
    plain = await _sent(w, ack=False)
    for broadcast_id, chat_id in (
        (b, -999),  # a chat the broadcast did not go to
        (b, o.SEC2),  # someone's private chat it did not go to
        (b + 100, G_B1),  # a broadcast that does not exist
        (plain, G_B1),  # a broadcast that asked for no acknowledgement
    ):
        with pytest.raises(bc.BroadcastError) as err:
            await _press(w, o.SEC1, broadcast_id, chat_id)
        assert err.value.key == "bc.not_recipient"
    # A draft never sent: not a recipient either.
    draft = await w.draft(
        EVERYONE, ack_required=True, ack_deadline=w.clock.now() + timedelta(days=1)
    )
    with pytest.raises(bc.BroadcastError):
        await _press(w, o.SEC1, draft, G_B1)
    async with w.factory() as s:
        assert (
            await s.scalars(
                select(BroadcastRecipient).where(BroadcastRecipient.ack_at.is_not(None))
            )
        ).all() == []


async def test_a_branch_without_leaders_cannot_acknowledge(engine: AsyncEngine) -> None:
    """B04's only leader is SEC1; with them gone the branch is told to update its records."""
    from sqlalchemy import update

    from storage.models import Member

    w = await bc_world(engine)
    b = await _sent(w)
    async with w.factory() as s, s.begin():
        await s.execute(update(Member).where(Member.code == "M11").values(active=False))
    result = await _press(w, o.SEC1, b, G_B4)
    assert (result.status, result.key) == ("refused", "bc.ack.no_leader")


async def test_one_reminder_before_the_deadline_as_a_reply(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    b = await _sent(w, days=3)
    assert (await _press(w, o.SEC1, b, G_B1)).status == "ok"
    broadcast = await w.broadcast(b)
    due = reminder_at(broadcast)
    assert due == broadcast.ack_deadline - timedelta(hours=24)  # type: ignore[operator]

    async def run() -> int:
        async with w.factory() as s, s.begin():
            return await bc.reminders_due(s, w.ctx)

    assert await run() == 0  # not yet
    w.clock.t = due  # type: ignore[assignment]
    assert await run() == 4  # G_B4, SEC1's private chat, G_U1, G_WG
    rows = await w.outbox("broadcast_reminder")
    copies = {r.chat_id: r.telegram_message_id for r in await w.outbox()}
    assert {r.chat_id for r in rows} == {G_B4, o.SEC1, G_U1, G_WG}
    for r in rows:
        assert r.reply_to_message_id == copies[r.chat_id] and r.kind == "reminder"
        assert r.reply_markup["inline_keyboard"][0][0]["callback_data"] == f"bca:{b}"  # type: ignore[index]
    texts = {r.chat_id: r.text or "" for r in rows}
    assert (
        "bí thư hoặc phó bí thư" in texts[G_B4] and "Thứ Năm, 26/11/2026 lúc 11:00" in texts[G_B4]
    )
    assert "đồng chí chưa bấm" in texts[o.SEC1]
    w.clock.move(minutes=30)
    assert await run() == 0  # never twice
    assert len(await w.outbox("broadcast_reminder")) == 4


async def test_a_short_deadline_is_reminded_halfway_and_silent_chats_listed_after(
    engine: AsyncEngine,
) -> None:
    w = await bc_world(engine)
    draft = await w.draft(
        EVERYONE, ack_required=True, ack_deadline=w.clock.now() + timedelta(hours=2)
    )
    await w.send(draft)
    await w.deliver([G_B1, G_B4, G_U1])  # the rest not delivered yet
    broadcast = await w.broadcast(draft)
    assert reminder_at(broadcast) == w.clock.now() + timedelta(hours=1)
    assert (await _press(w, o.STRANGER, draft, G_U1)).status == "ok"
    async with w.factory() as s:
        assert await bc.unacknowledged(s, w.clock.now()) == []  # deadline ahead
    w.clock.move(hours=2, minutes=1)
    async with w.factory() as s, s.begin():
        assert await bc.reminders_due(s, w.ctx) == 0  # past the deadline: no reminder
    async with w.factory() as s:
        silent = await bc.unacknowledged(s, w.clock.now())
    assert sorted(p.chat_id for p in silent) == sorted([G_B1, G_B4])
    first = next(p for p in silent if p.chat_id == G_B1)
    assert (first.broadcast_id, first.district_id, first.branch_id, first.name) == (
        draft,
        w.org.district,
        w.org.b1,
        "Chi bộ thôn Một",
    )
    assert first.deadline == broadcast.ack_deadline and first.excerpt == "Hướng dẫn số 1"
    # A press after the deadline is still recorded, and the chat leaves the list.
    assert (await _press(w, o.SEC1, draft, G_B1)).status == "ok"
    async with w.factory() as s:
        assert [p.chat_id for p in await bc.unacknowledged(s, w.clock.now())] == [G_B4]
