"""The live figures on the sender's message: outcomes mirrored from the outbox, edits
coalesced, the final report with failures by reason and Gửi lại, acknowledgements by unit;
the failure hook; the list and the detail with its .xlsx."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.outbox import FailureEvent, FailureHooks
from bot.services import broadcasts as bc
from bot.services.access.policy import load_actor
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.broadcasts.progress import LiveProgress, install_hooks, on_outbox_failure
from tests import orgdata as o
from tests.broadcast_world import G_B1, G_B4, G_U1, G_WG, BcWorld, bc_world

EVERYONE = Audience(
    parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES, P.UNIT_CHATS, P.WORKING_GROUPS})
)


class Edits:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str, dict[str, Any]]] = []

    async def __call__(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any]
    ) -> None:
        self.calls.append((chat_id, message_id, text, markup))

    @property
    def last(self) -> str:
        return self.calls[-1][2]

    def buttons(self) -> list[str]:
        return [b["callback_data"] for b in self.calls[-1][3]["inline_keyboard"][0]]


class Mono:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def _live(w: BcWorld) -> tuple[LiveProgress, Edits, Mono]:
    mono = Mono()
    return LiveProgress(every=5.0, monotonic=mono), Edits(), mono


async def test_progress_edits_are_coalesced_and_end_in_a_report(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft(
        EVERYONE, ack_required=True, ack_deadline=w.clock.now() + timedelta(days=2)
    )
    await w.send(draft)
    live, edits, mono = await _live(w)
    assert await live.flush(w.factory, w.ctx, edits) == 0  # the progress message is not out yet
    progress = (await w.outbox("broadcast_progress"))[0]
    await w.deliver([o.ADMIN])  # the progress message arrives (as message 500 + its row id)
    assert await live.flush(w.factory, w.ctx, edits) == 1
    chat, message, _text, _m = edits.calls[-1]
    assert (chat, message) == (o.ADMIN, 500 + progress.id)
    assert "đã gửi 0/5" in edits.last and "còn lại 5" in edits.last
    assert "Không gửi được" in edits.last and ": 7" in edits.last
    assert edits.buttons() == [f"bcp:{draft}:s", f"bcp:{draft}:f"]
    await w.deliver([G_B1, G_U1])
    w.clock.move(seconds=2)
    mono.t += 2
    assert await live.flush(w.factory, w.ctx, edits) == 0  # within 5 s of the last edit
    mono.t += 4
    assert await live.flush(w.factory, w.ctx, edits) == 1
    assert "đã gửi 2/5" in edits.last and "Dự kiến xong vào" in edits.last
    mono.t += 10
    assert await live.flush(w.factory, w.ctx, edits) == 0  # nothing changed: no edit
    # The rest ends: two failures, one maybe sent.
    await w.deliver([G_B4], state="failed", error="kicked: Forbidden: bot was kicked")
    await w.deliver([o.SEC1], state="failed", error="blocked: Forbidden: bot was blocked")
    await w.deliver([G_WG], state="maybe_sent", error="read timeout")
    mono.t += 10
    assert await live.flush(w.factory, w.ctx, edits) == 1
    text = edits.last
    assert "Đã gửi xong" in text and "đã gửi 2/5" in text and "lỗi 2" in text
    assert "Lỗi theo lý do" in text and "Trợ lý bị xóa khỏi nhóm: 1" in text
    assert "người nhận đã chặn Trợ lý: 1" in text and "Không chắc đã tới" in text
    assert edits.buttons() == [f"bcp:{draft}:r", f"bcp:{draft}:f"]
    b = await w.broadcast(draft)
    assert b.status == "done" and b.finished_at is not None
    states = {r.chat_id: (r.state, r.message_id) for r in await w.recipients(draft) if r.chat_id}
    assert states[G_B1][0] == "sent" and states[G_B1][1] is not None
    assert states[G_B4] == ("failed", None) and states[G_WG][0] == "maybe_sent"
    # Acknowledgements by unit, coalesced like the rest.
    async with w.factory() as s, s.begin():
        await bc.acknowledge(s, w.ctx, await load_actor(s, o.SEC1), draft, G_B1, via_chat=G_B1)
    mono.t += 10
    assert await live.flush(w.factory, w.ctx, edits) == 1
    assert "Đã nhận</b> 1/3 (hạn Thứ Tư, 25/11/2026 lúc 11:00)" in edits.last
    assert "• Đảng ủy xã An: 1/2" in edits.last
    assert f"• {create_i18n('vi').t('bc.unit.none', 'vi')}: 0/1" in edits.last
    mono.t += 10
    assert await live.flush(w.factory, w.ctx, edits) == 0


async def test_a_failed_edit_is_redone_and_not_modified_is_success(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft()
    await w.send(draft)
    await w.deliver([o.ADMIN])
    live, _edits, mono = await _live(w)
    calls: list[str] = []

    async def flaky(chat_id: int, message_id: int, text: str, markup: dict[str, Any]) -> None:
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("Bad Gateway")
        if len(calls) == 2:
            raise RuntimeError("Bad Request: message is not modified")

    assert await live.flush(w.factory, w.ctx, flaky) == 0
    mono.t += 1
    assert await live.flush(w.factory, w.ctx, flaky) == 1
    assert live.edits == 1 and len(calls) == 2


async def test_failure_hook_marks_the_recipient_at_once(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    draft = await w.draft()
    await w.send(draft)
    rows = {r.chat_id: r for r in await w.outbox()}
    hooks = FailureHooks()
    install_hooks(hooks)
    install_hooks(hooks)  # idempotent
    assert hooks.hooks["broadcast"] == [on_outbox_failure]

    def event(chat: int, reason: str) -> FailureEvent:
        row = rows[chat]
        return FailureEvent(row.id, chat, "broadcast", "broadcast", str(draft), reason, "Forbidden")

    for chat, reason in ((G_B1, "kicked"), (G_B4, "maybe_sent"), (G_B4, "kicked")):
        for hook in hooks.for_event(event(chat, reason)):
            async with w.factory() as s, s.begin():
                await hook(s, event(chat, reason))
    states = {r.chat_id: (r.state, r.error) for r in await w.recipients(draft) if r.chat_id}
    assert states[G_B1] == ("failed", "kicked: Forbidden")
    assert states[G_B4] == ("maybe_sent", "maybe_sent: Forbidden")  # the first outcome stays


async def test_list_detail_and_workbook(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    first = await w.draft(
        EVERYONE, ack_required=True, ack_deadline=w.clock.now() + timedelta(days=2)
    )
    await w.send(first)
    await w.deliver([G_B1, G_U1, G_B4, o.SEC1])
    await w.deliver([G_WG], state="failed", error="chat_not_found: Bad Request: chat not found")
    async with w.factory() as s, s.begin():
        await bc.acknowledge(s, w.ctx, await load_actor(s, o.SEC1), first, G_B1, via_chat=G_B1)
    second = await w.draft(Audience(parts=frozenset({P.UNIT_CHATS})), by=o.ADMIN)
    await w.send(second)
    await w.draft()  # a draft is not listed
    async with w.factory() as s:
        admin = await w.actor(o.ADMIN, s)
        listed = await bc.recent(s, admin, 0)
        assert [x.id for x in listed] == [second, first]
        top = listed[1]
        assert (top.total, top.queued, top.sent, top.failed, top.unreachable, top.acknowledged) == (
            12,
            5,
            4,
            1,
            7,
            1,
        )
        assert await bc.recent(s, admin, 1) == []
        assert await bc.recent(s, await w.actor(o.ADMIN_OTHER, s), 0) == []
        d = await bc.detail(s, admin, first)
    units = {u.name: (u.total, u.sent, u.failed, u.acknowledged, u.not_yet) for u in d.units}
    assert units["Đảng ủy xã An"] == (5, 3, 0, 1, 2)  # B01, B02, SEC1 (B01), M6, U1's chat
    assert units[""] == (1, 0, 1, 0, 0)  # the working group
    assert d.failures == [("bc.fail.chat_not_found", 1)]
    silent = {line.name for line in d.not_acknowledged}
    assert "Chi bộ thôn Một" not in silent and "Chi bộ Cơ quan Xã Bình" in silent
    labels = bc.workbook_labels(w.ctx.i18n, "vi", d)
    book = load_workbook(BytesIO(bc.detail_workbook(labels, d)))
    assert book.sheetnames == ["Theo đơn vị", "Nơi nhận"]
    people = list(book["Nơi nhận"].iter_rows(values_only=True))
    assert people[0] == ("Đơn vị", "Nơi nhận", "Tình trạng", "Lý do", "Gửi lúc", "Xác nhận lúc")
    assert len(people) == 13
    b1 = next(row for row in people if row[1] == "Chi bộ thôn Một")
    assert b1[2] == "đã gửi" and b1[5] is not None
    wg = next(row for row in people if row[1] == "Tổ công tác số 1")
    no_unit = w.ctx.i18n.t("bc.unit.none", "vi")
    assert wg[:4] == (no_unit, "Tổ công tác số 1", "lỗi", "không tìm thấy nhóm")
    # Class 11: the file names the broadcast by the day it went and its excerpt, not its id.
    assert d.summary.queued_at is not None
    day = d.summary.queued_at.astimezone(w.ctx.tz)
    title = w.ctx.i18n.t("bc.sheet.title", "vi", date=f"{day:%d/%m/%Y}", excerpt="Hướng dẫn số 1")
    assert book["Theo đơn vị"]["A1"].value == title
    assert labels.file_name == w.ctx.i18n.t("bc.sheet.file", "vi", date=f"{day:%Y-%m-%d-%H%M}")


async def test_the_sender_reads_progress_in_their_language(engine: AsyncEngine) -> None:
    from sqlalchemy import update

    from storage.models import TelegramUser

    w = await bc_world(engine)
    async with w.factory() as s, s.begin():
        await s.execute(
            update(TelegramUser).where(TelegramUser.id == o.ADMIN).values(language="en")
        )
    draft = await w.draft()
    await w.send(draft)
    assert "Sending: sent 0/2" in ((await w.outbox("broadcast_progress"))[0].text or "")
    await w.deliver([o.ADMIN])
    live, edits, _mono = await _live(w)
    await w.deliver([G_B1])
    assert await live.flush(w.factory, w.ctx, edits) == 1
    assert "Sending: sent 1/2" in edits.last
    # Groups read the default language.
    copy = next(r for r in await w.outbox() if r.chat_id == G_B1)
    assert copy.reply_markup is None  # no acknowledgement asked


async def test_the_outbox_row_is_the_truth_after_a_command_line_retry(engine: AsyncEngine) -> None:
    """`python -m bot outbox retry-failed` requeues failed copies behind the feature's back:
    the figures follow the outbox, and the next pass mirrors the new outcome."""
    from storage.repositories.outbox import OutboxRepository

    w = await bc_world(engine)
    draft = await w.draft()
    await w.send(draft)
    await w.deliver([G_B1], state="failed", error="deadline: deadline passed")
    await w.deliver([G_B4, o.ADMIN])
    live, edits, _mono = await _live(w)
    await live.flush(w.factory, w.ctx, edits)
    assert {r.chat_id: r.state for r in await w.recipients(draft)}[G_B1] == "failed"
    assert (await w.broadcast(draft)).status == "done"
    async with w.factory() as s, s.begin():
        assert await OutboxRepository(s).requeue_failed(w.clock.now()) == 1
    async with w.factory() as s:
        d = await bc.detail(s, await w.actor(o.ADMIN, s), draft)
    assert (d.summary.sent, d.summary.failed, d.summary.pending) == (1, 0, 1)
    await w.deliver([G_B1])
    async with w.factory() as s, s.begin():
        b = await s.get(bc.compose.Broadcast, draft)
        assert b is not None
        await bc.progress.sync(s, b, w.clock.now(), w.ctx)
    assert {r.chat_id: r.state for r in await w.recipients(draft)}[G_B1] == "sent"
