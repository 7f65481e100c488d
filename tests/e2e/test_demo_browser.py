"""The demo page in a real browser (Debian's Chromium driven by Playwright), as people would use
it: a secretary schedules a meeting with the quick form, two members answer Có mặt / Vắng mặt in
the branch's group, the clock moves past the meeting, the secretary files the report; a member
raises a kiến nghị with a photo; the clock moves a day and the secretary's nudge appears.

`make demo`'s own machinery runs (`bot.demo.running_demo`: the stand-in, its page and the bot in
one process, on an SQLite file), at the test's fixed instant; the page's clock control moves it.
Expected texts come from the catalogs.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import select

from bot.demo import DemoRun, Person, running_demo
from bot.services.vn_calendar import VN_TZ, is_holiday
from storage.models import Meeting
from tests.e2e.feedback_world import PNG
from tests.helpers import local

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START = local(2027, 2, 24, 10)  # a Wednesday; March's meetings are planned, none confirmed
WAIT_MS = 15_000
KIEN_NGHI = "Đèn đường đầu thôn bị hỏng hai tuần nay, đề nghị sớm thay."



def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


class Page:
    """The demo page, driven as a person would: pick someone, open a chat, type, tap."""

    def __init__(self, page: Any, run: DemoRun) -> None:
        self.page = page
        self.run = run

    def t(self, key: str, /, **params: Any) -> str:
        return plain(self.run.app.i18n.t(key, "vi", **params))

    async def act_as(self, person: Person) -> None:
        await self.page.fill("#people-search", person.name)
        await self.page.click(f'li.person[data-user="{person.user_id}"]')
        await self.open_chat(person.user_id)

    async def open_chat(self, chat_id: int) -> None:
        await self.page.click(f'li.chatitem[data-chat="{chat_id}"]')
        await self.page.wait_for_selector(f'#messages[data-chat="{chat_id}"]')

    async def say(self, text: str) -> None:
        await self.page.fill("#text", text)
        await self.page.press("#text", "Enter")

    async def message(self, contains: str) -> Any:
        """The last message showing `contains` (waits for it)."""
        found = self.page.locator(".msg", has_text=contains).last
        await found.wait_for(timeout=WAIT_MS)
        return found

    async def tap(self, label: str, contains: str | None = None) -> None:
        """Tap the button `label` on the last message that has it; wait for the answer (the
        message edited, or a new one)."""
        base = self.page.locator(".msg", has=self.page.get_by_role("button", name=label))
        if contains is not None:
            base = base.filter(has_text=contains)
        msg = base.last
        await msg.wait_for(timeout=WAIT_MS)
        before = await msg.inner_text()
        msg_id = await msg.get_attribute("data-id")
        await msg.get_by_role("button", name=label).first.click()
        await self.page.wait_for_function(
            """([sel, before]) => {
                const el = document.querySelector(sel);
                const last = document.querySelector('#messages .msg:last-child');
                return !el || el.innerText !== before || last !== el;
            }""",
            arg=[f'.msg[data-id="{msg_id}"]', before],
            timeout=WAIT_MS,
        )

    async def clock_to(self, at: datetime) -> None:
        await self.page.fill("#clock-at", f"{at.astimezone(VN_TZ):%Y-%m-%dT%H:%M}")
        await self.page.click("#clock-set")
        await self.page.wait_for_selector(f"#clock:has-text('{at.astimezone(VN_TZ):%d/%m/%Y}')")


def _cast(run: DemoRun) -> tuple[Any, Person, Person, Person]:
    """A village branch with its secretary and two members on Telegram."""
    assert run.host.org is not None
    for branch, people in run.host.org.branches:
        secretary = next((p for p in people if p.role == "secretary"), None)
        members = [p for p in people if p.role == "member"]
        if secretary is not None and len(members) >= 2 and branch.kind == "village":
            return branch, secretary, members[0], members[1]
    raise AssertionError("no village branch with a secretary and two members on Telegram")


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
    from playwright.async_api import async_playwright

    # Never skipped: `make test` and `.ci/run` install Debian's chromium when it is missing.
    assert shutil.which(CHROMIUM), "the browser test needs Debian's chromium (make chromium)"
    started = time.monotonic()
    fixed_clock.move_to(START)
    async with running_demo(tmp_path / "demo", port=0) as run, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = Page(await browser.new_page(locale="vi-VN"), run)
            await page.page.goto(run.url)
            branch, secretary, present, absent = _cast(run)
            group = next(
                c.id for c in run.world.chats.values() if c.is_group and c.title == branch.name
            )
            march = await _march_meeting(run, branch.id)

            # The secretary schedules a meeting with the quick form; the group is told.
            await page.act_as(secretary)
            await page.say(f"/schedule 25/02 14:00 Nhà văn hóa {branch.name}")
            await page.message(page.t("mtg.sched.done", id=0).split("(")[0].strip())
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
            await page.message("tổ chức không")
            for label in ("✅ Có", "Tiếp", "Tiếp", "Tiếp", "Bỏ qua", "Bỏ qua", "Bỏ qua"):
                await page.tap(label)
            await page.tap("✅ Gửi")
            await page.message("Đã gửi báo cáo")

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
            month = f"{march.astimezone(VN_TZ):%m/%Y}"
            nudge = await page.message(f"{march.astimezone(VN_TZ):%d/%m/%Y}")
            assert "chưa được lên lịch" in await nudge.inner_text(), month
        finally:
            await browser.close()
    elapsed = time.monotonic() - started
    print(f"demo browser test: {elapsed:.1f} s")
    assert elapsed < 90, elapsed
