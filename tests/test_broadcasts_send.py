"""Composing and sending: the draft's rules, what Gửi queues (one copy per reachable chat, with
the button, the pin and the time), Gửi twice and an old preview refused, Dừng, Gửi lại, and a
crash mid-way reported as `maybe_sent`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.outbox.service import no_retry_kinds
from bot.services import broadcasts as bc
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.broadcasts.compose import source_kind
from storage.models import AuditLog, Broadcast, BroadcastRecipient, OutboxEntry
from storage.repositories.outbox import OutboxRepository
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B4, G_U1, G_WG, SOURCE_ID, BcWorld, bc_world

EVERYONE = Audience(
    parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS})
)
REACHABLE = {G_B1, G_B4, o.SEC1, G_U1, G_WG}


async def _count(w: BcWorld, model: type) -> int:
    async with w.factory() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def test_source_kinds() -> None:
    assert source_kind("text") == "text" and source_kind("photo") == "photo"
    assert source_kind("photo", in_album=True) == "album"
    assert source_kind("document", in_album=True) == "album"
    assert source_kind("video") == "other" and source_kind("poll") == "other"
    assert source_kind("poll", quiz_answer_known=False) == "uncopyable"
    for kind in ("new_chat_members", "pinned_message", "invoice", "giveaway", "paid_media"):
        assert source_kind(kind) == "uncopyable", kind


async def test_draft_rules(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    bad = [
        (o.SEC1, bc.Source(o.SEC1, (5,), "text"), "bc.not_admin"),
        (o.ADMIN_OTHER, bc.Source(o.ADMIN_OTHER, (5,), "text"), "bc.not_admin"),
        (o.ADMIN, bc.Source(o.ADMIN, (5,), "uncopyable"), "bc.cannot_copy"),
        (o.ADMIN, bc.Source(o.ADMIN, (5, 6), "text"), "bc.cannot_copy"),
        (o.ADMIN, bc.Source(o.SEC1, (5,), "text"), "bc.cannot_copy"),  # not the admin's chat
        (o.ADMIN, bc.Source(o.ADMIN, tuple(range(1, 13)), "album"), "bc.cannot_copy"),
        (o.ADMIN, bc.Source(o.ADMIN, (), "album"), "bc.cannot_copy"),
    ]
    for by, source, key in bad:
        async with w.factory() as s, s.begin():
            actor = await w.actor(by, s)
            with pytest.raises(bc.BroadcastError) as err:
                await bc.start_draft(s, w.ctx, actor, w.org.district, source)
        assert err.value.key == key, (by, source)
    assert await _count(w, Broadcast) == 0
    # An admin of one district needs no district id; an album keeps its ids in order.
    async with w.factory() as s, s.begin():
        actor = await w.actor(o.ADMIN, s)
        b = await bc.start_draft(
            s, w.ctx, actor, None, bc.Source(o.ADMIN, (12, 11), "album", " Kế  hoạch\n50 ")
        )
        assert (b.district_id, b.source_message_ids, b.excerpt, b.version) == (
            w.org.district,
            [11, 12],
            "Kế hoạch 50",
            1,
        )


async def test_options_are_checked_and_bump_the_version(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft()
    now = w.clock.now()
    bad = [
        ({"send_at": now - timedelta(minutes=1)}, "bc.bad_send_at"),
        ({"send_at": now + timedelta(days=400)}, "bc.bad_send_at"),
        ({"ack_required": True, "ack_deadline": now + timedelta(minutes=10)}, "bc.bad_deadline"),
        (
            {
                "ack_required": True,
                "send_at": now + timedelta(days=2),
                "ack_deadline": now + timedelta(days=1),
            },
            "bc.bad_deadline",
        ),
    ]
    for options, key in bad:
        async with w.factory() as s, s.begin():
            actor = await w.actor(o.ADMIN, s)
            values = {"ack_required": False, "ack_deadline": None, "pin": False, "send_at": None}
            with pytest.raises(bc.BroadcastError) as err:
                await bc.set_options(s, w.ctx, actor, draft, **{**values, **options})
        assert err.value.key == key
    assert (await w.broadcast(draft)).version == 2
    async with w.factory() as s, s.begin():
        actor = await w.actor(o.ADMIN, s)
        opts = {
            "ack_required": True,
            "ack_deadline": now + timedelta(days=3),
            "pin": True,
            "send_at": None,
        }
        assert (await bc.set_options(s, w.ctx, actor, draft, **opts)).version == 3
        assert (await bc.set_options(s, w.ctx, actor, draft, **opts)).version == 3  # no change
    # Someone else's broadcast reads as not found.
    async with w.factory() as s, s.begin():
        for by in (o.SEC1, o.ADMIN_OTHER):
            with pytest.raises(bc.BroadcastError) as err:
                await bc.preview(s, w.ctx, await w.actor(by, s), draft)
            assert err.value.key == "bc.not_found"


async def test_send_queues_one_copy_per_reachable_chat(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    deadline = w.clock.now() + timedelta(days=3)
    draft = await w.draft(EVERYONE, ack_required=True, ack_deadline=deadline, pin=True)
    b = await w.send(draft)
    assert b.status == "sending" and b.progress_chat_id == o.ADMIN
    # The copies; a secretary's private copy follows a line naming the sender (class 12).
    rows = [r for r in await w.outbox() if not (r.dedupe_key or "").endswith(":from")]
    assert sorted(r.chat_id for r in rows) == sorted(REACHABLE)
    for r in rows:
        assert (r.kind, r.copy_from_chat_id, r.copy_from_message_id) == (
            "broadcast",
            o.ADMIN,
            SOURCE_ID,
        )
        assert r.pin and r.priority == 2 and r.dedupe_key == f"bc:{draft}:{r.chat_id}"
        assert r.not_before == w.clock.now() and r.origin_id == str(draft)
        button = r.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
        assert button["callback_data"] == f"bca:{draft}"
        assert button["text"] == "✅ Đã nhận (hạn Thứ Năm, 26/11/2026 lúc 11:00)"
    recipients = await w.recipients(draft)
    assert len(recipients) == 12
    by_state = {r.state for r in recipients if r.chat_id is None}
    assert by_state == {"unreachable"}
    assert {r.chat_id for r in recipients if r.state == "pending"} == REACHABLE
    assert all(r.outbox_id for r in recipients if r.state == "pending")
    progress = await w.outbox("broadcast_progress")
    assert [(p.chat_id, p.kind) for p in progress] == [(o.ADMIN, "interactive")]
    assert "đã gửi 0/5" in (progress[0].text or "")
    async with w.factory() as s:
        audit = (await s.scalars(select(AuditLog).where(AuditLog.action == "broadcast.send"))).one()
    assert audit.after["queued"] == 5 and audit.after["unreachable"] == 7  # type: ignore[index]


async def test_scheduled_and_album(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    at = w.clock.now() + timedelta(hours=5)
    album = await w.draft(
        Audience(parts=frozenset({P.UNIT_CHATS})),
        kind="album",
        ids=(21, 22, 23),
        send_at=at,
        ack_required=True,
        ack_deadline=at + timedelta(days=1),
    )
    b = await w.send(album)
    assert b.status == "scheduled"
    rows = await w.outbox()
    assert [
        (r.chat_id, r.copy_message_ids, r.text is None, r.reply_markup is None) for r in rows
    ] == [
        (G_U1, [21, 22, 23], True, True),
        (G_U1, None, False, False),  # the Đã nhận button on its own message
    ]
    assert all(r.not_before == at for r in rows)
    assert rows[1].reply_markup["inline_keyboard"][0][0]["callback_data"] == f"bca:{album}"  # type: ignore[index]
    recipients = await w.recipients(album)
    assert [r.outbox_id for r in recipients if r.chat_id] == [rows[0].id]


async def test_send_twice_and_a_stale_preview_queue_nothing_more(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft()
    async with w.factory() as s:
        old = (await bc.preview(s, w.ctx, await w.actor(o.ADMIN, s), draft)).version
    async with w.factory() as s, s.begin():
        actor = await w.actor(o.ADMIN, s)
        await bc.set_audience(s, w.ctx, actor, draft, Audience(parts=frozenset({P.WORKING_GROUPS})))
    async with w.factory() as s, s.begin():
        with pytest.raises(bc.BroadcastError) as err:
            await bc.send(s, w.ctx, await w.actor(o.ADMIN, s), draft, old)
    assert err.value.key == "bc.stale"
    assert await _count(w, OutboxEntry) == 0 and await _count(w, BroadcastRecipient) == 0
    await w.send(draft)
    rows = await _count(w, OutboxEntry)
    assert rows == 2  # the working group's copy, the progress message
    for version in (old, (await w.broadcast(draft)).version):
        async with w.factory() as s, s.begin():
            with pytest.raises(bc.BroadcastError) as err:
                await bc.send(s, w.ctx, await w.actor(o.ADMIN, s), draft, version)
        assert err.value.key == "bc.already_sent"
    async with w.factory() as s, s.begin():
        actor = await w.actor(o.ADMIN, s)
        for call in (
            bc.set_audience(s, w.ctx, actor, draft, Audience(parts=frozenset({P.UNIT_CHATS}))),
            bc.discard(s, w.ctx, actor, draft),
        ):
            with pytest.raises(bc.BroadcastError) as err:
                await call
            assert err.value.key == "bc.already_sent"
    assert await _count(w, OutboxEntry) == rows and await _count(w, BroadcastRecipient) == 1


async def test_stop_cancels_only_what_has_not_left(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft(EVERYONE)
    await w.send(draft)
    await w.deliver([G_B1])
    async with w.factory() as s, s.begin():
        # G_B4 is on the wire, G_U1 held in a sender's memory; the others wait.
        await s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.chat_id == G_B4)
            .values(state="sending", claim_token="t")
        )
        await s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.chat_id == G_U1)
            .values(state="claimed", claim_token="t")
        )
    async with w.factory() as s, s.begin():
        stopped = await bc.stop(s, w.ctx, await w.actor(o.ADMIN, s), draft)
    assert stopped == 3  # G_U1, G_WG, SEC1
    states = {r.chat_id: r.state for r in await w.outbox()}
    assert states == {
        G_B1: "sent",
        G_B4: "sending",
        G_U1: "cancelled",
        G_WG: "cancelled",
        o.SEC1: "cancelled",
    }
    rec = {r.chat_id: r.state for r in await w.recipients(draft) if r.chat_id}
    assert rec[G_U1] == rec[G_WG] == rec[o.SEC1] == "cancelled" and rec[G_B4] == "pending"
    b = await w.broadcast(draft)
    assert b.status == "stopped" and b.finished_at is None  # G_B4 has no outcome yet
    # The claimed row's request never leaves: its sender no longer owns it.
    async with w.factory() as s, s.begin():
        owned = await OutboxRepository(s).mark_sending(
            [r.id for r in await w.outbox() if r.chat_id == G_U1], "t", w.clock.now()
        )
    assert owned == set()
    async with w.factory() as s, s.begin():
        assert await bc.stop(s, w.ctx, await w.actor(o.ADMIN, s), draft) == 0
    # The in-flight one ends; the progress pass closes the broadcast.
    await w.deliver()
    async with w.factory() as s, s.begin():
        await s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.chat_id == G_B4)
            .values(state="sent", telegram_message_id=77)
        )
        b = await s.get(Broadcast, draft)
        assert b is not None
        await bc.progress.sync(s, b, w.clock.now(), w.ctx)
        assert b.finished_at is not None and b.status == "stopped"
    draft2 = await w.draft()
    async with w.factory() as s, s.begin():
        with pytest.raises(bc.BroadcastError) as err:
            await bc.stop(s, w.ctx, await w.actor(o.ADMIN, s), draft2)
    assert err.value.key == "bc.not_sent"


async def test_retry_requeues_only_the_failed(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft(EVERYONE)
    await w.send(draft)
    await w.deliver([G_B1, G_U1])
    await w.deliver([G_B4], state="failed", error="kicked: Forbidden: bot was kicked")
    await w.deliver([G_WG], state="maybe_sent", error="read timeout, not retried")
    await w.deliver(
        [o.SEC1], state="failed", error="blocked: Forbidden: bot was blocked by the user"
    )
    async with w.factory() as s, s.begin():
        retried = await bc.retry_failed(s, w.ctx, await w.actor(o.ADMIN, s), draft)
    assert retried == 2
    states = {r.chat_id: (r.state, r.error) for r in await w.outbox()}
    assert states[G_B4] == ("pending", None) and states[o.SEC1] == ("pending", None)
    assert states[G_WG][0] == "maybe_sent" and states[G_B1][0] == states[G_U1][0] == "sent"
    assert (await w.broadcast(draft)).status == "sending"
    async with w.factory() as s, s.begin():
        assert await bc.retry_failed(s, w.ctx, await w.actor(o.ADMIN, s), draft) == 0


async def test_a_crash_mid_way_is_reported_maybe_sent(engine: AsyncEngine) -> None:
    """kill -9 with copies on the wire: the restarted sender's recovery marks them maybe_sent
    (never resent); the progress pass and the report say so."""
    w = await bc_world(engine)
    draft = await w.draft(EVERYONE)
    await w.send(draft)
    await w.deliver([G_B1, G_U1, o.SEC1])
    past = w.clock.now() - timedelta(minutes=5)
    async with w.factory() as s, s.begin():
        await s.execute(
            update(OutboxEntry)
            .where(OutboxEntry.chat_id.in_([G_B4, G_WG]))
            .values(state="sending", claim_token="dead", lease_until=past)
        )
    async with w.factory() as s, s.begin():
        recovered = await OutboxRepository(s).recover_expired(w.clock.now(), no_retry_kinds())
    assert recovered["maybe_sent"] == 2
    async with w.factory() as s:
        d = await bc.detail(s, await w.actor(o.ADMIN, s), draft)
    assert (d.summary.sent, d.summary.maybe_sent, d.summary.pending) == (3, 2, 0)
    assert sorted(line.name for line in d.recipients if line.state == "maybe_sent") == [
        "Chi bộ Cơ quan Xã Bình",
        "Tổ công tác số 1",
    ]
    async with w.factory() as s, s.begin():
        view = await bc.progress_view(s, w.ctx, await w.actor(o.ADMIN, s), draft, "vi")
    assert "Không chắc đã tới" in view.text and "2" in view.text
    assert "Đã gửi xong" in view.text
    assert {r.state for r in await w.recipients(draft) if r.chat_id in (G_B4, G_WG)} == {
        "maybe_sent"
    }
    # Gửi lại never resends a maybe_sent copy.
    async with w.factory() as s, s.begin():
        assert await bc.retry_failed(s, w.ctx, await w.actor(o.ADMIN, s), draft) == 0
