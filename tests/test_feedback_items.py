"""Raising items: who raises what where, the lists, the readable numbers (also under concurrent
raises), meeting- and visit-report proposals turned into items, and every bad input refused
with nothing changed.
"""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.feedback.common import (
    DEFAULT_CATEGORIES,
    DEFAULT_DEPARTMENTS,
    FILE_NAME_MAX,
    FILES_MAX,
    TEXT_MAX,
    item_number,
)
from bot.services.feedback.items import (
    FileRef,
    NewItem,
    categories,
    departments,
    from_proposal,
    proposals_of,
    raisable_branches,
    raise_item,
)
from storage.models import (
    Branch,
    FeedbackFile,
    FeedbackItem,
    FeedbackOption,
    HeardProposal,
    Meeting,
    MeetingReport,
    Member,
    Roster,
    RosterVisit,
    TelegramUser,
    VisitProgram,
)
from storage.models.feedback import FeedbackSource
from storage.models.rosters import RosterStatus
from tests.feedback_world import COMMITTEE_CHAT, UNIT_CHAT, FeedbackWorld, feedback_world
from tests.helpers import local
from tests.orgdata import (
    ADMIN,
    ADMIN_OTHER,
    DEP1,
    MEM1,
    SEC1,
    SEC2,
    SEC3,
    SEC_OTHER,
    STRANGER,
    WG_LEADER,
    WG_MEMBER,
)

MEETING = FeedbackSource.MEETING_REPORT
VISIT = FeedbackSource.VISIT_REPORT
PHOTO = FileRef("photo", "AgACAgIAAxkBAAIBZ2d-photo_1")
DOC = FileRef("document", "BQACAgIAAxkBAAIBaGd-doc_1", "Biên bản.pdf")


async def test_where_each_persons_item_starts(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    mine = await fw.raise_(MEM1, files=(PHOTO, DOC))
    assert (mine.level_type, mine.level_id, mine.raised_as) == ("branch", org.b1, "member")
    assert (mine.raised_by_member_id, mine.raised_by_tg) == (org.members["M3"], MEM1)
    assert (mine.year, mine.number, mine.status, mine.version) == (2026, 1, "open", 1)
    async with fw.w.factory() as s:
        files = (await s.scalars(select(FeedbackFile).order_by(FeedbackFile.id))).all()
        assert [(f.kind, f.file_name, f.item_id) for f in files] == [
            ("photo", "", mine.id),
            ("document", "Biên bản.pdf", mine.id),
        ]
    assert len(await fw.outbox(SEC1, ":file")) == 2  # the files follow the card

    branch = await fw.raise_(SEC1, on_behalf=True)
    assert (branch.level_type, branch.level_id, branch.raised_as) == ("unit", org.u1, "branch")
    assert len(await fw.outbox(UNIT_CHAT, ":card:")) == 1
    deputy = await fw.raise_(DEP1, on_behalf=True)
    assert deputy.raised_as == "branch"

    # A visitor on the branch's behalf, whatever they ticked; in their own branch, a member.
    visitor = await fw.raise_(WG_MEMBER, org.b1)
    assert (visitor.level_type, visitor.raised_as) == ("unit", "visitor")
    assert visitor.raised_by_member_id == org.members["M9"]
    own = await fw.raise_(WG_MEMBER, org.b3)
    assert (own.level_type, own.level_id, own.raised_as) == ("branch", org.b3, "member")

    # A branch directly under the district committee goes straight to the district.
    async with fw.w.factory() as s, s.begin():
        agency = Branch(
            code="T01B99",
            name="Chi bộ Văn phòng",
            unit_id=org.district,
            district_id=org.district,
            kind="agency",
            meeting_day=5,
            meeting_time=time(8, 0),
        )
        s.add(agency)
        await s.flush()
        s.add(
            Member(
                code="A1",
                full_name="Bí thư Văn phòng",
                branch_id=agency.id,
                district_id=org.district,
                role="secretary",
                telegram_id=650,
            )
        )
        s.add(TelegramUser(id=650))
    top = await fw.raise_(650, agency.id, on_behalf=True)
    assert (top.level_type, top.level_id) == ("district", org.district)
    assert len(await fw.outbox(COMMITTEE_CHAT, ":card:")) == 1
    assert [i.number for i in (mine, branch, deputy, visitor, own, top)] == [1, 2, 3, 4, 5, 6]


async def test_raisable_branches(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org

    async def ids(who: int) -> list[int]:
        async with fw.w.factory() as s:
            return [b.id for b in await raisable_branches(s, await fw.actor(s, who))]

    assert await ids(MEM1) == [org.b1]
    assert await ids(WG_MEMBER) == [org.b3, org.b1]  # own, then the visited village (no school)
    assert await ids(STRANGER) == []
    assert await ids(ADMIN) == []


async def test_numbers_per_district_and_year(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    a = await fw.raise_(MEM1)
    b = await fw.raise_(MEM1)
    other = await fw.raise_(SEC_OTHER, org.other_branch, on_behalf=True)
    fw.w.clock.t = local(2027, 1, 1, 0, 30)  # still 2026 in UTC: the local year counts
    c = await fw.raise_(MEM1)
    assert [item_number(i.year, i.number) for i in (a, b, other, c)] == [
        "KN-2026-0001",
        "KN-2026-0002",
        "KN-2026-0001",
        "KN-2027-0001",
    ]
    assert other.level_type == "unit" and other.district_id == org.other_district


async def test_concurrent_raises_never_share_a_number(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    items = await asyncio.gather(
        *(fw.raise_(who, on_behalf=True, text=f"Số {i}") for i, who in enumerate([SEC1, DEP1] * 4))
    )
    assert sorted(i.number for i in items) == list(range(1, 9))


async def test_lists_are_seeded_once(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    district = fw.org.other_district
    async with fw.w.factory() as s, s.begin():
        cats = await categories(s, district)
        assert [c.code for c in cats] == [c for c, _vi, _en in DEFAULT_CATEGORIES]
        assert [c.name for c in cats] == [vi for _c, vi, _en in DEFAULT_CATEGORIES]
        deps = await departments(s, district)
        assert [d.code for d in deps] == [c for c, _vi, _en in DEFAULT_DEPARTMENTS]
        cats[0].active = False  # an admin switches "land" off
    async with fw.w.factory() as s, s.begin():
        again = await categories(s, district)
        assert [c.code for c in again] == [c for c, _vi, _en in DEFAULT_CATEGORIES][1:]
        rows = await s.scalars(select(FeedbackOption).where(FeedbackOption.district_id == district))
        assert len(rows.all()) == len(DEFAULT_CATEGORIES) + len(DEFAULT_DEPARTMENTS)
    before = await fw.state()
    err = await fw.refused(
        SEC_OTHER,
        raise_item,
        NewItem(fw.org.other_branch, "land", "Đất", on_behalf=True),
    )
    assert err.key == "fb.bad_category" and await fw.state() == before


async def test_text_and_file_names_are_cleaned(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    raw = "  Cu\u0309a\x00 tho\u0302n\r\nhai\u200b\x1b  "
    item = await fw.raise_(MEM1, text=raw, files=(FileRef("document", "BQAC_x", "a\x00" * 300),))
    assert item.text == unicodedata.normalize("NFC", "Của thôn\nhai\u200b")
    async with fw.w.factory() as s:
        f = (await s.scalars(select(FeedbackFile))).one()
        assert f.file_name == "a" * FILE_NAME_MAX


async def test_bad_raises_are_refused_and_change_nothing(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    await fw.raise_(MEM1)  # the counter exists: a refusal must not move it
    before = await fw.state()
    b1 = org.b1
    cases = [
        (MEM1, NewItem(b1, "infra", ""), "fb.text_empty"),
        (MEM1, NewItem(b1, "infra", " \x00\r\n\t "), "fb.text_empty"),
        (MEM1, NewItem(b1, "infra", "x" * (TEXT_MAX + 1)), "fb.text_too_long"),
        (MEM1, NewItem(b1, "infra", "x", (PHOTO,) * (FILES_MAX + 1)), "fb.too_many_files"),
        (MEM1, NewItem(b1, "infra", "x", (FileRef("video", "BAAC"),)), "fb.bad_file"),
        (MEM1, NewItem(b1, "infra", "x", (FileRef("sticker", "CAAC"),)), "fb.bad_file"),
        (MEM1, NewItem(b1, "infra", "x", (FileRef("photo", ""),)), "fb.bad_file"),
        (MEM1, NewItem(b1, "infra", "x", (FileRef("photo", "a" * 257),)), "fb.bad_file"),
        (MEM1, NewItem(b1, "infra", "x", (FileRef("photo", "../../etc/passwd"),)), "fb.bad_file"),
        (MEM1, NewItem(b1, "nope", "x"), "fb.bad_category"),
        (MEM1, NewItem(b1, "", "x"), "fb.bad_category"),
        (MEM1, NewItem(b1, "infra", "x", on_behalf=True), "fb.needs_secretary"),
        (MEM1, NewItem(org.b2, "infra", "x"), "fb.not_your_branch"),
        (SEC2, NewItem(b1, "infra", "x", on_behalf=True), "fb.not_your_branch"),
        (WG_MEMBER, NewItem(org.b2, "infra", "x"), "fb.not_your_branch"),  # a school
        (SEC_OTHER, NewItem(b1, "infra", "x"), "fb.not_your_branch"),
        (STRANGER, NewItem(b1, "infra", "x"), "fb.not_your_branch"),
        (ADMIN, NewItem(b1, "infra", "x"), "fb.not_your_branch"),
        (MEM1, NewItem(2_000_000, "infra", "x"), "fb.not_your_branch"),
    ]
    for who, new, key in cases:
        err = await fw.refused(who, raise_item, new)
        assert err.key == key, (new, err.key, key)
        assert await fw.state() == before


async def _meeting_with_report(fw: FeedbackWorld) -> int:
    org = fw.org
    async with fw.w.factory() as s, s.begin():
        meeting = Meeting(
            branch_id=org.b1,
            district_id=org.district,
            kind="regular",
            status="scheduled",
            origin="rule",
            period_year=2026,
            period_month=11,
            starts_at=local(2026, 11, 5, 19, 30),
        )
        s.add(meeting)
        await s.flush()
        s.add_all(
            [
                MeetingReport(meeting_id=meeting.id, version=1, proposals=["Sửa đường"]),
                MeetingReport(
                    meeting_id=meeting.id,
                    version=2,
                    proposals=["Sửa đường", "Lắp đèn", "Nạo vét mương"],
                ),
            ]
        )
        return meeting.id


async def test_meeting_report_proposals_become_items(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    meeting_id = await _meeting_with_report(fw)
    listed = await fw.read(proposals_of, MEETING, meeting_id)
    assert listed == [(0, "Sửa đường", None), (1, "Lắp đèn", None), (2, "Nạo vét mương", None)]

    item = await fw.run(SEC1, from_proposal, MEETING, meeting_id, 2)
    assert (item.level_type, item.level_id, item.raised_as) == ("unit", org.u1, "branch")
    assert (item.source_type, item.source_id, item.source_index) == (
        "meeting_report",
        meeting_id,
        2,
    )
    assert (item.text, item.category, item.raised_by_member_id) == (
        "Nạo vét mương",
        "other",
        org.members["M1"],
    )
    assert len(await fw.outbox(UNIT_CHAT, ":card:")) == 1
    by_admin = await fw.run(ADMIN, from_proposal, MEETING, meeting_id, 0)
    assert by_admin.raised_by_member_id is None and by_admin.raised_by_tg == ADMIN
    listed = await fw.read(proposals_of, MEETING, meeting_id)
    assert [x[2] for x in listed] == [by_admin.id, None, item.id]

    before = await fw.state()
    for who, args, key in [
        (SEC1, (MEETING, meeting_id, 2), "fb.already_converted"),
        (DEP1, (MEETING, meeting_id, 0), "fb.already_converted"),
        (SEC1, (MEETING, meeting_id, 3), "fb.no_proposal"),
        (SEC1, (MEETING, 2_000_000, 0), "fb.no_proposal"),
        (SEC1, (FeedbackSource.DIRECT, meeting_id, 1), "fb.no_proposal"),
        (MEM1, (MEETING, meeting_id, 1), "fb.not_your_branch"),
        (SEC2, (MEETING, meeting_id, 1), "fb.not_your_branch"),
        (ADMIN_OTHER, (MEETING, meeting_id, 1), "fb.not_your_branch"),
        (WG_MEMBER, (MEETING, meeting_id, 1), "fb.not_your_branch"),
    ]:
        err = await fw.refused(who, from_proposal, *args)
        assert err.key == key, (who, args, err.key)
        assert await fw.state() == before


async def test_visit_report_proposals_become_items(engine: AsyncEngine) -> None:
    fw = await feedback_world(engine)
    org = fw.org
    async with fw.w.factory() as s, s.begin():
        program = VisitProgram(district_id=org.district, working_group_id=org.wg)
        s.add(program)
        await s.flush()
        roster = Roster(
            program_id=program.id,
            district_id=org.district,
            year=2026,
            quarter=4,
            status=RosterStatus.PUBLISHED.value,
        )
        s.add(roster)
        await s.flush()
        visit = RosterVisit(
            roster_id=roster.id,
            district_id=org.district,
            branch_id=org.b1,
            period_year=2026,
            period_month=11,
            starts_at=local(2026, 11, 5, 19, 30),
            visitor_member_id=org.members["M9"],
        )
        s.add(visit)
        await s.flush()
        heard = [
            HeardProposal(visit_id=visit.id, branch_id=org.b1, district_id=org.district, text=t)
            for t in ("Hỗ trợ hộ nghèo", "Lắp camera an ninh")
        ]
        s.add_all(heard)
        await s.flush()
        visit_id, h1, h2 = visit.id, heard[0].id, heard[1].id

    item = await fw.run(WG_MEMBER, from_proposal, VISIT, h1, 0)
    assert (item.level_type, item.level_id, item.raised_as) == ("unit", org.u1, "visitor")
    assert (item.source_type, item.source_id, item.raised_by_member_id) == (
        "visit_report",
        h1,
        org.members["M9"],
    )
    by_leader = await fw.run(WG_LEADER, from_proposal, VISIT, h2, 0)
    assert await fw.read(proposals_of, VISIT, visit_id) == [
        (h1, "Hỗ trợ hộ nghèo", item.id),
        (h2, "Lắp camera an ninh", by_leader.id),
    ]
    before = await fw.state()
    for who, heard_id, key in [
        (WG_MEMBER, h1, "fb.already_converted"),
        (WG_LEADER, h2, "fb.already_converted"),
        (SEC1, h1, "fb.not_your_visit"),
        (MEM1, h2, "fb.not_your_visit"),
        (WG_MEMBER, 2_000_000, "fb.no_proposal"),
    ]:
        err = await fw.refused(who, from_proposal, VISIT, heard_id, 0)
        assert err.key == key, (who, heard_id, err.key)
        assert await fw.state() == before
    async with fw.w.factory() as s:
        items = (await s.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id))).all()
        assert list(items) == [item.id, by_leader.id]


async def test_other_refusals_of_raise(engine: AsyncEngine) -> None:
    """SEC3's branch is in a commune without a group: the card goes to the admin privately."""
    fw = await feedback_world(engine)
    item = await fw.raise_(SEC3, fw.org.b3, on_behalf=True)
    assert (item.level_type, item.level_id) == ("unit", fw.org.u2)
    assert len(await fw.outbox(ADMIN, ":card:")) == 1
