"""Trust, class 1 for a scheduled broadcast: a target recorded unreachable at Gửi (its branch
or unit had no group then) that links a group (/linkcode, /link) before the sending time gets
its copy when the time comes, to that group, never to a former one; a target still without a
group stays unreachable. The re-resolution happens where the broadcast becomes sending (the
progress job's pass, `sync` -> `start_due`), in the same transaction, and only once.

At the world's fixed instant (`bc_world`: Monday 23/11/2026 11:00), the test's traveller kept
on the services' clock; the broadcast is for 09:00 the next day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import time_machine
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import broadcasts as bc
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.broadcasts.progress import (
    LiveProgress,
    figures,
    reach_linked_since,
    start_due,
    sync,
)
from storage.models import AuditLog, Broadcast, BroadcastRecipient, ChatBinding
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B3_OLD, G_B4, G_U1, BcWorld, bc_world
from tests.helpers import local

G_B2_NEW, G_U2_NEW = -1102, -2102
GROUPS = Audience(parts=frozenset({P.ALL_BRANCH_GROUPS, P.UNIT_CHATS}))
NINE = local(2026, 11, 24, 9)


class NoEdits:
    async def __call__(self, chat_id: int, message_id: int, text: str, markup: object) -> None:
        return None


def _at(w: BcWorld, traveller: time_machine.Traveller, moment: datetime) -> None:
    """The services' clock and the process's both at `moment`."""
    w.clock.t = moment
    traveller.move_to(moment)


async def _link(w: BcWorld, chat: int, target_type: str, target_id: int) -> None:
    """/linkcode or /link: `chat` becomes the target's group now."""
    async with w.factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=chat,
                target_type=target_type,
                target_id=target_id,
                district_id=w.org.district,
                bound_at=w.clock.now(),
            )
        )


async def _scheduled(w: BcWorld, traveller: time_machine.Traveller) -> int:
    _at(w, traveller, w.clock.now())
    draft = await w.draft(GROUPS, send_at=NINE)
    await w.send(draft)
    assert (await w.broadcast(draft)).status == "scheduled"
    return draft


async def _by_target(w: BcWorld, draft: int) -> dict[tuple[str, int], BroadcastRecipient]:
    return {(r.target_type, r.target_id): r for r in await w.recipients(draft)}


async def _copies(w: BcWorld, draft: int) -> dict[int, list[int]]:
    """chat -> the broadcast's copy rows queued for it."""
    out: dict[int, list[int]] = {}
    for row in await w.outbox():
        if row.origin_id == str(draft):
            out.setdefault(row.chat_id, []).append(row.id)
    return out


async def _pass(w: BcWorld) -> None:
    """One pass of the progress job (`broadcasts.progress`)."""
    await LiveProgress(every=5.0, monotonic=lambda: 100.0).flush(w.factory, w.ctx, NoEdits())


async def test_class1_a_branch_linked_after_gui_gets_its_copy_at_the_time(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """B02 (never linked) and commune T01U02 (no committee chat) are unreachable at Gửi; both
    link a group in the evening. At 09:00 each new group gets exactly one copy, due at once,
    and its recipient says so; the figures count them queued, not unreachable."""
    w = await bc_world(engine)
    draft = await _scheduled(w, fixed_clock)
    at_gui = await _by_target(w, draft)
    b2, u2 = ("branch", w.org.b2), ("unit", w.org.u2)
    assert at_gui[b2].state == at_gui[u2].state == "unreachable"
    assert at_gui[b2].chat_id is None and at_gui[b2].error == "not_linked"
    assert set(await _copies(w, draft)) == {G_B1, G_B4, G_U1}
    async with w.factory() as s:
        before = (await figures(s, [draft]))[draft]
    assert before.n("unreachable") == 4 and before.queued == 3

    _at(w, fixed_clock, local(2026, 11, 23, 20))
    await _link(w, G_B2_NEW, "branch", w.org.b2)
    await _link(w, G_U2_NEW, "unit", w.org.u2)
    await _pass(w)  # before its time: still scheduled, nothing queued for the new groups
    assert (await w.broadcast(draft)).status == "scheduled"
    assert set(await _copies(w, draft)) == {G_B1, G_B4, G_U1}

    _at(w, fixed_clock, NINE + timedelta(seconds=2))
    await _pass(w)
    b = await w.broadcast(draft)
    assert b.status == "sending"
    copies = await _copies(w, draft)
    assert set(copies) == {G_B1, G_B4, G_U1, G_B2_NEW, G_U2_NEW}
    assert len(copies[G_B2_NEW]) == len(copies[G_U2_NEW]) == 1
    rows = {r.id: r for r in await w.outbox()}
    late = rows[copies[G_B2_NEW][0]]
    assert late.dedupe_key == f"bc:{draft}:{G_B2_NEW}"
    assert late.copy_from_chat_id == o.ADMIN and late.state == "pending"
    assert late.next_attempt_at <= w.clock.now()  # its time has come: it goes at once
    now = await _by_target(w, draft)
    for target, chat in ((b2, G_B2_NEW), (u2, G_U2_NEW)):
        rec = now[target]
        assert (rec.chat_id, rec.state, rec.error) == (chat, "pending", None)
        assert rec.outbox_id == copies[chat][0]
    async with w.factory() as s:
        after = (await figures(s, [draft]))[draft]
        audits = (
            await s.scalars(select(AuditLog).where(AuditLog.action == "broadcast.linked_since"))
        ).all()
    assert after.total == before.total
    assert after.n("unreachable") == 2 and after.queued == 5 and after.remaining == 5
    assert [a.after["queued"] for a in audits] == [2]

    # The copies arrive; the pass mirrors them and the broadcast is done, 5 of 5.
    await w.deliver()
    w.clock.move(seconds=2)
    await _pass(w)
    now = await _by_target(w, draft)
    assert now[b2].state == now[u2].state == "sent"
    b = await w.broadcast(draft)
    assert b.status == "done" and b.finished_at is not None
    async with w.factory() as s:
        final = (await figures(s, [draft]))[draft]
    assert final.n("sent") == 5 and final.n("unreachable") == 2


async def test_class1_a_branch_still_unlinked_stays_unreachable(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """Nobody links: at 09:00 the unreachable ones stay so (B03's former group, whose bot was
    kicked, is never written to) and nothing more is queued."""
    w = await bc_world(engine)
    draft = await _scheduled(w, fixed_clock)
    at_gui = await _by_target(w, draft)
    _at(w, fixed_clock, NINE + timedelta(seconds=2))
    await _pass(w)
    assert (await w.broadcast(draft)).status == "sending"
    assert set(await _copies(w, draft)) == {G_B1, G_B4, G_U1}
    now = await _by_target(w, draft)
    unreachable = {t for t, r in now.items() if r.state == "unreachable"}
    assert unreachable == {t for t, r in at_gui.items() if r.state == "unreachable"}
    assert len(unreachable) == 4
    assert all(now[t].chat_id is None for t in unreachable)
    assert now[("branch", w.org.b3)].error == "bot_removed"
    assert G_B3_OLD not in {r.chat_id for r in await w.outbox()}


async def test_class1_the_transition_run_twice_queues_nothing_more(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """The transition, its re-resolution and the job's pass run again (the job twice, a Làm
    mới at the same moment, a restart): one copy for the new group, one recipient row."""
    w = await bc_world(engine)
    draft = await _scheduled(w, fixed_clock)
    _at(w, fixed_clock, local(2026, 11, 23, 20))
    await _link(w, G_B2_NEW, "branch", w.org.b2)
    _at(w, fixed_clock, NINE + timedelta(seconds=1))
    async with w.factory() as s, s.begin():
        b = await s.get(Broadcast, draft)
        assert b is not None
        assert await start_due(s, w.ctx, b, w.clock.now()) == 1
        assert await start_due(s, w.ctx, b, w.clock.now()) == 0
        assert await reach_linked_since(s, w.ctx, b) == 0
    async with w.factory() as s, s.begin():
        b = await s.get(Broadcast, draft)
        assert b is not None
        assert await start_due(s, w.ctx, b, w.clock.now()) == 0
        assert await reach_linked_since(s, w.ctx, b) == 0
        await sync(s, b, w.clock.now(), w.ctx)
    # A pass that read the broadcast scheduled while another moved it on (the row says
    # sending, its copy of the object still scheduled) changes nothing and learns the status.
    async with w.factory() as s, s.begin():
        await s.execute(update(Broadcast).where(Broadcast.id == draft).values(status="scheduled"))
        stale = await s.get(Broadcast, draft)
        assert stale is not None and stale.status == "scheduled"
        await s.execute(
            update(Broadcast)
            .where(Broadcast.id == draft)
            .values(status="sending")
            .execution_options(synchronize_session=False)
        )
        assert await start_due(s, w.ctx, stale, w.clock.now()) == 0
        assert stale.status == "sending"
    await _pass(w)
    await _pass(w)
    async with w.factory() as s:
        mine = await s.scalar(
            select(func.count())
            .select_from(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == draft, BroadcastRecipient.chat_id == G_B2_NEW)
        )
    assert mine == 1
    copies = await _copies(w, draft)
    assert len(copies[G_B2_NEW]) == 1 and set(copies) == {G_B1, G_B4, G_U1, G_B2_NEW}
    rec = (await _by_target(w, draft))[("branch", w.org.b2)]
    assert rec.outbox_id == copies[G_B2_NEW][0] and rec.state == "pending"


async def test_class1_a_broadcast_stopped_before_its_time_reaches_no_late_group(
    engine: AsyncEngine, fixed_clock: time_machine.Traveller
) -> None:
    """Dừng before 09:00, then B02 links a group: it is never sent there."""
    w = await bc_world(engine)
    draft = await _scheduled(w, fixed_clock)
    async with w.factory() as s, s.begin():
        await bc.stop(s, w.ctx, await w.actor(o.ADMIN, s), draft)
    await _link(w, G_B2_NEW, "branch", w.org.b2)
    _at(w, fixed_clock, NINE + timedelta(seconds=2))
    await _pass(w)
    assert (await w.broadcast(draft)).status == "stopped"
    assert G_B2_NEW not in await _copies(w, draft)
    assert (await _by_target(w, draft))[("branch", w.org.b2)].state == "unreachable"
