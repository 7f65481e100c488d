"""The policies' timings (defaults, and each district's overrides) and the manners: when a
message may go out at all.

Each policy counts from the obligation's *moment* (the meeting, the roster's publication, the
deadline): the first nudge `hours` after it (negative: before), the escalation
`escalate_hours` after it (None: only when nobody can be reminded). A district may switch a
policy off or change both numbers (`nudge_settings`), and change its waking hours.

Manners: only in waking hours (07:00-21:00 local unless the district says otherwise), never on
a public holiday or Tết unless the obligation is urgent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.services.access.policy import Actor, admin_districts_of
from bot.services.nudges.common import DEFAULT_CONFIG, NudgeConfig, NudgeError
from bot.services.vn_calendar import VN_TZ, is_holiday, to_local
from storage.models import NudgeSetting
from storage.models.nudges import WAKING, NudgePolicy
from storage.repositories.nudges import NudgeRepository
from storage.repositories.org import OrgRepository

HOURS_LIMIT = 24 * 60  # a timing beyond two months either way is a typo


@dataclass(frozen=True)
class Timing:
    enabled: bool
    hours: int
    escalate_hours: int | None

    def nudge_at(self, moment: datetime) -> datetime:
        return moment + timedelta(hours=self.hours)

    def escalate_at(self, moment: datetime) -> datetime | None:
        if self.escalate_hours is None:
            return None
        return moment + timedelta(hours=self.escalate_hours)


DEFAULTS: dict[NudgePolicy, Timing] = {
    NudgePolicy.MEETING_UNSCHEDULED: Timing(True, -72, None),  # 3 days before the rule's date
    NudgePolicy.MEETING_REPORT: Timing(True, 24, 72),
    NudgePolicy.VISIT_UNCONFIRMED: Timing(True, 72, 144),  # from the roster's publication
    NudgePolicy.VISIT_REPORT: Timing(True, 48, 120),
    NudgePolicy.FEEDBACK_DUE: Timing(True, -48, 0),  # 2 days before the deadline; escalated at it
    NudgePolicy.BROADCAST_ACK: Timing(True, 0, 48),  # at the deadline; escalated 2 days later
}


@dataclass
class Policies:
    """Every district's timings and waking hours, read once per sweep."""

    rows: dict[tuple[int, str], NudgeSetting] = field(default_factory=dict)
    config: NudgeConfig = DEFAULT_CONFIG

    def timing(self, district_id: int, policy: NudgePolicy) -> Timing:
        row = self.rows.get((district_id, policy))
        if row is None:
            return DEFAULTS[policy]
        return Timing(row.enabled, row.hours, row.escalate_hours)

    def waking(self, district_id: int) -> tuple[time, time]:
        row = self.rows.get((district_id, WAKING))
        if row is None or row.escalate_hours is None:
            return self.config.wake_from, self.config.wake_until
        return time(row.hours), time(row.escalate_hours)

    def window(
        self, policy: NudgePolicy, stopped: timedelta = timedelta(0)
    ) -> tuple[timedelta, timedelta]:
        """(ahead, back): candidates whose moment lies in [now - back, now + ahead] are all
        the ones any district may nudge or escalate now. `stopped`: how long no sweep ran (the
        bot was down); the window reaches back that much further (never past `give_up_after`),
        so what came due and was ignored meanwhile is still escalated once, not lost."""
        timings = [DEFAULTS[policy]] + [
            Timing(r.enabled, r.hours, r.escalate_hours)
            for (_, p), r in self.rows.items()
            if p == policy
        ]
        ahead = max(0, *(-t.hours for t in timings))
        back = max(0, *(max(t.hours, t.escalate_hours or t.hours) for t in timings))
        back_by = timedelta(hours=back) + self.config.lookback_slack
        back_by += min(max(stopped, timedelta(0)), self.config.give_up_after)
        return timedelta(hours=ahead), back_by


async def load_policies(session: AsyncSession, config: NudgeConfig = DEFAULT_CONFIG) -> Policies:
    rows = await NudgeRepository(session).settings()
    return Policies({(r.district_id, r.policy): r for r in rows}, config)


def may_send(
    now: datetime, waking: tuple[time, time], urgent: bool = False, tz: ZoneInfo = VN_TZ
) -> bool:
    """Waking hours, and not a public holiday or Tết unless urgent."""
    local = to_local(now, tz)
    start, end = waking
    if not start <= local.time() < end:
        return False
    return urgent or not is_holiday(local.date())


# Admin settings --------------------------------------------------------------------------------


def _require_admin(actor: Actor, district_id: int) -> None:
    if not actor.is_admin_of(district_id):
        raise NudgeError("policy.needs_admin")


async def set_policy(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    district_id: int,
    policy: NudgePolicy,
    *,
    enabled: bool,
    hours: int,
    escalate_hours: int | None,
) -> Timing:
    """A district admin tunes (or switches off) one policy."""
    _require_admin(actor, district_id)
    for value in (hours, escalate_hours):
        if value is not None and not -HOURS_LIMIT <= value <= HOURS_LIMIT:
            raise NudgeError("nudge.error.bad_hours", max=HOURS_LIMIT)
    if (
        escalate_hours is not None
        and escalate_hours < hours
        and policy is not NudgePolicy.FEEDBACK_DUE
    ):
        raise NudgeError("nudge.error.escalate_before_nudge")
    repo = NudgeRepository(session)
    row = await repo.setting(district_id, policy)
    if row is None:
        row = NudgeSetting(district_id=district_id, policy=policy, hours=hours)
        session.add(row)
    row.enabled, row.hours, row.escalate_hours = enabled, hours, escalate_hours
    row.updated_by, row.updated_at = actor.telegram_id, clock.now()
    await session.flush()
    return Timing(enabled, hours, escalate_hours)


async def set_waking(
    session: AsyncSession, clock: Clock, actor: Actor, district_id: int, start: int, end: int
) -> None:
    """A district's waking hours (local, whole hours: from `start`:00 until `end`:00)."""
    _require_admin(actor, district_id)
    if not 0 <= start < end <= 23:
        raise NudgeError("nudge.error.bad_waking")
    repo = NudgeRepository(session)
    row = await repo.setting(district_id, WAKING)
    if row is None:
        row = NudgeSetting(district_id=district_id, policy=WAKING, hours=start)
        session.add(row)
    row.enabled, row.hours, row.escalate_hours = True, start, end
    row.updated_by, row.updated_at = actor.telegram_id, clock.now()
    await session.flush()


# For the districts a person administers (/nudges set, /nudges hours) ---------------------------


async def _districts(session: AsyncSession, actor: Actor) -> list[int]:
    mine = admin_districts_of(actor, [d.id for d in await OrgRepository(session).districts()])
    if not mine:
        raise NudgeError("policy.needs_admin")
    return mine


def parse_policy(name: str) -> NudgePolicy:
    try:
        return NudgePolicy(name.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in NudgePolicy)
        raise NudgeError("nudge.error.unknown_policy", names=names) from None


async def tune(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    policy: NudgePolicy,
    *,
    enabled: bool,
    hours: int | None = None,
    escalate_hours: int | None = None,
) -> Timing:
    """Switch a policy on or off in every district the person administers, with new hours
    when given (else each district keeps its own)."""
    policies = await load_policies(session)
    timing = DEFAULTS[policy]
    for district_id in await _districts(session, actor):
        current = policies.timing(district_id, policy)
        new_hours = current.hours if hours is None else hours
        new_escalate = current.escalate_hours if hours is None else escalate_hours
        timing = await set_policy(
            session,
            clock,
            actor,
            district_id,
            policy,
            enabled=enabled,
            hours=new_hours,
            escalate_hours=new_escalate,
        )
    return timing


async def tune_waking(
    session: AsyncSession, clock: Clock, actor: Actor, start: int, end: int
) -> None:
    """The waking hours of every district the person administers."""
    for district_id in await _districts(session, actor):
        await set_waking(session, clock, actor, district_id, start, end)


# The settings screen (/nudges settings): current values, changed a step at a time ------------

STEP_HOURS = 24  # a press moves a nudge or an escalation by a day
WAKING_STEP = 1  # and the waking hours by an hour


class Change(enum.Enum):
    """One press on the settings screen."""

    TOGGLE = "t"  # switch the policy off, or on again
    EARLIER = "e"  # the first nudge a day earlier
    LATER = "l"  # ... a day later
    ESC_EARLIER = "ee"  # the escalation a day earlier
    ESC_LATER = "el"  # ... a day later (or, when there is none, a day after the nudge)
    ESC_NONE = "en"  # no escalation (only when nobody can be reminded)
    WAKE_FROM_EARLIER = "wfe"
    WAKE_FROM_LATER = "wfl"
    WAKE_UNTIL_EARLIER = "wue"
    WAKE_UNTIL_LATER = "wul"


@dataclass(frozen=True)
class DistrictSettings:
    """A district's nudge settings as they apply now (its own or the defaults)."""

    district_id: int
    name: str
    timings: dict[NudgePolicy, Timing]
    waking: tuple[time, time]


async def district_settings(
    session: AsyncSession, actor: Actor, district_id: int, config: NudgeConfig = DEFAULT_CONFIG
) -> DistrictSettings:
    """One district's settings, for its admins only (ids from buttons are never trusted)."""
    _require_admin(actor, district_id)
    district = await OrgRepository(session).unit(district_id)
    if district is None:
        raise NudgeError("policy.needs_admin")
    policies = await load_policies(session, config)
    return DistrictSettings(
        district_id,
        district.name,
        {p: policies.timing(district_id, p) for p in NudgePolicy},
        policies.waking(district_id),
    )


async def settings_of(session: AsyncSession, actor: Actor) -> list[DistrictSettings]:
    """The settings of every district the person administers (refused to anyone else)."""
    return [await district_settings(session, actor, d) for d in await _districts(session, actor)]


async def change_setting(
    session: AsyncSession,
    clock: Clock,
    actor: Actor,
    district_id: int,
    policy: NudgePolicy | None,
    change: Change,
) -> DistrictSettings:
    """One step on the settings screen, checked as `set_policy`/`set_waking` check a typed
    setting (the district's admins only, hours in range); the settings as they are after it."""
    current = await district_settings(session, actor, district_id)
    if policy is None:
        start, end = (current.waking[0].hour, current.waking[1].hour)
        moves = {
            Change.WAKE_FROM_EARLIER: (-WAKING_STEP, 0),
            Change.WAKE_FROM_LATER: (WAKING_STEP, 0),
            Change.WAKE_UNTIL_EARLIER: (0, -WAKING_STEP),
            Change.WAKE_UNTIL_LATER: (0, WAKING_STEP),
        }
        if change not in moves:
            raise NudgeError("nudge.error.bad_waking")
        d_start, d_end = moves[change]
        await set_waking(session, clock, actor, district_id, start + d_start, end + d_end)
    else:
        timing = current.timings[policy]
        enabled, hours, escalate = timing.enabled, timing.hours, timing.escalate_hours
        if change is Change.TOGGLE:
            enabled = not enabled
        elif change is Change.EARLIER:
            hours -= STEP_HOURS
        elif change is Change.LATER:
            hours += STEP_HOURS
        elif change is Change.ESC_EARLIER and escalate is not None:
            escalate -= STEP_HOURS
        elif change is Change.ESC_LATER:
            escalate = max(hours, 0) + STEP_HOURS if escalate is None else escalate + STEP_HOURS
        elif change is Change.ESC_NONE:
            escalate = None
        else:
            raise NudgeError("nudge.error.escalate_before_nudge")
        await set_policy(
            session,
            clock,
            actor,
            district_id,
            policy,
            enabled=enabled,
            hours=hours,
            escalate_hours=escalate,
        )
    return await district_settings(session, actor, district_id)
