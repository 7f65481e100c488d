"""The feedback read side: figures, inbox, export, and the two commands.

Items and events are inserted directly (the workflow is not needed to read them). The scripted
period is 2026-Q3, [01/07/2026, 01/10/2026) local time, in district T01 (units U01: B01, B02;
U02: B03); "now" is Monday 23/11/2026 11:00:

    A  B01 infra   raised 20/06 09:00, answered 03/07 09:00 on time       (13 days)
    B  B01 infra   raised 05/07 08:00, answered 10/07 08:00 on time,      (5 days)
                   reopened 12/07, answered again 20/07, accepted 21/07
    C  B02 land    raised 01/08 10:00, answered 25/08 10:00 late          (24 days)
    D  B03 land    raised 10/09 09:00, taken 11/09; never answered
    E  B03 social  raised 29/09 23:00, answered 02/10 (after the quarter)
    F  B01 infra   raised 15/09 09:00, rejected 20/09
    G  B02 land    raised 01/05, answered 10/05, reopened 02/07; not answered again
    J  B03 social  raised 01/07 00:00 (the first instant), answered 02:00 on time (2 hours)
    K  B03 infra   raised 01/10 00:00 (the quarter's end: the next quarter's)
    I  B01 infra   raised 05/10
    H  district T02, raised 01/08 (another district: never counted)

Q3: received B C D E F J = 6; answered A B C J = 4 (on time A B J = 3, late C = 1); open at
the end D E G = 3; reopened B G = 2; median of 2 h, 5 d, 13 d, 24 d = 9 days.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from aiogram.types import Update
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.app import App, create_app
from bot.services.feedback import export as xlsx
from bot.services.feedback import inbox as ib
from bot.services.feedback.common import PAGE_SIZE, FeedbackError
from bot.services.feedback.stats import (
    Figures,
    Period,
    parse_period,
    stats,
    stats_for,
)
from handlers.feedback.inbox import InboxOpenCb, inbox_router
from handlers.feedback.stats import StatsFileCb, stats_router
from sandbox.testing import run_sandbox
from storage.models import Branch, CommitteeAdmin, FeedbackEvent, FeedbackItem, FeedbackOption
from storage.models.feedback import FeedbackStatus, LevelType, OptionKind
from tests import orgdata as o
from tests.e2e.harness import TOKEN, make_settings
from tests.helpers import FakeClock, local

NOW = local(2026, 11, 23, 11)
Q3 = Period(2026, 3)
_numbers = itertools.count(1)


@dataclass
class World:
    w: o.MeetingWorld
    units: dict[int, int]  # branch id -> unit id
    cats: dict[str, int]  # category code -> option id (T01)
    other_cat: int  # a category option of T02
    dept: int  # a department option of T01
    items: dict[str, int]

    @property
    def org(self) -> o.Org:
        return self.w.org


async def add_options(s: AsyncSession, district: int, other_district: int) -> tuple[Any, ...]:
    cats = {}
    for pos, (code, name) in enumerate(
        [("land", "Đất đai - xây dựng"), ("infra", "Hạ tầng"), ("social", "Chính sách xã hội")]
    ):
        opt = FeedbackOption(
            district_id=district, kind=OptionKind.CATEGORY.value, code=code, name=name, position=pos
        )
        s.add(opt)
        await s.flush()
        cats[code] = opt.id
    other = FeedbackOption(
        district_id=other_district, kind=OptionKind.CATEGORY.value, code="land", name="Đất"
    )
    dept = FeedbackOption(
        district_id=district, kind=OptionKind.DEPARTMENT.value, code="office", name="Văn phòng"
    )
    s.add_all([other, dept])
    await s.flush()
    return cats, other.id, dept.id


async def add_item(
    s: AsyncSession,
    world: World,
    branch: int,
    category: str,
    created: datetime,
    *,
    level: tuple[LevelType, int] | None = None,
    status: FeedbackStatus = FeedbackStatus.OPEN,
    deadline: datetime | None = None,
    on_time: bool | None = None,
    text: str = "Đường làng xuống cấp",
    district: int | None = None,
    events: tuple[tuple[str, datetime], ...] = (),
    answer: str | None = None,
    raised_as: str = "member",
    raised_by: int = o.MEM1,
) -> int:
    level_type, level_id = level or (LevelType.BRANCH, branch)
    item = FeedbackItem(
        district_id=district or world.org.district,
        year=created.year,
        number=next(_numbers),
        branch_id=branch,
        unit_id=world.units[branch],
        raised_as=raised_as,
        raised_by_tg=raised_by,
        category=category,
        text=text,
        level_type=level_type.value,
        level_id=level_id,
        reached_level_at=created,
        deadline=deadline or created + timedelta(days=15),
        status=status.value,
        answered_on_time=on_time,
        answer=answer,
        created_at=created,
    )
    s.add(item)
    await s.flush()
    s.add(FeedbackEvent(item_id=item.id, at=created, action="raised"))
    for action, at in events:
        s.add(FeedbackEvent(item_id=item.id, at=at, action=action))
    await s.flush()
    return item.id


async def make_world(engine: AsyncEngine) -> World:
    w = await o.meeting_world(engine, -1001)
    org = w.org
    async with w.factory() as s, s.begin():
        units = dict((await s.execute(select(Branch.id, Branch.unit_id))).all())
        cats, other_cat, dept = await add_options(s, org.district, org.other_district)
    return World(w, units, cats, other_cat, dept, {})


async def scripted(engine: AsyncEngine) -> World:
    world = await make_world(engine)
    org = world.org
    b1, b2, b3 = org.b1, org.b2, org.b3
    ans, S = "answered", FeedbackStatus
    async with world.w.factory() as s, s.begin():
        items = {
            "A": await add_item(
                s, world, b1, "infra", local(2026, 6, 20, 9), status=S.ANSWERED, on_time=True,
                events=((ans, local(2026, 7, 3, 9)),),
            ),
            "B": await add_item(
                s, world, b1, "infra", local(2026, 7, 5, 8), status=S.CLOSED, on_time=True,
                events=(
                    (ans, local(2026, 7, 10, 8)),
                    ("reopened", local(2026, 7, 12, 8)),
                    (ans, local(2026, 7, 20, 8)),
                    ("accepted", local(2026, 7, 21, 8)),
                ),
            ),
            "C": await add_item(
                s, world, b2, "land", local(2026, 8, 1, 10), status=S.ANSWERED, on_time=False,
                events=((ans, local(2026, 8, 25, 10)),),
            ),
            "D": await add_item(
                s, world, b3, "land", local(2026, 9, 10, 9), status=S.TAKEN,
                events=(("taken", local(2026, 9, 11, 9)),),
            ),
            "E": await add_item(
                s, world, b3, "social", local(2026, 9, 29, 23), status=S.ANSWERED, on_time=True,
                events=((ans, local(2026, 10, 2, 9)),),
            ),
            "F": await add_item(
                s, world, b1, "infra", local(2026, 9, 15, 9), status=S.REJECTED,
                events=(("rejected", local(2026, 9, 20, 9)),),
            ),
            "G": await add_item(
                s, world, b2, "land", local(2026, 5, 1, 9), status=S.OPEN, on_time=True,
                events=((ans, local(2026, 5, 10, 9)), ("reopened", local(2026, 7, 2, 9))),
            ),
            "J": await add_item(
                s, world, b3, "social", local(2026, 7, 1, 0), status=S.ANSWERED, on_time=True,
                events=((ans, local(2026, 7, 1, 2)),),
            ),
            "K": await add_item(s, world, b3, "infra", local(2026, 10, 1, 0)),
            "I": await add_item(s, world, b1, "infra", local(2026, 10, 5, 9)),
            "H": await add_item(
                s, world, org.other_branch, "land", local(2026, 8, 1, 9),
                district=org.other_district,
            ),
        }  # fmt: skip
    world.items = items
    return world


# Figures ----------------------------------------------------------------------------------


async def test_quarter_figures_equal_the_scripted_events(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    org = world.org
    start, end = Q3.bounds()
    async with world.w.factory() as s:
        got = await stats(s, org.district, start, end, NOW)
    assert got.as_of == end
    assert got.total == Figures(received=6, answered=4, on_time=3, late=1, open=3, reopened=2)
    assert got.median_answer == timedelta(days=9)
    assert [(c.code, c.name, c.figures) for c in got.by_category] == [
        ("land", "Đất đai - xây dựng", Figures(2, 1, 0, 1, 2, 1)),
        ("infra", "Hạ tầng", Figures(2, 2, 2, 0, 0, 1)),
        ("social", "Chính sách xã hội", Figures(2, 1, 1, 0, 1, 0)),
    ]
    assert [(u.unit_id, u.name, u.figures) for u in got.by_unit] == [
        (org.u1, "Đảng ủy xã An", Figures(3, 3, 2, 1, 1, 2)),
        (org.u2, "Đảng ủy xã Bình", Figures(3, 1, 1, 0, 2, 0)),
    ]


async def test_a_running_period_counts_open_items_as_of_now(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    start, end = Period(2026, 4).bounds()
    async with world.w.factory() as s:
        got = await stats(s, world.org.district, start, end, NOW)
    assert got.as_of == NOW
    # received I, K; E's first answer; open now: D, G (reopened), I, K.
    assert got.total == Figures(received=2, answered=1, on_time=1, late=0, open=4, reopened=0)
    assert got.median_answer == local(2026, 10, 2, 9) - local(2026, 9, 29, 23)


async def test_a_month_and_a_year(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    async with world.w.factory() as s:
        july = await stats(s, world.org.district, *Period(2026, month=7).bounds(), NOW)
        year = await stats(s, world.org.district, *Period(2026).bounds(), NOW)
        empty = await stats(s, world.org.other_district, *Period(2025).bounds(), NOW)
    # July: received B, J; first answers A, B, J; reopened B, G; open at 01/08: G.
    assert july.total == Figures(received=2, answered=3, on_time=3, late=0, open=1, reopened=2)
    assert july.median_answer == timedelta(days=5)
    # The year: everything of T01 but nothing of T02.
    assert year.total.received == 10
    assert year.total.answered == 6  # A B C E G J
    assert empty.total == Figures() and empty.median_answer is None
    assert empty.by_category == () and empty.by_unit == ()


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("", Period(2026, 4)),
        ("2026-Q3", Period(2026, 3)),
        ("2026q1", Period(2026, 1)),
        ("2025", Period(2025)),
        ("năm", Period(2026)),
        ("2026-11", Period(2026, month=11)),
        ("3/2027", Period(2027, month=3)),
    ],
)
def test_periods_are_read(text: str, period: Period) -> None:
    assert parse_period(text, NOW.date()) == period


@pytest.mark.parametrize(
    "text", ["1999", "2101", "2026-Q5", "2026-13", "2026-00", "13/2026", "quý 3", "²⁰²⁶", "-1"]
)
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(FeedbackError) as err:
        parse_period(text, NOW.date())
    assert err.value.key == "fbr.bad_period"


def test_a_forged_period_is_refused() -> None:
    for args in ((1999, None, None), (2026, 5, None), (2026, None, 13), (2026, 1, 2)):
        with pytest.raises(FeedbackError) as err:
            Period(*args)
        assert err.value.key == "fbr.bad_period"


@pytest.mark.parametrize("who", [o.MEM1, o.SEC1, o.WG_LEADER, o.STRANGER])
async def test_figures_only_for_committee_admins(engine: AsyncEngine, who: int) -> None:
    world = await scripted(engine)
    async with world.w.factory() as s:
        actor = await world.w.actor(s, who)
        with pytest.raises(FeedbackError) as err:
            await stats_for(s, world.w.ctx, actor, "bad period")
    assert err.value.key == "fbr.not_allowed"  # who asks is checked first


async def test_an_admin_gets_their_own_district_only(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    async with world.w.factory() as s:
        mine = await stats_for(s, world.w.ctx, await world.w.actor(s, o.ADMIN), "2026-Q3")
        other = await stats_for(s, world.w.ctx, await world.w.actor(s, o.ADMIN_OTHER), "2026-Q3")
    assert mine[0] == Q3
    assert [(d.district_id, d.stats.total.received) for d in mine[1]] == [(world.org.district, 6)]
    assert [(d.district_id, d.stats.total.received) for d in other[1]] == [
        (world.org.other_district, 1)
    ]


# Inbox ------------------------------------------------------------------------------------


async def inbox_world(engine: AsyncEngine) -> World:
    """Items waiting at each kind of level, created an hour apart from 01/11 (oldest first)."""
    world = await make_world(engine)
    org = world.org
    t0 = local(2026, 11, 1, 8)

    def at(n: int) -> datetime:
        return t0 + timedelta(hours=n)

    async with world.w.factory() as s, s.begin():
        S, L = FeedbackStatus, LevelType
        world.items = {
            # B01's own level: its secretary and deputy.
            "b1_open": await add_item(s, world, org.b1, "land", at(0)),
            "b1_asked": await add_item(s, world, org.b1, "infra", at(1), status=S.ASKED),
            # B02's own level: its secretary only.
            "b2_open": await add_item(s, world, org.b2, "land", at(2)),
            # Up the ladder: committee admins.
            "u1_overdue": await add_item(
                s, world, org.b1, "infra", at(3), level=(L.UNIT, org.u1), status=S.TAKEN,
                deadline=NOW - timedelta(hours=1),
            ),
            "u2_near": await add_item(
                s, world, org.b3, "land", at(4), level=(L.UNIT, org.u2),
                deadline=NOW + timedelta(days=1),
            ),
            "district": await add_item(
                s, world, org.b3, "social", at(5), level=(L.DISTRICT, org.district),
                deadline=NOW + timedelta(days=10),
            ),
            "dept": await add_item(
                s, world, org.b2, "land", at(6), level=(L.DEPARTMENT, world.dept),
                deadline=NOW - timedelta(days=3),
            ),
            # Answered at the unit: raised for B01 by its deputy, the secretaries accept it.
            "b1_answered": await add_item(
                s, world, org.b1, "infra", at(7), level=(L.UNIT, org.u1), status=S.ANSWERED,
                deadline=NOW - timedelta(days=5), raised_as="branch", raised_by=o.DEP1,
            ),
            # A member's own, answered at the unit: the member accepts it, not the secretary.
            "b1_member_answered": await add_item(
                s, world, org.b1, "land", at(11), level=(L.UNIT, org.u1), status=S.ANSWERED,
            ),
            # Done: in nobody's inbox.
            "closed": await add_item(
                s, world, org.b1, "land", at(8), level=(L.UNIT, org.u1), status=S.CLOSED
            ),
            "rejected": await add_item(s, world, org.b1, "land", at(9), status=S.REJECTED),
            # Another district.
            "other": await add_item(
                s, world, org.other_branch, "land", at(10),
                level=(L.UNIT, world.units[org.other_branch]), district=org.other_district,
            ),
        }  # fmt: skip
    return world


async def page(
    world: World, who: int, filters: ib.InboxFilter | None = None, n: int = 0
) -> ib.InboxPage:
    async with world.w.factory() as s:
        actor = await world.w.actor(s, who)
        return await ib.inbox(s, world.w.ctx, actor, filters or ib.InboxFilter(), n)


def names(world: World, view: ib.InboxPage) -> list[str]:
    by_id = {v: k for k, v in world.items.items()}
    return [by_id[line.item_id] for line in view.lines]


async def test_each_person_sees_the_levels_they_answer_for(engine: AsyncEngine) -> None:
    world = await inbox_world(engine)
    for who in (o.SEC1, o.DEP1):
        assert names(world, await page(world, who)) == ["b1_asked", "b1_open"]
    assert names(world, await page(world, o.SEC2)) == ["b2_open"]
    # Newest first; B01's and B02's own levels are their secretaries', not the admin's.
    assert names(world, await page(world, o.ADMIN)) == ["dept", "district", "u2_near", "u1_overdue"]
    assert names(world, await page(world, o.ADMIN_OTHER)) == ["other"]
    assert names(world, await page(world, o.SEC_OTHER)) == []


COMMUNE_ADMIN = 7_700_001  # the admin of U01's own committee (`/admins add ID U01`)


async def test_a_commune_admin_sees_their_communes_level(engine: AsyncEngine) -> None:
    """Issue 21's commune-admin story: /inbox is in their menu and they act on their commune's
    items (`levels.acts_at`), so those items are in their inbox, and no other level's."""
    world = await inbox_world(engine)
    async with world.w.factory() as s, s.begin():
        s.add(
            CommitteeAdmin(
                district_id=world.org.district, unit_id=world.org.u1, telegram_id=COMMUNE_ADMIN
            )
        )
    view = await page(world, COMMUNE_ADMIN)
    assert view.has_levels and names(world, view) == ["u1_overdue"]
    # Their district's categories are theirs to filter by.
    infra = await page(world, COMMUNE_ADMIN, ib.InboxFilter(category_id=world.cats["infra"]))
    assert names(world, infra) == ["u1_overdue"]


@pytest.mark.parametrize("who", [o.MEM1, o.WG_LEADER, o.STRANGER])
async def test_people_who_lead_nothing_get_the_empty_inbox(engine: AsyncEngine, who: int) -> None:
    world = await inbox_world(engine)
    view = await page(world, who)
    assert not view.has_levels and view.lines == () and view.total == 0


async def test_answered_items_wait_for_who_accepts_them_and_the_answering_level(
    engine: AsyncEngine,
) -> None:
    world = await inbox_world(engine)
    answered = ib.InboxFilter(status=ib.InboxStatus.ANSWERED)
    for who in (o.SEC1, o.DEP1):
        assert names(world, await page(world, who, answered)) == ["b1_answered"]
    assert names(world, await page(world, o.ADMIN, answered)) == [
        "b1_member_answered",
        "b1_answered",
    ]
    assert names(world, await page(world, o.SEC2, answered)) == []
    assert not (await page(world, o.MEM1, answered)).has_levels  # they answer from the notice
    line = (await page(world, o.SEC1, answered)).lines[0]
    assert line.marker is ib.Marker.NONE  # past its deadline, but answered: not overdue


async def test_filters_narrow_the_inbox(engine: AsyncEngine) -> None:
    world = await inbox_world(engine)
    org = world.org

    async def admin(**kw: Any) -> list[str]:
        return names(world, await page(world, o.ADMIN, ib.InboxFilter(**kw)))

    assert await admin(category_id=world.cats["land"]) == ["dept", "u2_near"]
    assert await admin(unit_id=org.u2) == ["district", "u2_near"]
    assert await admin(due=ib.Due.OVERDUE) == ["dept", "u1_overdue"]
    assert await admin(due=ib.Due.NEAR) == ["dept", "u2_near", "u1_overdue"]
    assert await admin(status=ib.InboxStatus.TAKEN) == ["u1_overdue"]
    assert await admin(status=ib.InboxStatus.OPEN, due=ib.Due.OVERDUE) == ["dept"]
    assert await admin(status=ib.InboxStatus.ASKED) == []
    assert names(world, await page(world, o.SEC1, ib.InboxFilter(status=ib.InboxStatus.ASKED))) == [
        "b1_asked"
    ]
    view = await page(world, o.ADMIN)
    markers = {n: line.marker for n, line in zip(names(world, view), view.lines, strict=True)}
    assert markers == {
        "dept": ib.Marker.OVERDUE,
        "district": ib.Marker.NONE,
        "u2_near": ib.Marker.NEAR,
        "u1_overdue": ib.Marker.OVERDUE,
    }
    assert [c.code for c in view.categories] == ["land", "infra", "social"]
    assert [u.id for u in view.units] == [org.u1, org.u2]
    assert (await page(world, o.SEC1)).units == ()  # only admins filter by unit


@pytest.mark.parametrize("field", ["category", "unit", "department"])
async def test_a_filter_outside_ones_districts_is_refused(engine: AsyncEngine, field: str) -> None:
    world = await inbox_world(engine)
    filters = {
        "category": ib.InboxFilter(category_id=world.cats["land"]),
        "unit": ib.InboxFilter(unit_id=world.org.u1),
        "department": ib.InboxFilter(category_id=world.dept),  # not a category
    }[field]
    who = o.ADMIN if field == "department" else o.ADMIN_OTHER
    with pytest.raises(FeedbackError) as err:
        await page(world, who, filters)
    assert err.value.key == "fbr.bad_filter"


def test_filters_are_bounded() -> None:
    for bad in ({"category_id": 0}, {"unit_id": "99999999999999999999"}, {"status": "zz"}):
        with pytest.raises(ValueError):
            ib.InboxFilter.model_validate(bad)


async def test_pages_of_the_inbox_newest_first(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    org = world.org
    async with world.w.factory() as s, s.begin():
        ids = [
            await add_item(
                s, world, org.b3, "land", local(2026, 11, 2, 8) + timedelta(minutes=n),
                level=(LevelType.UNIT, org.u2),
            )
            for n in range(PAGE_SIZE + 3)
        ]  # fmt: skip
    first, second = await page(world, o.ADMIN), await page(world, o.ADMIN, n=1)
    assert (first.total, first.pages, second.page) == (PAGE_SIZE + 3, 2, 1)
    assert [line.item_id for line in first.lines + second.lines] == ids[::-1]
    assert len(first.lines) == PAGE_SIZE
    beyond = await page(world, o.ADMIN, n=50)  # a forged page: the last one
    assert beyond.page == 1 and beyond.lines == second.lines
    assert first.lines[0].number == f"KN-2026-{first.lines[0].number[-4:]}"


def test_every_word_of_the_sheet_is_in_the_catalogs() -> None:
    from bot.i18n import LOCALES_DIR, load_catalog

    for lang in ("vi", "en"):
        catalog = load_catalog(LOCALES_DIR / lang)
        assert catalog is not None
        known = {str(m.id) for m in catalog if m.id}
        keys = [f"fbr.{w}" if w.startswith("status.") else f"fbr.x.{w}" for w in xlsx.WORDS]
        keys += [f"fbr.x.col.{c}" for c in xlsx.COLUMNS]
        assert set(keys) <= known, set(keys) - known


def test_category_labels_follow_the_reader() -> None:
    names_ = {"infra": "Hạ tầng", "land": "Đất đai (riêng)"}
    assert ib.category_label("infra", names_, "en") == "Infrastructure"
    assert ib.category_label("infra", names_, "vi") == "Hạ tầng"
    assert ib.category_label("land", names_, "en") == "Đất đai (riêng)"  # renamed: as stored
    assert ib.category_label("zzz", names_, "en") == "zzz"


# Export -----------------------------------------------------------------------------------


def labels() -> xlsx.ExportLabels:
    return xlsx.ExportLabels(
        title="Danh sách kiến nghị",
        headers={c: c.upper() for c in xlsx.COLUMNS},
        words={"status.answered": "Đã trả lời", "yes": "Có", "no": "Không"},
        sheet="Kiến nghị: quý 3/2026",  # characters Excel refuses in a sheet name
    )


async def test_the_export_reopens_with_the_periods_items(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    async with world.w.factory() as s, s.begin():
        item = await s.get(FeedbackItem, world.items["C"])
        assert item is not None
        item.text = '=HYPERLINK("http://x","bấm")'
        item.answer = "Đã sửa\x07 xong"
        count = await s.scalar(select(func.count()).select_from(FeedbackItem))
    start, end = Q3.bounds()
    async with world.w.factory() as s:
        rows = await xlsx.export_rows(s, world.org.district, start, end, "en")
    assert [r.item_id for r in rows] == [world.items[k] for k in "JBCDFE"]
    data = xlsx.items_workbook(labels(), rows)
    ws = load_workbook(BytesIO(data)).active
    assert ws is not None and ws.title == "Kiến nghị- quý 3-2026"
    header = [c.value for c in ws[2]]
    assert header == [c.upper() for c in xlsx.COLUMNS]
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert len(body) == 6 and ws.freeze_panes == "B3"
    col = {c: i for i, c in enumerate(xlsx.COLUMNS)}
    assert [r[col["number"]] for r in body] == [r.number for r in rows]
    c_row = body[2]
    assert c_row[col["text"]] == '=HYPERLINK("http://x","bấm")'  # text, not a formula
    assert ws.cell(row=5, column=col["text"] + 1).data_type == "s"
    assert c_row[col["answer"]] == "Đã sửa xong"  # the control character dropped
    assert c_row[col["created"]] == datetime(2026, 8, 1, 10, 0)  # a local date cell
    assert c_row[col["answered"]] == datetime(2026, 8, 25, 10, 0)
    assert c_row[col["on_time"]] == "Không" and c_row[col["status"]] == "Đã trả lời"
    assert c_row[col["category"]] == "Land and construction"  # the English default's name
    assert c_row[col["level"]] == "branch: Chi bộ Trường Tiểu học An"
    assert body[3][col["answered"]] is None and body[3][col["on_time"]] is None  # D
    async with world.w.factory() as s:  # reading changed nothing
        assert await s.scalar(select(func.count()).select_from(FeedbackItem)) == count


async def test_the_export_is_for_the_districts_admins(engine: AsyncEngine) -> None:
    world = await scripted(engine)
    async with world.w.factory() as s:
        for who in (o.SEC1, o.ADMIN_OTHER):
            with pytest.raises(FeedbackError) as err:
                await xlsx.export_for(
                    s, world.w.ctx, await world.w.actor(s, who), world.org.district, Q3
                )
            assert err.value.key == "fbr.not_allowed"
        district, rows = await xlsx.export_for(
            s, world.w.ctx, await world.w.actor(s, o.ADMIN), world.org.district, Q3
        )
    assert district.code == "T01" and len(rows) == 6


# The commands, through the production dispatcher -----------------------------------------


@dataclass
class Env:
    app: App
    world: Any
    data: World


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    from handlers import get_routers

    wired = {id(r) for r in get_routers()}
    extra = [r for r in (inbox_router, stats_router) if id(r) not in wired]
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        app = create_app(
            make_settings(database_url, sb.base_url), clock=FakeClock(NOW), extra_routers=extra
        )
        data = await scripted(app.engine)
        for uid in (o.MEM1, o.SEC1, o.ADMIN, o.STRANGER):
            world.add_user(uid, f"U{uid}", "vi", started=True)
        yield Env(app, world, data)
        await app.close()


async def feed(env: Env, update: dict[str, Any]) -> None:
    env.world.pending.clear()  # nobody polls: the test feeds the update itself
    await env.app.dp.feed_update(env.app.bot, Update.model_validate(update))


async def say(env: Env, who: int, text: str) -> list[dict[str, Any]]:
    before = len(env.world.bot_messages(who))
    await feed(env, env.world.send_text(who, text))
    return list(env.world.bot_messages(who)[before:])


def refusal(env: Env, key: str, **params: Any) -> str:
    i18n = env.app.i18n
    return i18n.t("people.refused", "vi", reason=i18n.t(key, "vi", **params))


async def test_feedback_stats_is_refused_to_everyone_but_admins(env: Env) -> None:
    for who in (o.MEM1, o.SEC1, o.STRANGER):
        sent = await say(env, who, "/feedback_stats 2026-Q3")
        assert [m["text"] for m in sent] == [_plain(refusal(env, "fbr.not_allowed"))]
    sent = await say(env, o.ADMIN, "/feedback_stats quý 3")
    assert [m["text"] for m in sent] == [_plain(refusal(env, "fbr.bad_period", text="quý 3"))]


async def test_an_admin_gets_the_figures_and_the_file(env: Env) -> None:
    (shown,) = await say(env, o.ADMIN, "/feedback_stats 2026-Q3")
    i18n = env.app.i18n
    assert _plain(i18n.t("fbr.stats.received", "vi", n=6)) in shown["text"]
    assert _plain(i18n.t("fbr.stats.answered", "vi", n=4, on_time=3, late=1)) in shown["text"]
    assert _plain(i18n.t("fbr.stats.duration", "vi", days=9, hours=0)) in shown["text"]
    (button,) = [b for row in shown["reply_markup"]["inline_keyboard"] for b in row]
    district = env.data.org.district
    assert button["callback_data"] == StatsFileCb(d=district, y=2026, q=3).pack()
    env.world.press_button(o.ADMIN, shown["message_id"], o.ADMIN, button["callback_data"])
    await feed(env, env.world.pending[-1])
    document = env.world.bot_messages(o.ADMIN)[-1]["document"]
    assert document["file_name"] == "kien-nghi-T01-2026-Q3.xlsx"
    ws = load_workbook(BytesIO(env.world.file_content(document["file_id"]))).active
    assert ws is not None and ws.max_row == 2 + 6
    assert [c.value for c in ws[2]] == [i18n.t(f"fbr.x.col.{c}", "vi") for c in xlsx.COLUMNS]
    statuses = [row[xlsx.COLUMNS.index("status")].value for row in ws.iter_rows(min_row=3)]
    assert statuses[0] == i18n.t("fbr.status.answered", "vi")  # J
    # A forged press for another district or period is refused, and sends no file.
    sent = len(env.world.bot_messages(o.ADMIN))
    for forged, key in (
        (StatsFileCb(d=env.data.org.other_district, y=2026, q=3).pack(), "fbr.not_allowed"),
        (f"fbrs:{district}:2026:3:11", "fbr.bad_period"),
    ):
        qid = env.world.press_button(o.ADMIN, shown["message_id"], o.ADMIN, forged, strict=False)
        await feed(env, env.world.pending[-1])
        reason = i18n.t(key, "vi", text="2026")
        assert env.world.callback_answer(qid)["text"] == _plain(
            i18n.t("people.refused", "vi", reason=reason)
        )
    assert len(env.world.bot_messages(o.ADMIN)) == sent


async def test_the_inbox_command_lists_and_pages(env: Env) -> None:
    (shown,) = await say(env, o.MEM1, "/inbox")
    assert shown["text"] == _plain(env.app.i18n.t("fbr.inbox.no_levels", "vi"))
    (shown,) = await say(env, o.SEC1, "/inbox")
    # B01's items still at the branch in the scripted world: I (raised 05/10).
    texts = [b["text"] for row in shown["reply_markup"]["inline_keyboard"] for b in row]
    assert any(t.startswith("⛔ KN-2026-") for t in texts), texts  # I is overdue by now
    filter_button = next(t for t in texts if t.startswith("🔎 Trạng thái"))
    data = next(
        b["callback_data"]
        for row in shown["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == filter_button
    )
    qid = env.world.press_button(o.SEC1, shown["message_id"], o.SEC1, data)
    await feed(env, env.world.pending[-1])
    assert env.world.callback_answer(qid) is not None
    picked = env.world.bot_messages(o.SEC1)[-1]
    assert picked["text"] == env.app.i18n.t("fbr.filter.pick.status", "vi")


def _plain(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text))


async def press(env: Env, who: int, message: dict[str, Any], data: str) -> dict[str, Any]:
    qid = env.world.press_button(who, message["message_id"], who, data, strict=False)
    await feed(env, env.world.pending[-1])
    answer = env.world.callback_answer(qid)
    assert answer is not None
    return dict(answer)


async def test_an_inbox_line_opens_the_items_card(env: Env) -> None:
    data = env.data
    (shown,) = await say(env, o.SEC1, "/inbox")
    before = len(env.world.bot_messages(o.SEC1))
    await press(env, o.SEC1, shown, InboxOpenCb(item_id=data.items["I"]).pack())
    card = env.world.bot_messages(o.SEC1)[-1]
    assert len(env.world.bot_messages(o.SEC1)) == before + 1  # the list stays as it was
    datas = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert datas and all(d.startswith("fbc:") for d in datas)  # the level's buttons
    # Answered at the unit, raised for the branch: the secretary accepts or reopens it.
    async with data.w.factory() as s, s.begin():
        answered = await add_item(
            s, data, data.org.b1, "infra", local(2026, 11, 20, 9),
            level=(LevelType.UNIT, data.org.u1), status=FeedbackStatus.ANSWERED,
            raised_as="branch", raised_by=o.DEP1, answer="Đã sửa",
        )  # fmt: skip
    await press(env, o.SEC1, shown, InboxOpenCb(item_id=answered).pack())
    card = env.world.bot_messages(o.SEC1)[-1]
    datas = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert [d.split(":")[0] for d in datas] == ["fbr", "fbr"]  # accept, reopen
    # Another district's item, by a forged press: refused, nothing sent.
    sent = len(env.world.bot_messages(o.SEC1))
    answer = await press(env, o.SEC1, shown, InboxOpenCb(item_id=data.items["H"]).pack())
    assert answer["text"] == _plain(refusal(env, "fb.not_your_level"))
    assert len(env.world.bot_messages(o.SEC1)) == sent
