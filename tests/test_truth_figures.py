"""Truth rule "figures that add up": a report's counts add up to the members, a reported
meeting reads as reported, "awaiting" and "not reported" are told apart, and a month typed
after a branch code is the month shown."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services import meeting_views as views
from bot.services.meetings.report_text import ReportView, report_text
from bot.services.policy import load_actor
from storage.models import Meeting, TelegramUser
from tests.helpers import local
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
