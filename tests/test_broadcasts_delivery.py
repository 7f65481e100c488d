"""A broadcast through the real outbox sender and the sandbox: copies with the Đã nhận button
and the pin, an album copied in one call with its button message, the live edit, a reminder
as a reply, and Dừng while a retry waits in the sender's memory (never sent)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.outbox import FailureHooks, Sender, SenderConfig
from bot.services import broadcasts as bc
from bot.services.access.policy import load_actor
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.broadcasts.progress import LiveProgress, install_hooks
from sandbox.testing import SandboxHandle, run_sandbox
from storage.models import OutboxEntry
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B4, G_U1, G_WG, BcWorld, bc_world
from tests.test_outbox import fast_config, wait_all_final

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
EVERYONE = Audience(
    parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS})
)
GROUPS = (G_B1, G_B4, G_U1, G_WG)


@asynccontextmanager
async def running_sender(
    sb: SandboxHandle, w: BcWorld, config: SenderConfig, hooks: FailureHooks | None = None
) -> AsyncIterator[Sender]:
    """The sender on the world's clock (the copies' times are the world's)."""
    bot = sb.bot()
    sender = Sender(bot, w.factory, config=config, clock=w.clock, hooks=hooks or FailureHooks())
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()
        await bot.session.close()


def _world(sb: SandboxHandle) -> None:
    for uid, name in ((o.ADMIN, "Quản trị"), (o.SEC1, "Bí"), (o.WG_LEADER, "Tổ")):
        sb.add_user(uid, name, started=True)
    for chat in GROUPS:
        sb.create_group(chat, f"Nhóm {chat}", {o.SEC1: "creator"}, bot_status="administrator")


async def _final(w: BcWorld, total: int) -> None:
    await wait_all_final(w.factory, total, within=30)


async def test_text_and_album_through_the_sender(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    hooks = FailureHooks()
    install_hooks(hooks)
    async with run_sandbox() as sb:
        _world(sb)
        source = sb.send_text(o.ADMIN, "Hướng dẫn số 1")["message"]["message_id"]
        a1 = sb.upload_photo(o.ADMIN, None, PNG, caption="Ảnh 1", media_group_id="al")
        a2 = sb.upload_document(o.ADMIN, None, "kh.pdf", b"%PDF-1.4", media_group_id="al")
        album = (a1["message"]["message_id"], a2["message"]["message_id"])
        deadline = w.clock.now() + timedelta(days=3)
        text_id = await w.draft(
            EVERYONE, ids=(source,), ack_required=True, ack_deadline=deadline, pin=True
        )
        await w.send(text_id)
        album_id = await w.draft(
            Audience(parts=frozenset({P.UNIT_CHATS, P.WORKING_GROUPS})),
            kind="album",
            ids=album,
            ack_required=True,
            ack_deadline=deadline,
        )
        await w.send(album_id)
        async with running_sender(sb, w, fast_config(), hooks):
            # 5 copies + 2 album copies + 2 button messages + 2 progress messages
            await _final(w, 11)
        for chat in (G_B1, G_B4, o.SEC1):
            [copy] = [m for m in sb.bot_messages(chat) if m.get("text") == "Hướng dẫn số 1"]
            button = copy["reply_markup"]["inline_keyboard"][0][0]
            assert button["callback_data"] == f"bca:{text_id}"
            if chat < 0:
                assert sb.pinned(chat)[-1]["message_id"] == copy["message_id"]
        for chat in (G_U1, G_WG):
            msgs = sb.bot_messages(chat)
            assert [m.get("text") or m.get("caption") for m in msgs][1:] == [
                "Ảnh 1",
                None,
                "☝️ Đề nghị bí thư hoặc phó bí thư chi bộ bấm «Đã nhận» sau khi đọc văn bản trên.",
            ]
            assert msgs[1]["media_group_id"] == msgs[2]["media_group_id"]
            assert (
                msgs[3]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                == f"bca:{album_id}"
            )
        # The live edit of the sender's progress message, through the real bot.
        bot = sb.bot()
        try:

            async def edit(
                chat_id: int, message_id: int, text: str, markup: dict[str, Any]
            ) -> None:
                await bot.edit_message_text(
                    text=text,
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=InlineKeyboardMarkup.model_validate(markup),
                )

            assert await LiveProgress().flush(w.factory, w.ctx, edit) == 2
        finally:
            await bot.session.close()
        progress = [m for m in sb.bot_messages(o.ADMIN) if "Đã gửi xong" in (m.get("text") or "")]
        assert len(progress) == 2
        assert all(m.get("edit_date") for m in progress)
        # A press in B01's group by its secretary counts; the reminder goes to the rest, as a
        # reply to each chat's copy.
        async with w.factory() as s, s.begin():
            assert (
                await bc.acknowledge(
                    s, w.ctx, await load_actor(s, o.SEC1), text_id, G_B1, via_chat=G_B1
                )
            ).recorded
        w.clock.t = deadline - timedelta(hours=23)
        async with w.factory() as s, s.begin():
            assert await bc.reminders_due(s, w.ctx) == 6  # 4 for the text, 2 for the album
        async with running_sender(sb, w, fast_config(), hooks):
            await _final(w, 17)
        reminder = sb.bot_messages(G_B4)[-1]
        assert reminder["text"].startswith("⏰ Nhắc xác nhận:")
        assert reminder["reply_to_message"]["text"] == "Hướng dẫn số 1"
        assert (
            reminder["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == f"bca:{text_id}"
        )
        album_reminder = sb.bot_messages(G_U1)[-1]
        assert album_reminder["reply_to_message"]["caption"] == "Ảnh 1"
        assert not [m for m in sb.bot_messages(G_B1) if (m.get("text") or "").startswith("⏰")]


async def test_stop_while_a_retry_waits_in_the_sender(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    async with run_sandbox() as sb:
        _world(sb)
        source = sb.send_text(o.ADMIN, "Thông báo khẩn")["message"]["message_id"]
        sb.add_fault("server_error", status=500, count=1, chat_id=G_WG)
        draft = await w.draft(EVERYONE, ids=(source,))
        await w.send(draft)
        config = fast_config(backoff_base=20.0, backoff_cap=20.0, hold_retries_up_to=30.0)
        async with running_sender(sb, w, config) as sender:
            loop = asyncio.get_running_loop()
            until = loop.time() + 20
            while True:  # the others delivered, G_WG's retry held in memory
                rows = await w.outbox()
                held = next(r for r in rows if r.chat_id == G_WG)
                if held.error_code == 500 and all(
                    r.state == "sent" for r in rows if r.chat_id != G_WG
                ):
                    break
                assert loop.time() < until, [(r.chat_id, r.state) for r in rows]
                await asyncio.sleep(0.02)
            assert held.state == "claimed" and sender.scheduler.held == 1
            async with w.factory() as s, s.begin():
                assert await bc.stop(s, w.ctx, await w.actor(o.ADMIN, s), draft) == 1
        async with w.factory() as s:
            row = (await s.scalars(select(OutboxEntry).where(OutboxEntry.chat_id == G_WG))).one()
        assert row.state == "cancelled" and row.error == "stopped"
        assert sb.bot_messages(G_WG) == []
        async with w.factory() as s:
            d = await bc.detail(s, await w.actor(o.ADMIN, s), draft)
        assert (d.summary.sent, d.summary.cancelled, d.summary.pending) == (4, 1, 0)


def test_outbox_album_content_rules() -> None:
    """copy_messages: 1-100 strictly increasing ids, no buttons (copyMessages takes none)."""
    import pytest

    from bot.outbox import OutboxMessage

    OutboxMessage(chat_id=-1, copy_messages=(5, (1, 2, 3))).validate()
    for bad in (
        OutboxMessage(chat_id=-1, copy_messages=(5, (2, 1))),
        OutboxMessage(chat_id=-1, copy_messages=(5, ())),
        OutboxMessage(chat_id=-1, copy_messages=(5, tuple(range(1, 102)))),
        OutboxMessage(chat_id=-1, copy_messages=(5, (1, 2)), reply_markup={"inline_keyboard": []}),
        OutboxMessage(chat_id=-1, copy_messages=(5, (1, 2)), text="and a text"),
    ):
        with pytest.raises(ValueError):
            bad.validate()


async def test_enqueue_many_skips_existing_keys(engine: AsyncEngine) -> None:
    """The bulk enqueue a broadcast uses: one statement, dedupe keys kept, ids returned."""
    import pytest

    from bot.outbox import OutboxMessage
    from bot.outbox.service import enqueue_many
    from storage.db import create_session_factory

    sf = create_session_factory(engine)

    def msgs(n: int) -> list[OutboxMessage]:
        return [
            OutboxMessage(chat_id=-i, kind="broadcast", copy_from=(9, 1), dedupe_key=f"k{i}")
            for i in range(1, n + 1)
        ]

    async with sf() as s, s.begin():
        first = await enqueue_many(s, msgs(1500))
    async with sf() as s, s.begin():
        again = await enqueue_many(s, msgs(1600))
        with pytest.raises(ValueError):
            await enqueue_many(s, [OutboxMessage(chat_id=1, text="x")])
    assert len(first) == 1500 and set(again) == {f"k{i}" for i in range(1501, 1601)}
    async with sf() as s:
        rows = {
            r.dedupe_key: (r.id, r.chat_id, r.priority)
            for r in await s.scalars(select(OutboxEntry))
        }
    assert len(rows) == 1600 and rows["k7"] == (first["k7"], -7, 2)


async def test_class4_a_pin_refused_for_lack_of_rights_is_told_to_the_sender(
    engine: AsyncEngine,
) -> None:
    """Issue 21, class 4: "Ghim tin" in a group where the Trợ lý may not pin: the copy
    arrives, nothing is counted as failed ("lỗi 0" with nothing pinned was all the admin
    saw), and the progress message says where it could not pin and what to ask for."""
    w = await bc_world(engine)
    async with run_sandbox() as sb:
        _world(sb)
        sb.create_group(G_B4, "Nhóm B04", {o.SEC1: "creator"}, bot_status="member")
        source = sb.send_text(o.ADMIN, "Hướng dẫn số 2")["message"]["message_id"]
        groups = Audience(parts=frozenset({P.ALL_BRANCH_GROUPS}))
        draft = await w.draft(groups, ids=(source,), pin=True)
        await w.send(draft)
        async with running_sender(sb, w, fast_config()):
            await _final(w, 3)  # two copies and the progress message
        assert sb.pinned(G_B4) == [] and sb.pinned(G_B1)
        texts: list[str] = []

        async def edit(_chat: int, _message: int, text: str, _markup: Any) -> None:
            texts.append(text)

        await LiveProgress().flush(w.factory, w.ctx, edit)
    [text] = texts
    i18n = w.ctx.i18n
    assert i18n.t("bc.progress.not_pinned", "vi", n=1) in text
    assert "lỗi 0" in text  # the copy itself arrived
