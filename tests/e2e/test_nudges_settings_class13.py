"""Issue 21, class 13: the committee sees its district's nudge settings with their current
values and changes them by buttons (`/nudges settings`, or the button under `/nudges`); another
district's admin or a plain member pressing the same buttons is refused and nothing changes.

The world is the small org of `tests/orgdata.py` (`tests/e2e/access.py`); texts come from the
catalogs.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from bot.services.nudges import Change
from handlers.nudges.settings import WAKING, SettingsCb
from storage.models import NudgeSetting, TelegramUser
from tests import orgdata as o
from tests.e2e.access import org_world
from tests.e2e.harness import BotEnv
from tests.e2e.rosters_world import plain
from tests.helpers import button, buttons

DISTRICT = "Huyện ủy Thử Nghiệm"
Msg = dict[str, Any]


def said(env: BotEnv, key: str, **params: object) -> str:
    return plain(env.app.i18n.t(key, "vi", **params))


def state(env: BotEnv, policy: str, hours: int, escalate: int | None) -> str:
    """A policy's values as the screen gives them (spans in whole days)."""

    def offset(h: int) -> str:
        moment = said(env, f"nudge.settings.moment.{policy}")
        if h == 0:
            return said(env, "nudge.settings.at", moment=moment)
        key = "nudge.settings.before" if h < 0 else "nudge.settings.after"
        days = abs(h) // 24
        span = (
            said(env, "nudge.settings.day")
            if days == 1
            else said(env, "nudge.settings.days", n=days)
        )
        return said(env, key, span=span, moment=moment)

    esc = (
        said(env, "nudge.settings.escalate_none")
        if escalate is None
        else said(env, "nudge.settings.escalate", when=offset(escalate))
    )
    return said(env, "nudge.settings.on", when=offset(hours), escalate=esc)


def line(env: BotEnv, n: int, policy: str, value: str) -> str:
    kind = said(env, f"nudge.kind.{policy}")
    return said(env, "nudge.settings.line", n=n, kind=kind, state=value)


async def rows(env: BotEnv) -> list[tuple[int, str, bool, int, int | None]]:
    await env.settle()
    async with env.app.session_factory() as s:
        found = await s.scalars(select(NudgeSetting).order_by(NudgeSetting.policy))
        return [(r.district_id, r.policy, r.enabled, r.hours, r.escalate_hours) for r in found]


def now(env: BotEnv, msg: Msg) -> Msg:
    """The message as it reads now (screens are edited in place)."""
    chat = msg["chat"]["id"]
    (m,) = [m for m in env.world.bot_messages(chat) if m["message_id"] == msg["message_id"]]
    return m


async def tap(env: BotEnv, who: int, msg: Msg, data: str, strict: bool = True) -> str:
    answer = await env.press(who, msg, data, strict=strict)
    await env.settle()
    return str(answer.get("text") or "")


async def test_class13_committee_sees_and_changes_nudge_settings(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    screen = await env.ask(o.ADMIN, "/nudges settings")
    text = screen["text"]
    assert text.startswith(said(env, "nudge.settings.head", district=DISTRICT))
    assert said(env, "nudge.settings.waking", start=7, end=21) in text
    # Every policy with its current (default) value, a button each, one for the hours.
    assert line(env, 1, "meeting_unscheduled", state(env, "meeting_unscheduled", -72, None)) in text
    assert line(env, 2, "meeting_report", state(env, "meeting_report", 24, 72)) in text
    assert line(env, 5, "feedback_due", state(env, "feedback_due", -48, 0)) in text
    assert len(buttons(screen)) == 7
    assert await rows(env) == []

    # One policy: a day later, then off; each press saved and shown.
    kind = said(env, "nudge.kind.meeting_report")
    await tap(env, o.ADMIN, screen, button(screen, f"2. {kind}"))
    toast = await tap(env, o.ADMIN, screen, button(now(env, screen), "Nhắc muộn"))
    assert toast == said(env, "nudge.settings.saved")
    assert (
        line(env, 2, "meeting_report", state(env, "meeting_report", 48, 72))
        in now(env, screen)["text"]
    )
    off = said(env, "nudge.settings.button.off")
    await tap(env, o.ADMIN, screen, button(now(env, screen), off))
    off_line = line(env, 2, "meeting_report", said(env, "nudge.settings.off"))
    assert off_line in now(env, screen)["text"]
    assert button(now(env, screen), said(env, "nudge.settings.button.on"))
    expected = [(org.district, "meeting_report", False, 48, 72)]
    assert await rows(env) == expected

    # The waking hours: start an hour later.
    await tap(
        env, o.ADMIN, screen, button(now(env, screen), said(env, "nudge.settings.button.back"))
    )
    assert off_line in now(env, screen)["text"]
    await tap(
        env, o.ADMIN, screen, button(now(env, screen), said(env, "nudge.settings.button.waking"))
    )
    await tap(env, o.ADMIN, screen, button(now(env, screen), "Bắt đầu muộn"))
    assert said(env, "nudge.settings.waking", start=8, end=21) in now(env, screen)["text"]
    expected.append((org.district, "waking", True, 8, 21))
    assert await rows(env) == expected

    # The button under the figures opens the same screen, values as stored.
    figures = await env.ask(o.ADMIN, "/nudges 11/2026")
    await tap(env, o.ADMIN, figures, button(figures, said(env, "nudge.settings.button.open")))
    assert off_line in now(env, figures)["text"]


async def test_class13_forged_settings_presses_are_refused(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    env.user(o.ADMIN_OTHER, "Khác", "vi", started=True)
    async with env.app.session_factory() as s, s.begin():
        s.add(TelegramUser(id=o.ADMIN_OTHER, first_name="Khác"))
    refused = said(env, "people.refused", reason=env.app.i18n.t("policy.needs_admin", "vi"))
    # A plain member is shown nothing to press.
    member = await env.ask(o.SEC1, "/nudges settings")
    assert member["text"] == refused and not buttons(member)
    # The other district's admin sees their own district only.
    other = await env.ask(o.ADMIN_OTHER, "/nudges settings")
    assert DISTRICT not in other["text"] and len(buttons(other)) == 7
    before = await rows(env)
    c = Change
    forged = [
        SettingsCb(d=org.district),
        SettingsCb(d=org.district, p=2),
        SettingsCb(d=org.district, p=2, c=c.TOGGLE),
        SettingsCb(d=org.district, p=3, c=c.LATER),
        SettingsCb(d=org.district, p=WAKING, c=c.WAKE_FROM_EARLIER),
    ]
    for who, msg in ((o.ADMIN_OTHER, other), (o.SEC1, member)):
        shown = now(env, msg)["text"]
        for cb in forged:
            assert await tap(env, who, msg, cb.pack(), strict=False) == refused, (who, cb)
            assert now(env, msg)["text"] == shown
    assert await rows(env) == before == []
    # Steps that do not fit are refused as well: a policy number out of range, a waking step
    # on a policy, a policy step on the hours.
    mine = await env.ask(o.ADMIN, "/nudges settings")
    gone = said(env, "people.refused", reason=env.app.i18n.t("nudge.settings.gone", "vi"))
    d = org.district
    for data in (f"nst:{d}:99:t", f"nst:{d}:2:wfe", f"nst:{d}:{WAKING}:t", f"nst:{d}:0:t"):
        assert await tap(env, o.ADMIN, mine, data, strict=False) == gone, data
    assert await rows(env) == []


VIETNAMESE = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯ\u0300-\u036f\u1ea0-\u1ef9]")


async def test_class13_the_settings_screens_read_as_english(bot_env: BotEnv) -> None:
    """An admin who chose English reads every settings screen and button in plain English: no
    Vietnamese word, no "day(s)", singular and plural as English has them."""
    env = bot_env
    await org_world(env)
    async with env.app.session_factory() as s, s.begin():
        await s.execute(
            update(TelegramUser).where(TelegramUser.id == o.ADMIN).values(language="en")
        )

    def en(key: str, **params: object) -> str:
        return plain(env.app.i18n.t(key, "en", **params))

    screen = await env.ask(o.ADMIN, "/nudges settings")
    assert screen["text"].startswith(en("nudge.settings.head", district=DISTRICT))
    read = [screen["text"].replace(DISTRICT, "")] + [b["text"] for b in buttons(screen)]
    kind = en("nudge.kind.meeting_report")
    await tap(env, o.ADMIN, screen, button(screen, f"2. {kind}"))
    policy = now(env, screen)
    labels = [b["text"] for b in buttons(policy)]
    read += [policy["text"].replace(DISTRICT, "")] + labels
    day = en("nudge.settings.day")
    assert en("nudge.settings.button.later", span=day) in labels
    assert en("nudge.settings.button.esc_earlier", span=day) in labels
    assert "Remind 1 day later ▶" in labels  # the catalog's own words, as a reader sees them
    await tap(env, o.ADMIN, screen, button(policy, en("nudge.settings.button.back")))
    await tap(env, o.ADMIN, screen, button(now(env, screen), en("nudge.settings.button.waking")))
    waking = now(env, screen)
    hours = [b["text"] for b in buttons(waking)]
    assert en("nudge.settings.button.from_later", span=en("nudge.settings.hour")) in hours
    read += [waking["text"].replace(DISTRICT, "")] + hours
    assert not [x for x in read if VIETNAMESE.search(x) or "(s)" in x], read
    assert await rows(env) == []  # reading changes nothing
