"""The demo page driven in Debian's Chromium by Playwright: what the browser test and the guide's
screenshots (`scripts/screenshots`) share, so the pictures show the very screens the test uses.

Playwright is a test extra and drives `/usr/bin/chromium` (never `playwright install`).
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bot.app.demo import DemoRun, Person
from bot.services.vn_calendar import VN_TZ

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
WAIT_MS = 15_000


def plain(text: str) -> str:
    """A catalog text as the person reads it: the HTML markup parsed away."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@contextlib.asynccontextmanager
async def chromium_page(run: DemoRun, width: int = 1280, height: int = 800) -> AsyncIterator[Page]:
    """The demo page open in a headless Chromium."""
    # Playwright is a test dependency: only the browser check and `make guide` load it.
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(
                locale="vi-VN", viewport={"width": width, "height": height}
            )
            await page.goto(run.url)
            yield Page(page, run)
        finally:
            await browser.close()


class Page:
    """The demo page, driven as a person would: pick someone, open a chat, type, tap."""

    def __init__(self, page: Any, run: DemoRun) -> None:
        self.page = page
        self.run = run

    def t(self, key: str, /, **params: Any) -> str:
        """The Vietnamese catalog text of `key`, as read on the screen."""
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
        """Tap the button `label` on the last message that has it (and shows `contains`); wait
        for the answer: that message edited, gone, or a newer one below it."""
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
        """Set the clock with the page's date and time control."""
        local_at = at.astimezone(VN_TZ)
        await self.page.fill("#clock-at", f"{local_at:%Y-%m-%dT%H:%M}")
        await self.page.click("#clock-set")
        await self.page.wait_for_selector(f"#clock:has-text('{local_at:%d/%m/%Y}')")


def village_cast(run: DemoRun) -> tuple[Any, Person, Person, Person]:
    """A village branch with its secretary and two members on Telegram."""
    assert run.host.org is not None
    for branch, people in run.host.org.branches:
        secretary = next((p for p in people if p.role == "secretary"), None)
        members = [p for p in people if p.role == "member"]
        if secretary is not None and len(members) >= 2 and branch.kind == "village":
            return branch, secretary, members[0], members[1]
    raise AssertionError("no village branch with a secretary and two members on Telegram")
