"""Issue 21's acceptance: one story per role, walked through the sandbox as the person would:
their /start, their command menu and /help, then the commands and buttons of an ordinary
month, and what they receive. Every expected text is rendered from the catalogs.

The feature tests (test_meetings_schedule.py, test_meeting_reports.py, test_rosters_*.py,
test_broadcasts*.py, test_nudges*.py, ...) check each step in depth, with its refusals; these
stories check that the steps join up into each role's everyday path. They reuse those tests'
worlds: the one-branch month (secretary, member), dan-phuong's working groups (visitor,
working-group leader) and dan-phuong's branch groups (commune admin, district admin). The clock
is jumped, never waited for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.jobs.rosters import drafts_job
from bot.commands import ROLE_COMMANDS
from bot.services.access.policy import load_actor
from bot.services.feedback.common import item_number
from bot.services.vn_calendar import format_quarter, to_local
from handlers.common import HELP_EXTRA
from storage.models import FeedbackItem, Unit
from storage.models.feedback import FeedbackStatus, LevelType
from tests import orgdata as o
from tests.e2e import rosters_steps as st
from tests.e2e.broadcasts_world import (
    ADMIN,
    COMMUNE_ADMIN,
    START,
    BroadcastWorld,
    broadcast_world,
)
from tests.e2e.harness import BotEnv
from tests.e2e.rosters_world import RosterWorld
from tests.e2e.test_meetings_schedule import (
    GROUP,
    Month,
    _delivered,
    _group_msg,
    _schedule_december,
    _schedule_thematic,
    month_world,
)
from tests.helpers import button, buttons, local

Msg = dict[str, Any]
NEW_COMMUNE_ADMIN = 980_000_010  # made a commune admin by the district admin's /admins add


@pytest.fixture
async def month(database_url: str) -> AsyncIterator[Month]:
    async with month_world(database_url) as m:
        yield m


@pytest.fixture
async def dp(dan_phuong_url: str) -> AsyncIterator[BroadcastWorld]:
    """dan-phuong with its branch groups on Telegram (`bc`), without the flood limits: these
    stories test the path, not the pacing (test_broadcasts*.py do)."""
    async with broadcast_world(dan_phuong_url, paced=False) as world:
        yield world


# Steps every role takes ------------------------------------------------------------------


def _menu(env: BotEnv, chat: int) -> set[str]:
    """The commands of the person's private menu, as Telegram shows it."""
    return {c["command"] for c in env.world.commands({"type": "chat", "chat_id": chat})}


async def _arrives(
    env: BotEnv, who: int, role: str, t: Callable[..., str], *, name: str | None = None
) -> None:
    """/start greets the person by the organisation's name for them and gives them the menu
    of their role at once (class 7); /help has their role's section, none of it a raw key."""
    if name is None:
        async with env.app.session_factory() as s:
            actor = await load_actor(s, who)
        name = actor.memberships[0].full_name
    hello = await env.ask(who, "/start")
    assert hello["text"] == t("start.greeting", name=name)
    await env.settle()
    assert set(ROLE_COMMANDS[role]) <= _menu(env, who), (role, _menu(env, who))
    helped = await env.ask(who, "/help")
    assert t(f"help.{role}") in helped["text"]
    for key in HELP_EXTRA.get(role, ()):
        assert t(key) in helped["text"], key
    assert "help." not in helped["text"]


def _now(env: BotEnv, msg: Msg) -> Msg:
    """The message as it reads now (screens are edited in place)."""
    chat = msg["chat"]["id"]
    (now,) = [m for m in env.world.bot_messages(chat) if m["message_id"] == msg["message_id"]]
    return now


async def _tap(env: BotEnv, who: int, msg: Msg, label: str) -> dict[str, Any]:
    """Press the button labelled `label` (its start) on the message as it reads now."""
    answer = await env.press(who, msg, button(_now(env, msg), label))
    await env.settle()
    return answer


# Secretary ------------------------------------------------------------------------------


async def _pick_and_confirm(m: Month, command: str, kind: str, ok: str) -> Msg:
    """A /reschedule or /cancel: the picker's thematic meeting, then the check's confirm."""
    env = m.env
    pick = await env.ask(o.SEC1, command, predicate=lambda x: m.t("mtg.pick") in x["text"])
    await _tap(env, o.SEC1, pick, next(b["text"] for b in buttons(pick) if kind in b["text"]))
    check = _now(env, pick)
    assert [b["text"] for b in buttons(check)][0] == m.t(ok)
    await _tap(env, o.SEC1, check, m.t(ok))
    return _now(env, pick)


async def test_secretary_a_month_of_meetings(month: Month) -> None:
    """The quick form (checked, then Xác nhận), a thematic meeting by the wizard, that meeting
    moved and then cancelled (each confirmed), and December's report after the meeting."""
    m, env, t = month, month.env, month.t
    await _arrives(env, o.SEC1, "secretary", t)

    # The quick form shows what it understood; nothing is announced before Xác nhận.
    before = env.last_bot_id(GROUP)
    check = await env.ask(o.SEC1, "/schedule 03/12 19:30 Nhà văn hóa thôn 3")
    assert check["text"].startswith(t("mtg.sched.check", details="").strip())
    assert m.when(2026, 12, 3, 19, 30) in check["text"]
    await env.silence(GROUP, before)
    done, announce = await _schedule_december(m)
    assert t("mtg.sched.done") in done["text"]
    assert t("mtg.announce.head") in announce["text"] and "Nhà văn hóa thôn 3" in announce["text"]

    # The wizard: a thematic meeting on the 10th.
    await _schedule_thematic(m)

    # Moved to the 11th: the group is told of the change.
    after = env.last_bot_id(GROUP)
    thematic = t("meetings.kind.thematic")
    moved = await _pick_and_confirm(
        m, "/reschedule 11/12 19:30 Hội trường thôn", thematic, "mtg.change.ok_resched"
    )
    assert t("mtg.resched.done") in moved["text"]
    await _delivered(env)
    change = await _group_msg(env, t("mtg.changed.head"), after=after)
    old, new = m.when(2026, 12, 10, 19, 30), m.when(2026, 12, 11, 19, 30)
    assert t("mtg.changed.when", old=old, new=new) in change["text"]

    # Then cancelled, with its reason, after its confirm.
    cancelled = await _pick_and_confirm(
        m, "/cancel Trùng lịch họp thôn", thematic, "mtg.change.ok_cancel"
    )
    assert t("mtg.cancel.done") in cancelled["text"]
    await _delivered(env)
    await _group_msg(env, t("mtg.cancelled.head", reason="Trùng lịch họp thôn"), after=after)

    # The evening of the 3rd, after the meeting: the report in a few taps.
    m.clock.move_to(local(2026, 12, 3, 21, 30))
    wizard = await env.ask(o.SEC1, "/report", predicate=lambda x: t("mrep.w.held") in x["text"])
    assert m.when(2026, 12, 3, 19, 30) in wizard["text"]
    await _tap(env, o.SEC1, wizard, t("mrep.w.held_yes"))
    for _ in range(8):
        if t("mrep.w.summary") in _now(env, wizard)["text"]:
            break
        labels = [b["text"] for b in buttons(_now(env, wizard))]
        step = t("mrep.w.next") if t("mrep.w.next") in labels else t("mrep.w.skip")
        await _tap(env, o.SEC1, wizard, step)
    assert t("mrep.w.summary") in _now(env, wizard)["text"]
    await _tap(env, o.SEC1, wizard, t("mrep.w.send"))
    sent = t("mrep.sent", date=m.when(2026, 12, 3, 19, 30).split(" lúc")[0], where="")
    assert _now(env, wizard)["text"].startswith(sent.strip())


# Member ---------------------------------------------------------------------------------


async def test_member_answers_the_announcement_and_sees_the_answer(month: Month) -> None:
    """The announcement in the branch group, Vắng mặt with a reason in a tap, the answer in
    /meetings; then Có mặt, and the answer in /meeting."""
    m, env, t = month, month.env, month.t
    await _arrives(env, o.MEM1, "member", t)
    _done, announce = await _schedule_december(m)
    assert [b["text"] for b in buttons(announce)][:2] == [
        t("mtg.button.yes"),
        t("mtg.button.no"),
    ]
    await _delivered(env)

    after = env.last_bot_id(o.MEM1)
    answer = await _tap(env, o.MEM1, announce, t("mtg.button.no"))
    assert answer["text"] == t("mtg.rsvp.no")
    ask = await env.world.wait_for_bot_message(
        o.MEM1, lambda x: t("mtg.rsvp.ask_reason") in x["text"], after=after
    )
    sick = t("meetings.reason.sick")
    await _tap(env, o.MEM1, ask, sick)
    assert t("mtg.rsvp.reason_saved", reason=sick) in _now(env, ask)["text"]

    listed = await env.ask(o.MEM1, "/meetings")
    mine = t("mrep.list.mine", answer=t("mrep.answer.no_because", reason=sick))
    assert mine in listed["text"]

    announce = _now(env, announce)
    answer = await _tap(env, o.MEM1, announce, t("mtg.button.yes"))
    assert answer["text"] == t("mtg.rsvp.yes")
    detail = await env.ask(o.MEM1, "/meeting 03/12")
    assert t("mrep.detail.mine", answer=t("mrep.answer.yes")) in detail["text"]


# Visitor (a working-group member) ----------------------------------------------------------


async def test_visitor_sees_their_visits_and_marks_a_busy_day(rosters: RosterWorld) -> None:
    """The roster published: the visitor's own list with Xác nhận, /roster's coming quarter
    with their visits, and /busy for a day they cannot go."""
    w, env = rosters, rosters.env
    g = w.groups[0]
    member = w.plain_member(g)
    chat = w.tg[member]
    await _arrives(env, chat, "visitor", w.t)

    roster = (await w.publish([g]))[g.id]
    theirs = [v for v in await w.visits(roster.id) if v.visitor_member_id == member]
    assert theirs
    head = w.t("roster.visitor.list", group=g.name, quarter=w.quarter())
    (listing,) = [x for x in w.sent(chat) if x.get("text", "").startswith(head)]
    for v in theirs:
        about = await w.about(v)
        assert about["branch"] in listing["text"] and about["when"] in listing["text"]
    answer = await st.tap(w, chat, listing, st.key(listing, w.t("roster.button.confirm")))
    assert answer["text"] == w.t("roster.confirmed", n=len(theirs))

    (screen,) = await st.roster(w, chat)
    assert screen["text"].startswith(
        w.t("roster.review.published", group=g.name, quarter=w.quarter())
    )
    lines = screen["text"].splitlines()
    for v in theirs:  # each of their visits, by date first, with their name
        about = await w.about(v)
        assert any(
            x.startswith(f"• {about['when']} · {about['branch']}") and w.names[member] in x
            for x in lines
        ), (about, lines)

    busy = await env.ask(chat, "/busy")
    assert busy["text"] == w.t("roster.busy.title", quarter=w.quarter(1), n=0)
    answer = await st.tap(w, chat, busy, st.key(busy, "20"))
    assert answer["text"] == w.t("roster.busy.on", day="20/01")
    assert st.shown(w, busy)["text"] == w.t("roster.busy.title", quarter=w.quarter(1), n=1)


# Working-group leader --------------------------------------------------------------------


async def test_working_group_leader_reviews_and_publishes(rosters: RosterWorld) -> None:
    """The draft made, /roster's period buttons, the draft reviewed, Công bố: the group's chat
    gets the table."""
    w, env = rosters, rosters.env
    g = w.groups[0]
    leader = w.leader_tg(g)
    await _arrives(env, leader, "visitor", w.t)

    await drafts_job(w.jobs)
    await w.delivered()
    (draft,) = await st.roster(w, leader)
    assert draft["text"].startswith(w.t("roster.review.draft", group=g.name, quarter=w.quarter()))
    assert w.t("roster.draft_hint") in draft["text"]
    after = len(env.world.bot_messages(g.chat_id))
    await st.tap(w, leader, draft, st.key(draft, w.t("roster.button.publish")))
    check = st.shown(w, draft)  # class 2: what publishing does, before it is done
    assert check["text"].endswith(w.t("roster.publish.check", quarter=w.quarter(), group=g.name))
    assert len(env.world.bot_messages(g.chat_id)) == after
    answer = await st.tap(w, leader, check, st.key(check, w.t("roster.button.publish_ok")))
    assert answer["text"] == w.t("roster.published.done")
    published = w.t("roster.review.published", group=g.name, quarter=w.quarter())
    assert st.shown(w, draft)["text"].startswith(published)
    await w.delivered()
    table = w.t("roster.published.group", group=g.name, quarter=w.quarter())
    posted = env.world.bot_messages(g.chat_id)[after:]
    assert any(x.get("text", "").startswith(table) for x in posted), posted


# Commune admin ---------------------------------------------------------------------------


async def test_commune_admin_broadcasts_to_their_branches_and_opens_the_inbox(
    dp: BroadcastWorld,
) -> None:
    """Their menu, a text to their commune's branch groups (preview, Gửi), only those groups
    receive it; /inbox."""
    w, env = dp, dp.env
    await _arrives(env, COMMUNE_ADMIN, "unit_admin", w.t, name="Xã")
    commune = w.units[1][0]
    mine = [b for b in w.in_unit(commune) if b.live]
    assert mine

    text = "Kế hoạch học tập Nghị quyết tháng 12"
    panel = await w.start(COMMUNE_ADMIN, lambda: env.world.send_text(COMMUNE_ADMIN, text))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.part.all")))
    await w.tap(COMMUNE_ADMIN, panel, w.button(panel, w.t("bcui.button.next")))
    summary = await w.preview(COMMUNE_ADMIN, panel)
    (draft,) = await w.broadcasts()
    assert w.t("bcui.preview.title", n=len(mine)) in summary["text"]
    await w.tap(COMMUNE_ADMIN, summary, w.button(summary, w.t("bcui.button.send")))
    assert w.now(summary)["text"] == w.t("bcui.sent.now")
    await w.delivered()
    for b in w.branches:
        if b.chat is None:
            continue
        got = [x for x in env.world.bot_messages(b.chat) if text in (x.get("text") or "")]
        assert len(got) == (1 if b in mine else 0), b.name

    # A branch's feedback forwarded up to the commune's committee: it waits in their /inbox,
    # and its line opens the card with the buttons to act on it.
    branch = mine[0]
    async with env.app.session_factory() as s, s.begin():
        item = FeedbackItem(
            district_id=w.district,
            year=2026,
            number=1,
            branch_id=branch.id,
            unit_id=commune,
            raised_as="branch",
            raised_by_tg=branch.secretary,
            category="infra",
            text="Đường vào nhà văn hóa xuống cấp",
            level_type=LevelType.UNIT.value,
            level_id=commune,
            reached_level_at=START,
            deadline=START + timedelta(days=10),
            status=FeedbackStatus.OPEN.value,
            created_at=START,
        )
        s.add(item)
    number = item_number(2026, 1)
    inbox = await env.ask(COMMUNE_ADMIN, "/inbox")
    assert inbox["text"].startswith(w.t("fbr.inbox.title", total=1)), inbox["text"]
    assert number in inbox["text"] and branch.name in inbox["text"]
    after = env.last_bot_id(COMMUNE_ADMIN)
    await _tap(env, COMMUNE_ADMIN, inbox, number)
    card = await env.world.wait_for_bot_message(
        COMMUNE_ADMIN, lambda x: number in (x.get("text") or ""), after=after
    )
    assert w.t("fb.card.branch", branch=branch.name, unit=w.units[1][2]) in card["text"]
    assert buttons(card)  # theirs to act on


# District admin --------------------------------------------------------------------------


async def test_class8_district_admin_adds_a_commune_admin_and_reads_the_district(
    dp: BroadcastWorld,
) -> None:
    """/admins add makes a commune admin (whose menu is theirs at once), /nudges with its
    settings, /coverage by its period buttons."""
    w, env = dp, dp.env
    await _arrives(env, ADMIN, "admin", w.t, name="Văn phòng")

    async with env.app.session_factory() as s:
        commune = await s.get(Unit, w.units[1][0])
        top = await s.scalar(select(Unit).where(Unit.id == w.district))
    assert commune is not None and top is not None
    env.user(NEW_COMMUNE_ADMIN, "Mới", "vi", started=True)
    added = await env.ask(ADMIN, f"/admins add {NEW_COMMUNE_ADMIN} {commune.code}")
    said = w.t("admins.added", id=NEW_COMMUNE_ADMIN, district=commune.name)
    assert added["text"].startswith(said), added["text"]
    await env.settle()
    assert set(ROLE_COMMANDS["unit_admin"]) <= _menu(env, NEW_COMMUNE_ADMIN)
    await _arrives(env, NEW_COMMUNE_ADMIN, "unit_admin", w.t, name="Mới")

    figures = await env.ask(ADMIN, "/nudges")
    await _tap(env, ADMIN, figures, w.t("nudge.settings.button.open"))
    assert _now(env, figures)["text"].startswith(w.t("nudge.settings.head", district=top.name))

    picker = await env.ask(ADMIN, "/coverage")
    assert picker["text"] == w.t("roster.cov.pick")
    today = to_local(env.app.clock.now())  # the quarter of the instant the test runs at
    period = format_quarter(today.year, (today.month - 1) // 3 + 1, "vi")
    await _tap(env, ADMIN, picker, w.t("roster.cov.pick.this", quarter=period))
    assert _now(env, picker)["text"] == w.t("roster.cov.pick.chosen", period=period)
    head = w.t("roster.cov.head", period=period, visited=0, due=0, visits=0, reports=0)
    (shown,) = [x for x in env.world.bot_messages(ADMIN) if x["message_id"] > picker["message_id"]]
    assert shown["text"].split(":")[0] == head.split(":")[0]
