"""Truth rule "figures that add up": a report's counts add up to the members, a reported
meeting reads as reported, "awaiting" and "not reported" are told apart, and a month typed
after a branch code is the month shown."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services import meeting_views as views
from bot.services import people
from bot.services.access.policy import load_actor
from bot.services.meetings.regularity import Outcome
from bot.services.meetings.report_text import ReportView, report_text
from storage.db import create_session_factory
from storage.models import Meeting, Member, TelegramUser
from tests import orgdata
from tests.helpers import local
from tests.nudge_world import nudge_world
from tests.orgdata import ADMIN, MeetingWorld, meeting_world

I18N = create_i18n("vi")


def _view(present: int, members: int, absent: list[tuple[str, bool]]) -> ReportView:
    meeting = Meeting(kind="regular", starts_at=local(2026, 11, 5, 19, 30), title="")
    return ReportView(
        branch_name="Chi bộ thôn Một",
        meeting=meeting,
        version=1,
        held=True,
        present=present,
        members=members,
        absent=absent,
        minutes_kept=True,
        has_file=False,
        resolution="",
        topics=[],
        proposals=[],
    )


def test_figures_add_up_a_report_names_who_is_neither_present_nor_absent() -> None:
    """The defect: "Có mặt: 20/23 · Vắng: 2 (1 có phép)" left one member out of every count."""
    text = report_text(I18N, "vi", _view(20, 23, [("Lê Văn A", True), ("Trần Thị B", False)]))
    assert "Có mặt: 20/23 · Vắng: 2 (1 có phép)" in text
    assert "Chưa rõ có mặt hay vắng: 1" in text
    whole = report_text(I18N, "vi", _view(21, 23, [("Lê Văn A", True), ("Trần Thị B", False)]))
    assert "Chưa rõ" not in whole


def test_figures_add_up_awaiting_and_not_reported_are_two_names() -> None:
    waiting = I18N.t("meetings.outcome.awaiting_report", "vi")
    assert waiting != I18N.t("meetings.outcome.not_reported", "vi")
    assert waiting != I18N.t("mrep.status.scheduled", "vi")
    assert I18N.t("mrep.status.reported", "vi") == "đã báo cáo"


async def _meeting(w: MeetingWorld, branch_id: int, district_id: int, at: datetime) -> None:
    async with w.factory() as s, s.begin():
        loc = at.astimezone(w.ctx.tz)
        s.add(
            Meeting(
                branch_id=branch_id,
                district_id=district_id,
                kind="extraordinary",
                status="scheduled",
                origin="secretary",
                period_year=loc.year,
                period_month=loc.month,
                starts_at=at,
                place="Nhà văn hóa",
            )
        )


async def test_figures_add_up_meetings_code_with_a_month_shows_that_month(
    engine: AsyncEngine,
) -> None:
    w = await meeting_world(engine, -100555, [TelegramUser(id=ADMIN, first_name="A")])
    org = w.org
    await _meeting(w, org.b1, org.district, local(2026, 10, 20, 19, 30))
    await _meeting(w, org.b1, org.district, local(2026, 11, 5, 19, 30))
    await _meeting(w, org.b1, org.district, local(2026, 12, 3, 19, 30))
    where = views.Where(ADMIN, True)
    async with w.factory() as s:
        actor = await load_actor(s, ADMIN)
        october = await views.overview(s, actor, w.clock, where, "T01U01B01 10/2026")
        december = await views.overview(s, actor, w.clock, where, "12/2026 T01U01B01")
    assert isinstance(october, views.BranchMeetings) and isinstance(december, views.BranchMeetings)
    assert [r.meeting.starts_at for r in october.recent] == [local(2026, 10, 20, 19, 30)]
    assert october.upcoming == []
    assert [r.meeting.starts_at for r in december.upcoming] == [local(2026, 12, 3, 19, 30)]
    assert december.recent == []


async def test_figures_add_up_a_past_meeting_day_with_nothing_scheduled_is_not_upcoming(
    engine: AsyncEngine,
) -> None:
    """The defect: in December a branch whose meeting day had passed with nothing scheduled
    read "Sắp diễn ra". Before its day it is upcoming; after it, missed so far; once the month
    is over, not held."""
    nw = await nudge_world(engine)
    b1 = nw.org.b1  # joined on 24/11 (its secretary wrote to the Trợ lý); its rule: the 5th

    async def december() -> Outcome:
        async with nw.factory() as s:
            actor = await load_actor(s, ADMIN)
            summary = await views.summary(
                s, actor, nw.clock, views.Scope("committee", nw.org.district), 2026, 12
            )
        assert summary.totals.get(Outcome.NOT_SCHEDULED, 0) == sum(
            1 for _, f in summary.rows if f.regular is Outcome.NOT_SCHEDULED
        )
        return {b.id: f.regular for b, f in summary.rows}[b1]

    nw.at(2026, 12, 3, 9)
    assert await december() is Outcome.UPCOMING
    nw.at(2026, 12, 12, 9)
    assert await december() is Outcome.NOT_SCHEDULED
    text = I18N.t("meetings.outcome.not_scheduled", "vi")
    assert text == "Đã qua ngày sinh hoạt, chưa lên lịch"
    assert text != I18N.t("meetings.outcome.upcoming", "vi")
    nw.at(2027, 1, 2, 9)
    assert await december() is Outcome.NOT_HELD


async def test_figures_add_up_on_telegram_counts_who_opened_the_bot_not_imported_ids(
    engine: AsyncEngine,
) -> None:
    """The defect: /branch said "đã dùng Telegram: 3" when only the secretary had ever opened
    the Trợ lý (the other ids came with the import). The card's count and the member list's ✅
    read one definition: an account row."""
    org = await orgdata.build_org(engine)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        s.add(TelegramUser(id=orgdata.SEC1, first_name="Bí"))
    async with factory() as s:
        sec = await load_actor(s, orgdata.SEC1)
        card = await people.branch_card(s, sec)
        page = await people.member_page(s, sec, branch_id=org.b1, page_size=10)
        imported = await s.scalar(
            select(func.count(Member.id)).where(
                Member.branch_id == org.b1, Member.telegram_id.is_not(None)
            )
        )
    assert imported == 3 and card.members == 5
    assert card.on_telegram == 1
    assert [r.role for r in page.rows if r.on_telegram] == ["secretary"]
    text = I18N.t(
        "branch.card",
        "vi",
        name="B",
        code="C",
        kind="",
        unit="",
        day=5,
        time="19:30",
        place="",
        secretary="",
        deputies="",
        members=card.members,
        on_telegram=card.on_telegram,
        chat="",
    )
    assert "Đảng viên: 5 (đã dùng Telegram: 1)" in text
