"""Submitting and correcting a report, alone (no handler): one call stores the version and
queues the post to the unit's group through the outbox, in the caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.context import ServiceContext
from bot.services.meetings import ReportInput
from bot.services.meetings.report_text import minutes_caption
from storage.db import create_session_factory
from storage.models import ChatBinding
from storage.models.outbox import OutboxEntry
from tests.helpers import FakeClock, local
from tests.orgdata import SEC1, build_org

UNIT_GROUP = -100500
I18N = create_i18n("vi")


async def test_submit_and_correct_queue_the_unit_group_post(engine: AsyncEngine) -> None:
    org = await build_org(engine)
    factory = create_session_factory(engine)
    i18n = I18N
    clock = FakeClock(local(2026, 12, 1, 10))
    async with factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=UNIT_GROUP, target_type="unit", target_id=org.u1, district_id=org.district
            )
        )
        actor = await load_actor(s, SEC1)
        res = await svc.schedule_meeting(
            s,
            actor,
            ServiceContext(clock, I18N),
            org.b1,
            kind="regular",
            starts_at=local(2026, 12, 5, 19, 30),
        )
        mid = res.meeting.id
    clock.t = local(2026, 12, 5, 22)
    data = ReportInput(present_count=3, minutes_file_id="BQAC", minutes_file_kind="pdf")
    async with factory() as s, s.begin():
        sent = await svc.submit_report(s, await load_actor(s, SEC1), clock, mid, data, i18n=i18n)
    clock.move(days=1)
    async with factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        fixed = ReportInput(present_count=4)
        corrected = await svc.correct_report(s, actor, clock, mid, fixed, i18n=i18n)
    assert (sent.group_chat_id, corrected.group_chat_id) == (UNIT_GROUP, UNIT_GROUP)
    async with factory() as s:
        rows = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    posts = [(r.chat_id, r.kind, r.dedupe_key, r.origin_type) for r in rows]
    key = f"meeting:{mid}:report"
    assert posts == [
        (UNIT_GROUP, "answer", f"{key}:1:{UNIT_GROUP}", "meeting_report"),
        (UNIT_GROUP, "answer", f"{key}:1:{UNIT_GROUP}:minutes", "meeting_report"),
        (UNIT_GROUP, "answer", f"{key}:2:{UNIT_GROUP}", "meeting_report"),
    ]
    first, minutes, second = rows
    assert first.text is not None and "Chi bộ thôn Một" in first.text and "3/5" in first.text
    assert (minutes.document_file_id, minutes.caption) == (
        "BQAC",
        minutes_caption(i18n, "vi", "Chi bộ thôn Một"),
    )
    assert second.text is not None and "4/5" in second.text
    header = i18n.t("mrep.report.header_correction", "vi", branch="§", kind="", when="", version=2)
    assert header.split("§")[0] in second.text  # the correction's own header, version 2


async def test_a_refused_report_queues_nothing(engine: AsyncEngine) -> None:
    org = await build_org(engine)
    factory = create_session_factory(engine)
    clock = FakeClock(local(2026, 12, 1, 10))
    async with factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        res = await svc.schedule_meeting(
            s,
            actor,
            ServiceContext(clock, I18N),
            org.b1,
            kind="regular",
            starts_at=local(2026, 12, 5, 19, 30),
        )
    async with factory() as s:
        actor = await load_actor(s, SEC1)
        with pytest.raises(svc.MeetingError) as err:
            await svc.submit_report(s, actor, clock, res.meeting.id, ReportInput(), i18n=I18N)
        assert err.value.key == "meetings.error.report_too_early"
        assert (await s.scalars(select(OutboxEntry))).all() == []
