"""The demo page in a real browser (Debian's Chromium driven by Playwright), as people would use
it: a secretary schedules a meeting with the quick form, two members answer Có mặt / Vắng mặt in
the branch's group, the clock moves past the meeting, the secretary files the report; a member
raises a kiến nghị with a photo; the clock moves a day and the secretary's nudge appears.

`make demo`'s own machinery runs (`bot.app.demo.running_demo`: the stand-in, its page and the bot in
one process, on an SQLite file), at the test's fixed instant; the page's clock control moves it.
Expected texts come from the catalogs.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import time_machine
from sqlalchemy import select

from bot.app.demo import DemoRun, running_demo
from bot.app.demo_browser import CHROMIUM, chromium_page, village_cast
from bot.services.vn_calendar import VN_TZ, is_holiday
from storage.models import Meeting
from tests.e2e.feedback_world import PNG
from tests.helpers import local

START = local(2027, 2, 24, 10)  # a Wednesday; March's meetings are planned, none confirmed
KIEN_NGHI = "Đèn đường đầu thôn bị hỏng hai tuần nay, đề nghị sớm thay."


async def _march_meeting(run: DemoRun, branch_id: int) -> datetime:
    async with run.app.session_factory() as s:
        starts = await s.scalars(
            select(Meeting.starts_at).where(
                Meeting.branch_id == branch_id, Meeting.status == "planned"
            )
        )
        march = [t for t in starts if t.astimezone(VN_TZ).month == 3]
    assert march, "the plan job planned March"
    return min(march)


def _day_before_the_nudge(march: datetime) -> datetime:
    """An instant a day before a waking, working hour at which March's "not scheduled" nudge
    is due (3 days before the rule's date): one "+1 ngày" then brings it."""
    due = march - timedelta(hours=72)
    for hours in range(1, 24):
        at = due + timedelta(hours=hours)
        local_at = at.astimezone(VN_TZ)
        if 8 <= local_at.hour < 20 and not is_holiday(local_at.date()):
            return at - timedelta(days=1)
    raise AssertionError("no waking hour after the nudge is due")


async def test_people_try_the_bot_in_the_demo_page(
    tmp_path: Path, fixed_clock: time_machine.Traveller
) -> None:
    # Never skipped: `make test` and `.ci/run` install Debian's chromium when it is missing.
    assert shutil.which(CHROMIUM), "the browser test needs Debian's chromium (make chromium)"
    fixed_clock.move_to(START)
    async with running_demo(tmp_path / "demo", port=0) as run, chromium_page(run) as page:
        branch, secretary, present, absent = village_cast(run)
        group = next(
            c.id for c in run.world.chats.values() if c.is_group and c.title == branch.name
        )
        march = await _march_meeting(run, branch.id)

        # The secretary schedules a meeting with the quick form; the group is told.
        await page.act_as(secretary)
        await page.say(f"/schedule 25/02 14:00 Nhà văn hóa {branch.name}")
        await page.tap(page.t("mtg.sched.ok"), page.t("mtg.sched.check", details="").strip())
        await page.message(page.t("mtg.sched.done"))
        await page.open_chat(group)
        await page.message(page.t("mtg.announce.head"))

        # Two members answer in the group.
        for person, label in ((present, "mtg.button.yes"), (absent, "mtg.button.no")):
            await page.act_as(person)
            await page.open_chat(group)
            await page.tap(page.t(label), page.t("mtg.announce.head"))
        counts = page.t("mtg.counts", yes=1, no=1, pending=0).split(" · ")
        await page.message(counts[0])
        await page.message(counts[1])

        # The clock moves past the meeting; the secretary files the report.
        await page.clock_to(local(2027, 2, 25, 17))
        await page.act_as(secretary)
        await page.say("/report")
        await page.message(page.t("mrep.w.held"))
        for label in ("✅ Có", "Tiếp", "Tiếp", "Tiếp", "Bỏ qua", "Bỏ qua", "Bỏ qua"):
            await page.tap(label)
        await page.tap("✅ Gửi")
        await page.message(page.t("mrep.sent", date="", where="").split(" .")[0])

        # A member raises a kiến nghị with a photo.
        await page.act_as(present)
        await page.say("/feedback")
        await page.tap("Hạ tầng")
        await page.say(KIEN_NGHI)
        await page.message(page.t("fbui.raise.files", max=10)[:40])
        await page.page.set_input_files(
            "#file", files=[{"name": "den-duong.png", "mimeType": "image/png", "buffer": PNG}]
        )
        await page.message("(1/10)")
        await page.tap(page.t("fbui.raise.files_done"))
        await page.tap(page.t("fbui.raise.send"))
        await page.message("KN-2027-")

        # A day later the secretary is reminded that March's meeting is not scheduled.
        await page.clock_to(_day_before_the_nudge(march))
        await page.act_as(secretary)
        await page.page.click("#clock-day")
        nudge = await page.message(f"{march.astimezone(VN_TZ):%d/%m/%Y}")
        unscheduled = page.t(
            "nudge.line.meeting_unscheduled", month="", branch="", date="", time=""
        ).split(")")[-1]
        assert unscheduled.strip() and unscheduled.strip() in await nudge.inner_text()
        assert branch.name in await nudge.inner_text()
