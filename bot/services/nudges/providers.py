"""Providers of the meeting and roster obligations (see `obligations.py`).

- meeting_unscheduled: a regular meeting still only *planned* from the rule (not confirmed or
  moved by the secretary) → its branch's secretary and deputies. Lên lịch ngay.
- meeting_report: a meeting (planned or scheduled, not cancelled) that started with no report
  → the secretary (the deputies when the branch has none). Báo cáo ngay. Escalated to the
  branch's unit committee.
- visit_unconfirmed: a published roster's visit still only assigned, its meeting ahead → the
  visitor. Xác nhận (the roster's own button). Escalated to the group's leader.
- visit_report: an assigned or confirmed visit whose meeting started, with no visit report,
  inside the report window → the visitor. Báo cáo ngay. Escalated to the group's leader.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.buttons.rosters import ConfirmVisitCb
from bot.services.nudges.obligations import (
    Action,
    EscalateTo,
    Obligation,
    Owner,
    Status,
    Window,
    key_id,
)
from bot.services.rosters.common import DEFAULT_CONFIG as ROSTER_CONFIG
from bot.services.vn_calendar import to_local
from storage.models import Branch, Meeting, Member, RosterVisit
from storage.models.meetings import MeetingStatus
from storage.models.nudges import NudgePolicy
from storage.models.org import MemberRole
from storage.models.rosters import RosterStatus, VisitStatus
from storage.repositories.nudge_sources import NudgeSources

OPEN_MEETING = (MeetingStatus.PLANNED, MeetingStatus.SCHEDULED)
REPORTING_VISIT = (VisitStatus.ASSIGNED, VisitStatus.CONFIRMED)
# The visitor acted on it: confirmed, or offered / handed it on.
ACTED_VISIT = (VisitStatus.CONFIRMED, VisitStatus.OFFERED, VisitStatus.RETURNED)


def _when(moment: datetime, tz: ZoneInfo) -> dict[str, str]:
    local = to_local(moment, tz)
    return {"date": f"{local:%d/%m/%Y}", "time": f"{local:%H:%M}"}


def _meeting_params(m: Meeting, b: Branch, tz: ZoneInfo) -> dict[str, str]:
    return {"branch": b.name, "month": f"{m.period_month:02d}/{m.period_year}"} | _when(
        m.starts_at, tz
    )


def _owner(m: Member | None) -> Owner | None:
    return None if m is None else Owner(m.telegram_id, m.full_name)


class MeetingUnscheduled:
    policy = NudgePolicy.MEETING_UNSCHEDULED
    prefix = "sched"

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        src = NudgeSources(session)
        rows = await src.planned_regular(window.now, window.end, district_id)
        leaders = await src.branch_leaders(b.id for _, b in rows)
        return [
            Obligation(
                kind=self.policy,
                key=f"{self.prefix}:{m.id}",
                district_id=b.district_id,
                unit_id=b.unit_id,
                branch_id=b.id,
                owners=tuple(Owner(x.telegram_id, x.full_name) for x in leaders.get(b.id, [])),
                moment=m.starts_at,
                params=_meeting_params(m, b, window.tz),
                action=Action("nudge.btn.schedule", NudgeCb(a=NudgeAct.SCHEDULE, id=m.id).pack()),
                escalate_to=EscalateTo(unit_id=b.unit_id),
            )
            for m, b in rows
        ]

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        state = await NudgeSources(session).meetings_state(key_id(k) for k in keys)
        out = {}
        for key in keys:
            status, starts_at = state.get(key_id(key), ("", now))
            if status == MeetingStatus.SCHEDULED:
                out[key] = Status.MET
            elif status == MeetingStatus.PLANNED and starts_at > now:
                out[key] = Status.OWED
            else:
                out[key] = Status.LAPSED
        return out


class MeetingReport:
    policy = NudgePolicy.MEETING_REPORT
    prefix = "report"

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        src = NudgeSources(session)
        rows = await src.unreported(window.start, window.now, district_id)
        leaders = await src.branch_leaders(b.id for _, b in rows)
        out = []
        for m, b in rows:
            people = leaders.get(b.id, [])
            secretary = [x for x in people if x.role == MemberRole.SECRETARY]
            owners = tuple(Owner(x.telegram_id, x.full_name) for x in (secretary or people))
            out.append(
                Obligation(
                    kind=self.policy,
                    key=f"{self.prefix}:{m.id}",
                    district_id=b.district_id,
                    unit_id=b.unit_id,
                    branch_id=b.id,
                    owners=owners,
                    moment=m.starts_at,
                    params=_meeting_params(m, b, window.tz),
                    action=Action("nudge.btn.report", NudgeCb(a=NudgeAct.REPORT, id=m.id).pack()),
                    escalate_to=EscalateTo(unit_id=b.unit_id),
                )
            )
        return out

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        src = NudgeSources(session)
        ids = [key_id(k) for k in keys]
        state = await src.meetings_state(ids)
        reported = await src.reported_meetings(ids)
        out = {}
        for key in keys:
            mid = key_id(key)
            if mid in reported:
                out[key] = Status.MET
            elif state.get(mid, ("", now))[0] in OPEN_MEETING:
                out[key] = Status.OWED
            else:
                out[key] = Status.LAPSED
        return out


async def _visit_obligations(
    session: AsyncSession,
    policy: NudgePolicy,
    prefix: str,
    rows: list[tuple[RosterVisit, Branch, datetime, int | None]],
    tz: ZoneInfo,
) -> list[Obligation]:
    src = NudgeSources(session)
    people = await src.members(
        [v.visitor_member_id for v, *_ in rows] + [x for *_, x in rows if x is not None]
    )
    out = []
    for v, b, published_at, leader_id in rows:
        visitor = _owner(people.get(v.visitor_member_id))
        leader = _owner(people.get(leader_id)) if leader_id is not None else None
        if policy is NudgePolicy.VISIT_UNCONFIRMED:
            moment = published_at
            # One button per visit: it confirms the visit its line names, not the others.
            action = Action("nudge.btn.confirm", ConfirmVisitCb(visit_id=v.id).pack())
        else:
            moment = v.starts_at
            action = Action("nudge.btn.report", NudgeCb(a=NudgeAct.VISIT_REPORT, id=v.id).pack())
        out.append(
            Obligation(
                kind=policy,
                key=f"{prefix}:{v.id}",
                district_id=v.district_id,
                unit_id=b.unit_id,
                branch_id=b.id,
                owners=(visitor,) if visitor is not None else (),
                moment=moment,
                params={"branch": b.name} | _when(v.starts_at, tz),
                action=action,
                escalate_to=EscalateTo(leader=leader),
            )
        )
    return out


class VisitUnconfirmed:
    policy = NudgePolicy.VISIT_UNCONFIRMED
    prefix = "confirm"

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        rows = await NudgeSources(session).unconfirmed_visits(
            window.start, window.now, district_id, tz=window.tz
        )
        return await _visit_obligations(session, self.policy, self.prefix, rows, window.tz)

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        src = NudgeSources(session)
        ids = [key_id(k) for k in keys]
        state = await src.visits_state(ids)
        # A busy day marked on the visit's day: the conflict is with the leader now, so a
        # queued "please confirm" is withdrawn and never escalated (`mark_busy` told them).
        busy = await src.visits_on_busy_days(ids, tz)
        out = {}
        for key in keys:
            status, starts_at, roster = state.get(key_id(key), ("", now, ""))
            if status in ACTED_VISIT:
                out[key] = Status.MET
            elif (
                status == VisitStatus.ASSIGNED
                and roster == RosterStatus.PUBLISHED
                and starts_at > now
                and key_id(key) not in busy
            ):
                out[key] = Status.OWED
            else:
                out[key] = Status.LAPSED
        return out


def quarters_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """(year, quarter) of every local month from `start` to `end`."""
    a, b = to_local(start, tz), to_local(end, tz)
    y, m = a.year, a.month
    out: list[tuple[int, int]] = []
    while (y, m) <= (b.year, b.month):
        q = (y, (m - 1) // 3 + 1)
        if q not in out:
            out.append(q)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class VisitReport:
    policy = NudgePolicy.VISIT_REPORT
    prefix = "vreport"
    window_days = ROSTER_CONFIG.report_days  # a report is taken this long after the meeting

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        since = max(window.start, window.now - timedelta(days=self.window_days))
        quarters = quarters_between(since, window.now, window.tz)
        rows = await NudgeSources(session).unreported_visits(
            since, window.now, quarters, district_id
        )
        return await _visit_obligations(session, self.policy, self.prefix, rows, window.tz)

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        src = NudgeSources(session)
        ids = [key_id(k) for k in keys]
        state = await src.visits_state(ids)
        reported = await src.reported_visits(ids)
        out = {}
        for key in keys:
            vid = key_id(key)
            status, starts_at, roster = state.get(vid, ("", now, ""))
            if vid in reported:
                out[key] = Status.MET
            elif (
                status in REPORTING_VISIT
                and roster == RosterStatus.PUBLISHED
                and now <= starts_at + timedelta(days=self.window_days)
            ):
                out[key] = Status.OWED
            else:
                out[key] = Status.LAPSED
        return out
