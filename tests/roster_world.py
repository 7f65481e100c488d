"""A published visiting roster to change: the roster-change tests share this world.

Working group T01WG1 (leader M8) has four visitors (M9 from orgdata, W1-W3; all of branch
T01U02B01) and visits five village branches V1-V5 of commune T01U01, whose January 2027
meetings are at 19:30 on the 5th, 6th, 7th, 8th and 11th: everyone is free at every other
meeting, so the roster covers all five and one visitor has two visits. A second group
(member Z1) exists to be refused. Every person here has written to the bot, so every notice
is queued.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.services.access.policy import Actor
from bot.services.meetings.plan import new_regular, rule_slot
from bot.services.rosters.common import DEFAULT_CONFIG, Quarter
from bot.services.rosters.planning import ensure_programs, make_draft
from bot.services.rosters.review import publish
from storage.models import (
    Branch,
    BusyDay,
    Member,
    MoveRequest,
    RosterVisit,
    TelegramUser,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.outbox import OutboxEntry
from storage.models.rosters import LIVE_VISIT_STATUSES
from storage.repositories.rosters import RosterRepository
from tests.orgdata import ADMIN, WG_LEADER, WG_MEMBER, MeetingWorld, meeting_world

Q1 = Quarter(2027, 1)
DAYS = {"V1": 5, "V2": 6, "V3": 7, "V4": 8, "V5": 11}
VISITORS = {"M9": WG_MEMBER, "W1": 611, "W2": 612, "W3": 613}
SECRETARIES = {f"S{i}": 620 + i for i in range(1, 6)}  # S1 is V1's secretary, ...
OUTSIDER = 631  # Z1, the other group's member
LIVE = [s.value for s in LIVE_VISIT_STATUSES]

# The suggested moves get time enough on a loaded machine: under a 1-second budget a busy test
# run sometimes cut the (millisecond) solve short, and the draft suggested no move at all.
UNHURRIED = dataclasses.replace(DEFAULT_CONFIG, moves_time_limit=30.0)


@dataclass
class RosterWorld:
    w: MeetingWorld
    program_id: int
    roster_id: int
    branches: dict[str, int]  # V1..V5 -> id
    members: dict[str, int]  # code -> member id
    tg: dict[str, int]  # code -> telegram id

    async def actor(self, s: AsyncSession, who: str | int) -> Actor:
        return await self.w.actor(s, self.tg[who] if isinstance(who, str) else who)

    def code_of(self, member_id: int) -> str:
        return next(c for c, i in self.members.items() if i == member_id)


async def roster_world(
    engine: AsyncEngine, *, busy: Mapping[str, Sequence[date]] = {}, published: bool = True
) -> RosterWorld:
    tg = {**VISITORS, **SECRETARIES, "M8": WG_LEADER, "Z1": OUTSIDER, "ADMIN": ADMIN}
    users = [TelegramUser(id=i, first_name="x") for i in tg.values()]
    w = await meeting_world(engine, -100900, users)
    org = w.org
    async with w.factory() as s, s.begin():
        branches = {
            code: Branch(
                code=f"T01U01{code}",
                name=f"Chi bộ thôn {code}",
                unit_id=org.u1,
                district_id=org.district,
                kind="village",
                meeting_day=day,
                meeting_time=time(19, 30),
                location=f"Nhà văn hóa {code}",
            )
            for code, day in DAYS.items()
        }
        s.add_all(branches.values())
        await s.flush()
        people = [(c, org.b3, "member") for c in ("W1", "W2", "W3", "Z1")]
        people += [(f"S{i}", branches[f"V{i}"].id, "secretary") for i in range(1, 6)]
        rows = {
            code: Member(
                code=code,
                full_name=f"Đồng chí {code}",
                branch_id=branch_id,
                district_id=org.district,
                role=role,
                status="official",
                telegram_id=tg[code],
            )
            for code, branch_id, role in people
        }
        s.add_all(rows.values())
        wg2 = WorkingGroup(code="T01WG2", name="Tổ công tác số 2", district_id=org.district)
        s.add(wg2)
        await s.flush()
        members = {**{c: m.id for c, m in rows.items()}, **org.members}
        s.add_all(
            [
                WorkingGroupMember(working_group_id=org.wg, member_id=members[c])
                for c in VISITORS
                if c != "M9"
            ]
            + [WorkingGroupMember(working_group_id=wg2.id, member_id=members["Z1"])]
            + [WorkingGroupUnit(working_group_id=wg2.id, unit_id=org.u2)]
        )
        for branch in branches.values():
            s.add(new_regular(branch, rule_slot(branch.meeting_day, 2027, 1), w.ctx.tz))
        for code, days in busy.items():
            s.add_all(BusyDay(member_id=members[code], day=d) for d in days)
        await ensure_programs(s, org.district)
        program = await RosterRepository(s).program_of_group(org.wg)
        assert program is not None
        program.branch_ids = [b.id for b in branches.values()]
        draft = await make_draft(s, w.ctx, program, Q1, config=UNHURRIED)
        roster_id, version = draft.roster.id, draft.roster.version
        if published:
            await publish(s, w.ctx, None, roster_id, version)
    return RosterWorld(
        w, program.id, roster_id, {c: b.id for c, b in branches.items()}, members, tg
    )


async def live_visits(s: AsyncSession, roster_id: int) -> list[RosterVisit]:
    stmt = select(RosterVisit).where(
        RosterVisit.roster_id == roster_id, RosterVisit.status.in_(LIVE)
    )
    return list((await s.scalars(stmt.order_by(RosterVisit.starts_at))).all())


async def state(rw: RosterWorld) -> tuple[Any, ...]:
    """Everything a refused request must leave alone: visits, move requests, the outbox."""
    async with rw.w.factory() as s:
        visits = (await s.scalars(select(RosterVisit).order_by(RosterVisit.id))).all()
        moves = (await s.scalars(select(MoveRequest).order_by(MoveRequest.id))).all()
        outbox = (await s.scalars(select(OutboxEntry.id))).all()
        return (
            [
                (v.id, v.visitor_member_id, v.status, v.starts_at, v.offer_to_member_id)
                for v in visits
            ],
            [(m.id, m.status, m.to_start) for m in moves],
            len(outbox),
        )


async def sent(rw: RosterWorld, code: str, dedupe_part: str) -> list[OutboxEntry]:
    """Messages queued to the person's private chat whose dedupe key contains `dedupe_part`."""
    async with rw.w.factory() as s:
        rows = await s.scalars(select(OutboxEntry).where(OutboxEntry.chat_id == rw.tg[code]))
        found = [r for r in rows if dedupe_part in (r.dedupe_key or "")]
    for r in found:  # rendered from the catalogs, never a bare key
        assert not (r.text or "").startswith("roster."), r.text
        assert not any(b["text"].startswith("roster.") for b in buttons(r)), r.reply_markup
    return found


def buttons(entry: OutboxEntry) -> list[dict[str, str]]:
    markup = entry.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def callbacks(entry: OutboxEntry) -> list[str]:
    return [b["callback_data"] for b in buttons(entry)]
