"""Issue 21, class 12 at service level: a commune forwards a kiến nghị only along the tree;
deadlines fall at the end of an office day; a broadcast's copy in a secretary's private chat
is preceded by a line naming the committee that sent it. (The roster items and the deputy's
card are end to end: tests/e2e/test_rosters_class12.py, tests/e2e/test_feedback_class12.py.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.access.policy import Actor
from bot.services.broadcasts import Audience
from bot.services.broadcasts import AudiencePart as P
from bot.services.feedback import workflow as wf
from bot.services.feedback.common import FeedbackConfig
from bot.services.feedback.levels import LevelRef
from bot.services.feedback.presentation import card_text
from bot.services.feedback.views import build_view
from bot.services.vn_calendar import VN_TZ, format_datetime, office_deadline, to_local
from storage.models import Branch, Unit
from storage.models.feedback import LevelType
from tests import orgdata as o
from tests.broadcast_world import bc_world
from tests.feedback_world import UNIT_CHAT, FeedbackWorld, feedback_world
from tests.orgdata import ADMIN, SEC1, STRANGER

UNIT, DISTRICT = LevelType.UNIT, LevelType.DISTRICT


async def _actor(fw: FeedbackWorld, who: int) -> Actor:
    async with fw.w.factory() as s:
        return await fw.actor(s, who)


async def test_class12_feedback_forward_follows_the_tree(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    item = await fw.raise_(SEC1, on_behalf=True)  # at commune T01U01, pressed in its group
    assert (item.level_type, item.level_id) == ("unit", org.u1)
    targets = await fw.read(
        wf.forward_targets, await _actor(fw, STRANGER), item.id, via_chat=UNIT_CHAT
    )
    refs = [t.ref for t in targets]
    # Up to the committee above (here the district's) and its departments; no sibling commune.
    assert refs[0] == LevelRef(DISTRICT, org.district)
    assert LevelRef(UNIT, org.u2) not in refs
    assert {r.type for r in refs} <= {DISTRICT, LevelType.DEPARTMENT}
    # A forged forward to the other commune: refused, nothing changed.
    before = await fw.state()
    err = await fw.refused(
        STRANGER, wf.forward, item.id, item.version, via_chat=UNIT_CHAT, to=LevelRef(UNIT, org.u2)
    )
    assert err.key == "fb.bad_target" and await fw.state() == before
    # The district sends it down the tree, to the commune it belongs to.
    item = await fw.run(STRANGER, wf.forward, item.id, item.version, via_chat=UNIT_CHAT, to=refs[0])
    down = [t.ref for t in await fw.read(wf.forward_targets, await _actor(fw, ADMIN), item.id)]
    assert LevelRef(UNIT, org.u1) in down and LevelRef(UNIT, org.u2) in down


def test_class12_office_deadline_is_the_end_of_a_working_weekday() -> None:
    allowed = FeedbackConfig().deadline_for("branch")
    odd = datetime(2026, 11, 26, 19, 54, tzinfo=VN_TZ)  # Thứ Năm 26/11, 02:54 next day in UTC+0
    due = to_local(office_deadline(odd, allowed), VN_TZ)
    assert (due.date().isoformat(), due.hour, due.minute) == ("2026-12-11", 17, 0)  # Thứ Sáu
    # Falling on a Saturday: the Monday after.
    sat = to_local(office_deadline(datetime(2026, 11, 28, 2, 54, tzinfo=VN_TZ), allowed), VN_TZ)
    assert (sat.date().isoformat(), sat.weekday(), sat.hour) == ("2026-12-14", 0, 17)
    # Falling on Tết (Mùng 1, 17/02/2026): the first office day after the holidays.
    tet = office_deadline(datetime(2026, 2, 2, 2, 54, tzinfo=VN_TZ), allowed)
    local = to_local(tet, VN_TZ)
    assert local.weekday() < 5 and local.hour == 17 and local.date() > date(2026, 2, 17)


async def test_class12_deadlines_end_an_office_day(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    clock = fw.w.clock
    clock.t = datetime(2026, 11, 24, 2, 54, tzinfo=VN_TZ)  # an odd minute, before dawn
    item = await fw.raise_(o.MEM1)
    due = to_local(item.deadline, VN_TZ)
    assert (due.hour, due.minute, due.second) == (17, 0, 0) and due.weekday() < 5
    # The card reads it the house way: "Thứ Tư, 09/12/2026 lúc 17:00".
    async with fw.w.factory() as s:
        view = await build_view(s, item)
        text = card_text(fw.w.ctx.i18n, "vi", view, VN_TZ, now=clock.now())
    said = fw.w.ctx.i18n.t("fb.card.deadline", "vi", when=format_datetime(item.deadline, "vi"))
    assert said in text and "lúc 17:00" in said and "02:54" not in text
    # A forward restarts it, again at the end of an office day.
    clock.move(hours=3, minutes=7)
    item = await fw.run(SEC1, wf.forward, item.id, item.version, to=LevelRef(UNIT, fw.org.u1))
    moved = to_local(item.deadline, VN_TZ)
    assert (moved.hour, moved.minute) == (17, 0) and moved.weekday() < 5
    assert item.deadline == office_deadline(clock.now(), timedelta(days=15))


async def test_class12_private_copy_says_who_sent_it(engine: AsyncEngine) -> None:
    w = await bc_world(engine)
    everyone = Audience(parts=frozenset({P.ALL_BRANCH_GROUPS, P.SECRETARIES}))
    draft = await w.draft(everyone)
    await w.send(draft)
    rows = await w.outbox()
    async with w.factory() as s:
        district = await s.get(Unit, (await s.get(Branch, w.org.b1)).district_id)  # type: ignore[union-attr]
    assert district is not None
    headers = [r for r in rows if (r.dedupe_key or "").endswith(":from")]
    # Only the secretary's private chat gets the line, just before the copy; groups do not.
    assert [r.chat_id for r in headers] == [o.SEC1]
    line = w.ctx.i18n.t("bc.copy.from_private", "vi", sender=district.name)
    assert headers[0].text == line and district.name in line
    (copy,) = [r for r in rows if r.dedupe_key == f"bc:{draft}:{o.SEC1}"]
    assert headers[0].id < copy.id and headers[0].not_before == copy.not_before
    assert all(r.chat_id < 0 for r in rows if r not in headers and r.chat_id != o.SEC1)
