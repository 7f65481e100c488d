"""Is nudging working? A district's figures for a period, overall and per unit, read from the
nudge events and tracks (and, for what is open now, from the obligations themselves).

- open: obligations owed and due now, by kind and by unit;
- nudges and escalations sent in the period (one per obligation and person or chat; a
  message withdrawn because the thing was done meanwhile does not count), escalations that
  found nobody to tell, and those caused by an owner the bot cannot write to;
- of the obligations first acted on in the period: the share met after the first nudge, after
  the second, only after the escalation, and never (still owed, or lapsed); the median time
  from the first nudge (or escalation) to the thing done.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor, admin_districts_of
from bot.services.context import ServiceContext
from bot.services.nudges.common import DEFAULT_CONFIG, NudgeConfig, NudgeError
from bot.services.nudges.engine import is_due, open_obligations
from bot.services.nudges.policies import load_policies
from bot.services.vn_calendar import month_bounds
from bot.services.vn_sort import vn_key
from storage.models import NudgeEvent, NudgeTrack
from storage.models.nudges import EscalationReason, NudgePolicy, NudgeStep, TrackEnd
from storage.repositories.nudge_sources import NudgeSources
from storage.repositories.nudges import NudgeRepository
from storage.repositories.org import OrgRepository

LEVEL = {NudgeStep.NUDGE1: 1, NudgeStep.NUDGE2: 2, NudgeStep.ESCALATION: 3}


@dataclass
class Outcomes:
    after_first: int = 0
    after_second: int = 0
    after_escalation: int = 0
    never: int = 0
    to_action: list[timedelta] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.after_first + self.after_second + self.after_escalation + self.never

    @property
    def median(self) -> timedelta | None:
        if not self.to_action:
            return None
        return timedelta(seconds=statistics.median(d.total_seconds() for d in self.to_action))

    def share(self, n: int) -> int:
        """Per cent of the total, rounded."""
        return round(100 * n / self.total) if self.total else 0


@dataclass
class Figures:
    open: Counter[NudgePolicy] = field(default_factory=Counter)  # by kind
    nudges: int = 0
    escalations: int = 0
    unreachable: int = 0  # escalations because nobody could be reminded
    no_target: int = 0  # escalations with nobody above to tell
    withdrawn: int = 0  # messages not sent: done between the sweep and the send
    outcomes: Outcomes = field(default_factory=Outcomes)


@dataclass
class UnitFigures:
    unit_id: int
    name: str
    figures: Figures


@dataclass
class NudgeFigures:
    district_id: int
    name: str
    start: datetime
    end: datetime
    total: Figures
    units: list[UnitFigures]


def _count_events(events: list[NudgeEvent], into: Figures) -> None:
    withdrawn: set[int] = set()
    for e in events:
        if e.withdrawn_at is not None:
            if e.outbox_id is not None:
                withdrawn.add(e.outbox_id)
            continue
        if e.step in (NudgeStep.NUDGE1, NudgeStep.NUDGE2):
            into.nudges += 1
        elif e.step == NudgeStep.ESCALATION:
            if e.reason == EscalationReason.NO_TARGET:
                into.no_target += 1
                continue
            into.escalations += 1
            into.unreachable += e.reason == EscalationReason.UNREACHABLE
    into.withdrawn += len(withdrawn)


def _outcome(track: NudgeTrack, events: list[NudgeEvent], into: Outcomes) -> None:
    """Which step the obligation was met after (only the steps that went out before it)."""
    done = track.ended_at if track.end == TrackEnd.MET else None
    acted = [
        e
        for e in events
        if e.step in LEVEL and e.withdrawn_at is None and (done is None or e.at <= done)
    ]
    if not acted:
        return  # met before any nudge reached anyone: not the nudges' doing
    level = max(LEVEL[e.step] for e in acted)
    if done is None:
        into.never += 1
        return
    into.after_first += level == 1
    into.after_second += level == 2
    into.after_escalation += level == 3
    into.to_action.append(done - min(e.at for e in acted))


async def nudge_figures(
    session: AsyncSession,
    ctx: ServiceContext,
    district_id: int,
    start: datetime,
    end: datetime,
    config: NudgeConfig = DEFAULT_CONFIG,
) -> NudgeFigures:
    repo = NudgeRepository(session)
    total = Figures()
    per_unit: dict[int, Figures] = defaultdict(Figures)
    policies = await load_policies(session, config)
    now = ctx.now()
    for ob, timing in await open_obligations(session, ctx, policies, district_id):
        if is_due(ob, timing, now, config):
            total.open[ob.kind] += 1
            per_unit[ob.unit_id or 0].open[ob.kind] += 1
    events = await repo.events_between(district_id, start, end)
    _count_events(events, total)
    by_unit: dict[int, list[NudgeEvent]] = defaultdict(list)
    for e in events:
        by_unit[e.unit_id or 0].append(e)
    for unit_id, mine in by_unit.items():
        _count_events(mine, per_unit[unit_id])
    tracks = await repo.tracks_started(district_id, start, end)
    track_events: dict[int, list[NudgeEvent]] = defaultdict(list)
    for e in await repo.events_of(t.id for t in tracks):
        track_events[e.track_id].append(e)
    for t in tracks:
        _outcome(t, track_events[t.id], total.outcomes)
        _outcome(t, track_events[t.id], per_unit[t.unit_id or 0].outcomes)
    names = await NudgeSources(session).unit_names([u for u in per_unit if u] + [district_id])
    units = [
        UnitFigures(u, names.get(u, "?") if u else "", f)
        for u, f in sorted(per_unit.items(), key=lambda kv: vn_key(names.get(kv[0], "")))
    ]
    return NudgeFigures(district_id, names.get(district_id, "?"), start, end, total, units)


async def figures_for(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, year: int, month: int
) -> list[NudgeFigures]:
    """A committee admin's figures for one local month, per district they administer."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise NudgeError("nudge.figures.bad_period")
    districts = await OrgRepository(session).districts()
    mine = admin_districts_of(actor, [d.id for d in districts])
    if not mine:
        raise NudgeError("policy.needs_admin")
    start, end = month_bounds(year, month, ctx.tz)
    return [await nudge_figures(session, ctx, d, start, end) for d in mine]
