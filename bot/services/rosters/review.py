"""The leader's review: which roster the person sees, the review text, regenerate, publish.

Drafts are visible only to the group's leader and the district's committee admins; a published
roster to every member of the group as well. Every button press names the roster's version, so
a press on a screen older than the last regeneration or change is refused, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.rosters import presentation as p
from bot.services.rosters.common import (
    DEFAULT_CONFIG,
    Quarter,
    RosterConfig,
    RosterError,
    leads_group,
    require_leader,
    sits_in_group,
)
from bot.services.rosters.handover import HANDED, cannot_go, own_live_visit, scope_of
from bot.services.rosters.notices import RosterNotices
from bot.services.rosters.periods import ensure_open, is_open
from bot.services.rosters.planning import ensure_meetings, ensure_programs, make_draft
from bot.services.vn_calendar import ReadableDay, to_local
from bot.services.vn_sort import vn_sorted
from storage.models import Branch, Member, Roster, RosterVisit, WorkingGroup
from storage.models.rosters import MoveStatus, RosterStatus, VisitStatus
from storage.repositories.rosters import RosterRepository


@dataclass
class RosterView:
    roster: Roster
    group: WorkingGroup
    visits: list[RosterVisit]
    branches: dict[int, Branch]
    members: dict[int, Member]
    due: int

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.roster.year, self.roster.quarter)

    @property
    def published(self) -> bool:
        return self.roster.status == RosterStatus.PUBLISHED


async def load_view(session: AsyncSession, roster: Roster) -> RosterView:
    repo = RosterRepository(session)
    program = await repo.program(roster.program_id)
    assert program is not None
    group = await repo.group(program.working_group_id)
    assert group is not None
    visits = await repo.visits(roster.id)
    branch_ids = {v.branch_id for v in visits} | {u["branch_id"] for u in roster.uncovered}
    branch_ids |= {m["branch_id"] for m in roster.suggestions.get("moves", [])}
    member_ids = {v.visitor_member_id for v in visits}
    for helper in roster.suggestions.get("helpers", []):
        member_ids |= set(helper["member_ids"][:3])
    covered_slots = {(v.branch_id, v.period_year, v.period_month) for v in visits}
    return RosterView(
        roster=roster,
        group=group,
        visits=visits,
        branches=await repo.branches(branch_ids),
        members=await repo.members(member_ids),
        due=len(covered_slots) + len(roster.uncovered),
    )


def review_text(ctx: ServiceContext, locale: str, view: RosterView) -> str:
    """Title, coverage figures, the table, then why some branches stay uncovered."""
    i18n, tz = ctx.i18n, ctx.tz
    roster = view.roster
    head = i18n.t(
        "roster.review.published" if view.published else "roster.review.draft",
        locale,
        group=p.escape(view.group.name),
        quarter=p.quarter_label(i18n, locale, view.quarter),
    )
    loads: dict[int, int] = {}
    for v in view.visits:
        loads[v.visitor_member_id] = loads.get(v.visitor_member_id, 0) + 1
    figures = i18n.t(
        "roster.figures",
        locale,
        covered=view.due - len(roster.uncovered),
        due=view.due,
        visits=len(view.visits),
        people=len(loads),
        most=max(loads.values(), default=0),
    )
    status = i18n.t(f"roster.status.{roster.solver_status or 'optimal'}", locale)
    if roster.solver_status == "feasible":
        status += " " + i18n.t("roster.gap", locale, gap=round(roster.solver_gap * 100, 1))
    short = p.shortfall_lines(i18n, locale, view.group, roster, view.branches, view.members, tz=tz)
    tail = ("\n\n" + i18n.t("roster.shortfall", locale) + "\n" + "\n".join(short)) if short else ""
    rows = p.visit_rows(view.visits, view.branches, view.members)
    room = p.TEXT_LIMIT - len(head) - len(figures) - len(status) - len(tail) - 10
    body = p.table(i18n, locale, rows, tz=tz, room=max(room, 400))
    return f"{head}\n{figures}\n{status}\n\n{body}{tail}"[: p.TEXT_LIMIT]


async def rosters_for(
    session: AsyncSession, actor: Actor, quarter: Quarter
) -> list[tuple[WorkingGroup, Roster | None, bool]]:
    """The groups whose roster this person may see for `quarter`: (group, roster, may_edit).

    Drafts only for leaders and admins; an ordinary member sees their group's published one."""
    repo = RosterRepository(session)
    out = []
    districts = sorted(actor.districts) if not actor.bootstrap_admin else None
    groups = []
    if districts is None:
        groups = await repo.groups()
    else:
        for d in districts:
            groups += await repo.groups(d)
    for group in groups:
        if not sits_in_group(actor, group):
            continue
        program = await repo.program_of_group(group.id)
        roster = (
            await repo.roster_for(program.id, quarter.year, quarter.quarter)
            if program is not None
            else None
        )
        edit = leads_group(actor, group)
        if roster is not None and roster.status != RosterStatus.PUBLISHED and not edit:
            roster = None
        out.append((group, roster, edit))
    return out


async def locked(session: AsyncSession, roster_id: int, version: int | None) -> Roster:
    roster = await RosterRepository(session).roster(roster_id, for_update=True)
    if roster is None:
        raise RosterError("roster.not_found")
    if version is not None and roster.version != version:
        raise RosterError("roster.stale")
    return roster


async def leader_roster(session: AsyncSession, actor: Actor, roster_id: int) -> Roster:
    """A roster for its review screen: its group's leader and the district's admins only."""
    roster = await RosterRepository(session).roster(roster_id)
    if roster is None:
        raise RosterError("roster.not_found")
    require_leader(actor, await group_of(session, roster))
    return roster


async def group_of(session: AsyncSession, roster: Roster) -> WorkingGroup:
    repo = RosterRepository(session)
    program = await repo.program(roster.program_id)
    group = await repo.group(program.working_group_id) if program else None
    if group is None:
        raise RosterError("roster.not_found")
    return group


async def regenerate(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor | None,
    roster_id: int,
    version: int | None,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
) -> Roster:
    roster = await locked(session, roster_id, version)
    group = await group_of(session, roster)
    if actor is not None:
        require_leader(actor, group)
    program = await RosterRepository(session).program(roster.program_id)
    assert program is not None
    draft = await make_draft(
        session, ctx, program, Quarter(roster.year, roster.quarter), actor=actor, config=config
    )
    return draft.roster


async def draft_for_group(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor | None,
    group: WorkingGroup,
    quarter: Quarter,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
) -> Roster:
    """The group's roster for the quarter: the existing one, or a new draft."""
    if actor is not None:
        require_leader(actor, group)
    await ensure_programs(session, group.district_id)
    current = Quarter.of(ctx.today())
    repo = RosterRepository(session)
    program = await repo.program_of_group(group.id)
    assert program is not None
    roster = await repo.roster_for(program.id, quarter.year, quarter.quarter)
    if roster is not None:
        return roster
    if actor is not None and quarter not in (current, current.shift(1)):
        # People draft the current or the coming quarter only: a past one cannot be visited
        # any more, and a far one has no meetings planned and nobody's busy days yet.
        raise RosterError("roster.quarter_not_open", quarter=quarter)
    return (await make_draft(session, ctx, program, quarter, actor=actor, config=config)).roster


async def publishable(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, roster_id: int, version: int
) -> tuple[Roster, WorkingGroup]:
    """The draft a leader's Công bố asks to publish, refused as `publish` would refuse it
    (stale screen, not their group, already published, its quarter's visits begun): the
    check screen comes first, and must never offer a confirm that `publish` would refuse."""
    roster = await RosterRepository(session).roster(roster_id)
    if roster is None:
        raise RosterError("roster.not_found")
    if roster.version != version:
        raise RosterError("roster.stale")
    group = await group_of(session, roster)
    require_leader(actor, group)
    if roster.status == RosterStatus.PUBLISHED:
        raise RosterError(
            "roster.already_published",
            quarter=Quarter(roster.year, roster.quarter),
            group=group.name,
        )
    await _ensure_publishable_now(session, ctx, roster)
    return roster, group


async def _ensure_publishable_now(
    session: AsyncSession, ctx: ServiceContext, roster: Roster
) -> None:
    """The quarter's visits not begun (`periods.ensure_open`), and none of the draft's own
    visits started (a meeting moved earlier since the draft was solved)."""
    now = ctx.now()
    program = await RosterRepository(session).program(roster.program_id)
    await ensure_open(session, program, Quarter(roster.year, roster.quarter), now, ctx.tz)
    # Publishing tells visitors to go: a visit whose meeting already began cannot be made.
    over = [v for v in await RosterRepository(session).visits(roster.id) if v.starts_at <= now]
    if over:
        first = to_local(over[0].starts_at, ctx.tz).date()
        raise RosterError("roster.visits_over", n=len(over), first=ReadableDay(first))


async def publish(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor | None,
    roster_id: int,
    version: int | None,
) -> RosterView:
    """Publish a draft: visits tied to meetings, the group and each visitor told (once)."""
    roster = await locked(session, roster_id, version)
    group = await group_of(session, roster)
    if actor is not None:
        require_leader(actor, group)
    if roster.status == RosterStatus.PUBLISHED:
        raise RosterError(
            "roster.already_published",
            quarter=Quarter(roster.year, roster.quarter),
            group=group.name,
        )
    await _ensure_publishable_now(session, ctx, roster)
    await ensure_meetings(session, ctx, roster)
    roster.status = RosterStatus.PUBLISHED
    roster.published_at = ctx.now()
    roster.published_by = actor.telegram_id if actor else None
    roster.version += 1
    for req in await RosterRepository(session).pending_moves(roster.id):
        req.status = MoveStatus.WITHDRAWN
        req.decided_at = ctx.now()
    view = await load_view(session, roster)
    await RosterNotices(session, ctx).published(
        roster, group, view.visits, view.branches, view.members
    )
    await audit.record(
        session,
        action="roster.publish",
        entity_type="roster",
        entity_id=str(roster.id),
        district_id=roster.district_id,
        actor_id=actor.telegram_id if actor else None,
        before={"status": RosterStatus.DRAFT},
        after={"status": roster.status, "visits": len(view.visits), "version": roster.version},
    )
    return view


async def confirm_visits(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, roster_id: int
) -> int:
    """The visitor's Xác nhận: confirms their own live visits of the roster; how many."""
    roster = await RosterRepository(session).roster(roster_id)
    if roster is None or roster.status != RosterStatus.PUBLISHED:
        raise RosterError("roster.not_found")
    mine = {m.member_id for m in actor.memberships}
    visits = [
        v for v in await RosterRepository(session).visits(roster.id) if v.visitor_member_id in mine
    ]
    if not visits:
        raise RosterError("roster.not_your_visit")
    now = ctx.now()
    changed = 0
    for v in visits:
        if v.status == VisitStatus.ASSIGNED:
            v.status = VisitStatus.CONFIRMED
            v.confirmed_at = now
            changed += 1
    if changed:
        await audit.record(
            session,
            action="roster.confirm",
            entity_type="roster",
            entity_id=str(roster.id),
            district_id=roster.district_id,
            actor_id=actor.telegram_id,
            before=None,
            after={"visits": [v.id for v in visits]},
        )
    return len(visits)


@dataclass(frozen=True)
class Confirmed:
    """One visit confirmed from a nudge: where and when, for the message's outcome line."""

    visit: RosterVisit
    branch: Branch


async def confirm_visit(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int
) -> Confirmed:
    """Xác nhận under a nudge: confirms that one visit of the person's, never their others
    (a nudge names one branch and day). A visit already confirmed stays so; one given away,
    dropped, started or of an unpublished roster is refused."""
    visit, _ = await own_live_visit(
        session, actor, visit_id, now=ctx.now(), statuses=HANDED, lock=True
    )
    if visit.status == VisitStatus.ASSIGNED:
        visit.status = VisitStatus.CONFIRMED
        visit.confirmed_at = ctx.now()
        await audit.record(
            session,
            action="roster.confirm",
            entity_type="roster_visit",
            entity_id=visit.id,
            district_id=visit.district_id,
            actor_id=actor.telegram_id,
            before={"status": VisitStatus.ASSIGNED},
            after={"status": visit.status},
        )
    branch = (await RosterRepository(session).branches([visit.branch_id]))[visit.branch_id]
    return Confirmed(visit, branch)


def draft_due(quarter: Quarter, today: date, config: RosterConfig = DEFAULT_CONFIG) -> bool:
    """Whether the quarter's draft should exist by `today` (local date)."""
    return today >= quarter.first_day - timedelta(days=config.draft_days_before)


@dataclass(frozen=True)
class Mate:
    """A group mate the visit could be passed on to; `why` says why not (None: free)."""

    member_id: int
    name: str
    why: str | None = None  # a `handover.Why` value, or UNREACHABLE


async def visit_roster(session: AsyncSession, actor: Actor, visit_id: int) -> RosterView:
    """The published roster of one's own visit (Quay lại from the pass-on picker); anyone
    else's visit (a forged id) is refused. Any state of it will do: going back to the roster
    changes nothing, and one given away meanwhile still shows the roster it was on."""
    _, roster = await own_live_visit(
        session, actor, visit_id, now=None, statuses=frozenset(VisitStatus)
    )
    return await load_view(session, roster)


UNREACHABLE = "unreachable"  # no private chat with the Trợ lý: the question could not reach them


async def pass_on_choices(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, visit_id: int
) -> tuple[RosterVisit, Branch, list[Mate]]:
    """The actor's live published visit with its branch and the group mates it could be
    offered to, each with why they cannot take it that day (the rules an offer checks: their
    own branch, a busy day, another visit too close, the quarter's cap, no private chat); free
    ones first, in Vietnamese order. Anyone else's visit (a forged id) is refused."""
    visit, _ = await own_live_visit(session, actor, visit_id, now=ctx.now(), statuses=HANDED)
    repo = RosterRepository(session)
    scope = await scope_of(session, visit)
    branch = (await repo.branches([visit.branch_id]))[visit.branch_id]
    others = [
        m for m in await repo.group_members(scope.group.id) if m.id != visit.visitor_member_id
    ]
    reachable = await RosterNotices(session, ctx).reachable(others)
    mates = []
    for m in others:
        why = await cannot_go(session, ctx, scope, m)
        reason = why.value if why is not None else None
        if reason is None and m.id not in reachable:
            reason = UNREACHABLE
        mates.append(Mate(m.id, m.full_name, reason))
    mates = vn_sorted(mates, key=lambda m: m.name)
    return visit, branch, [m for m in mates if m.why is None] + [m for m in mates if m.why]


async def offered_quarters(
    session: AsyncSession, ctx: ServiceContext, actor: Actor
) -> list[Quarter]:
    """The quarters /roster offers as buttons: this one and the coming one, each only while
    its visits have not begun for one of the person's groups (`periods.is_open`): a quarter
    whose visits have begun is never offered, so it can never be drafted from a button."""
    current = Quarter.of(ctx.today())
    repo = RosterRepository(session)
    programs = [
        await repo.program_of_group(group.id)
        for group, _, _ in await rosters_for(session, actor, current)
    ]
    out = []
    for quarter in (current, current.shift(1)):
        for program in [*programs] or [None]:
            if await is_open(session, program, quarter, ctx.now(), ctx.tz):
                out.append(quarter)
                break
    return out


async def offered_quarter(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, year: int, quarter: int
) -> Quarter:
    """A period button names a quarter: only an offered one is taken (data can be forged, and
    a picker left open may name a quarter whose visits have begun since)."""
    for q in await offered_quarters(session, ctx, actor):
        if (q.year, q.quarter) == (year, quarter):
            return q
    raise RosterError("roster.quarter_not_offered")
