"""The system's own roster work: the coming quarter's drafts, made when due and sent to leaders.

One transaction per group, so one group's failure (or a leader unreachable) never holds back
the others, and a draft that exists is never made again (publication is the leader's act).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.context import ServiceContext
from bot.services.rosters.common import DEFAULT_CONFIG, Quarter, RosterConfig
from bot.services.rosters.notices import RosterNotices
from bot.services.rosters.planning import ensure_programs, make_draft
from bot.services.rosters.review import draft_due, load_view, review_text
from storage.repositories.rosters import RosterRepository

log = logging.getLogger("bot.rosters")


class _MadeMeanwhile(Exception):
    """The draft appeared between the check and the solve: roll this group's work back."""


def coming_quarter(ctx: ServiceContext) -> Quarter:
    return Quarter.of(ctx.today()).shift(1)


async def make_due_drafts(
    factory: async_sessionmaker[AsyncSession],
    ctx: ServiceContext,
    *,
    config: RosterConfig = DEFAULT_CONFIG,
) -> int:
    quarter = coming_quarter(ctx)
    if not draft_due(quarter, ctx.today(), config):
        return 0
    async with factory() as s, s.begin():
        await ensure_programs(s)
        programs = [(p.id, p.working_group_id) for p in await RosterRepository(s).programs()]
    made = 0
    for program_id, _group_id in programs:
        try:
            async with factory() as s, s.begin():
                repo = RosterRepository(s)
                program = await repo.program(program_id)
                if program is None or not program.active:
                    continue
                if await repo.roster_for(program.id, quarter.year, quarter.quarter) is not None:
                    continue
                draft = await make_draft(s, ctx, program, quarter, config=config)
                if draft.roster.version != 1:
                    # Made meanwhile (a leader's /roster, another run outside the job's lease):
                    # make_draft found it and regenerated it. Leave it as it was.
                    raise _MadeMeanwhile
                view = await load_view(s, draft.roster)
                await RosterNotices(s, ctx).draft_to_leader(
                    draft.roster,
                    view.group,
                    lambda loc, v=view: (
                        review_text(ctx, loc, v)
                        + "\n\n"
                        + ctx.i18n.t("roster.draft.auto", loc, quarter=quarter.label(loc))
                    ),
                )
                made += 1
        except _MadeMeanwhile:  # rolled back: the existing draft stays as its author saw it
            continue
        except Exception:  # one group's failure must not stop the district's other drafts
            log.exception("roster draft for program %s failed", program_id)
    return made
