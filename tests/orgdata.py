"""A small two-district organisation built straight from the models, for fast access tests.

District T01: commune T01U01 (branches B01 village, B02 school), commune T01U02 (B03
residential); working group T01WG1 covers T01U01, led by a member of B03. District T02 has one
branch and its own admin. Telegram ids are fixed so tests read like the story they tell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.i18n import create_i18n
from bot.services.access.policy import Actor, load_actor
from bot.services.context import ServiceContext
from bot.services.meetings import Notices
from storage.db import create_session_factory
from storage.models import (
    Branch,
    ChatBinding,
    CommitteeAdmin,
    Member,
    TelegramUser,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from tests.helpers import FakeClock, local

# Telegram ids
SEC1, DEP1, MEM1 = 101, 102, 103
SEC2 = 201
SEC3 = 301
WG_LEADER, WG_MEMBER = 401, 402
ADMIN = 900
SEC_OTHER, ADMIN_OTHER = 501, 950
STRANGER = 777
# A member without an account, matched by this phone in contact tests.
NEW_PHONE = "+84912345678"


@dataclass
class Org:
    district: int
    u1: int
    u2: int
    b1: int
    b2: int
    b3: int
    wg: int
    other_district: int
    other_branch: int
    members: dict[str, int]  # member code -> id


async def build_org(engine: AsyncEngine) -> Org:
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        d = Unit(code="T01", name="Huyện ủy Thử Nghiệm", kind="district_committee")
        s.add(d)
        await s.flush()
        d.district_id = d.id
        u1 = Unit(code="T01U01", name="Đảng ủy xã An", kind="commune", parent_id=d.id)
        u2 = Unit(code="T01U02", name="Đảng ủy xã Bình", kind="commune", parent_id=d.id)
        u1.district_id = u2.district_id = d.id
        e = Unit(code="T02", name="Huyện ủy Khác", kind="district_committee")
        s.add_all([u1, u2, e])
        await s.flush()
        e.district_id = e.id
        eu = Unit(code="T02U01", name="Đảng ủy xã Khác", kind="commune", parent_id=e.id)
        eu.district_id = e.id
        s.add(eu)
        await s.flush()

        def branch(code: str, name: str, unit: Unit, kind: str, district: Unit) -> Branch:
            return Branch(
                code=code,
                name=name,
                unit_id=unit.id,
                district_id=district.id,
                kind=kind,
                meeting_day=5,
                meeting_time=time(19, 30),
                location="Nhà văn hóa",
            )

        b1 = branch("T01U01B01", "Chi bộ thôn Một", u1, "village", d)
        b2 = branch("T01U01B02", "Chi bộ Trường Tiểu học An", u1, "school", d)
        b3 = branch("T01U02B01", "Chi bộ tổ dân phố Ba", u2, "residential", d)
        eb = branch("T02U01B01", "Chi bộ thôn Khác", eu, "village", e)
        s.add_all([b1, b2, b3, eb])
        await s.flush()

        rows = [
            ("M1", "Nguyễn Văn Bí", b1, "secretary", SEC1, "+84900000101"),
            ("M2", "Trần Thị Phó", b1, "deputy_secretary", DEP1, "+84900000102"),
            ("M3", "Lê Văn Viên", b1, "member", MEM1, "+84900000103"),
            ("M4", "Phạm Thị Mới", b1, "member", None, NEW_PHONE),
            ("M5", "Hoàng Văn Năm", b1, "member", None, None),
            ("M6", "Đỗ Thị Giáo", b2, "secretary", SEC2, None),
            ("M7", "Vũ Văn Ba", b3, "secretary", SEC3, None),
            ("M8", "Bùi Văn Tổ", b3, "member", WG_LEADER, None),
            ("M9", "Đặng Thị Tổ", b3, "member", WG_MEMBER, None),
            ("M10", "Ngô Văn Chưa", b3, "member", None, "+84987654321"),
            ("X1", "Lý Văn Ngoài", eb, "secretary", SEC_OTHER, None),
        ]
        members: dict[str, Member] = {}
        for code, name, br, role, tg, phone in rows:
            members[code] = Member(
                code=code,
                full_name=name,
                branch_id=br.id,
                district_id=br.district_id,
                role=role,
                status="official",
                telegram_id=tg,
                phone=phone,
            )
        s.add_all(members.values())
        await s.flush()
        wg = WorkingGroup(
            code="T01WG1",
            name="Tổ công tác số 1",
            district_id=d.id,
            leader_member_id=members["M8"].id,
        )
        s.add(wg)
        await s.flush()
        s.add_all(
            [
                WorkingGroupMember(working_group_id=wg.id, member_id=members["M9"].id),
                WorkingGroupUnit(working_group_id=wg.id, unit_id=u1.id),
                CommitteeAdmin(district_id=d.id, telegram_id=ADMIN),
                CommitteeAdmin(district_id=e.id, telegram_id=ADMIN_OTHER),
            ]
        )
        await s.flush()
        return Org(
            district=d.id,
            u1=u1.id,
            u2=u2.id,
            b1=b1.id,
            b2=b2.id,
            b3=b3.id,
            wg=wg.id,
            other_district=e.id,
            other_branch=eb.id,
            members={code: m.id for code, m in members.items()},
        )


@dataclass
class MeetingWorld:
    """The org with branch B01's group linked, a fake clock, and what meeting services take."""

    org: Org
    factory: async_sessionmaker[AsyncSession]
    clock: FakeClock
    ctx: ServiceContext

    async def actor(self, s: AsyncSession, telegram_id: int) -> Actor:
        return await load_actor(s, telegram_id)

    def notices(self, s: AsyncSession) -> Notices:
        return Notices(s, self.ctx)


async def meeting_world(
    engine: AsyncEngine, group: int, users: Iterable[TelegramUser] = ()
) -> MeetingWorld:
    """Monday 23/11/2026 11:00 in Hà Nội; B01 linked to `group`; `users` have accounts."""
    org = await build_org(engine)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        s.add(
            ChatBinding(
                chat_id=group, target_type="branch", target_id=org.b1, district_id=org.district
            )
        )
        s.add_all(users)
    clock = FakeClock(local(2026, 11, 23, 11))
    return MeetingWorld(org, factory, clock, ServiceContext(clock, create_i18n("vi"), "vi"))
