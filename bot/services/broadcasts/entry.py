"""/broadcast's first step: who may send, for which district, and what they may choose from.

Asked before the admin is told to send the message, so a person who may not broadcast hears
it at once (not after writing the message), and an admin of several districts (the
installation's bootstrap admins) names the district by its code: `/broadcast D01`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.broadcasts.audience import AudienceChoices, choices
from bot.services.broadcasts.common import BroadcastError
from bot.services.broadcasts.compose import district_for
from storage.repositories.access import AccessRepository


async def begin(session: AsyncSession, actor: Actor, district_code: str | None) -> AudienceChoices:
    """The district the draft will be for and the audience choices there; refused for anyone
    who administers neither a district nor a commune (`bc.not_admin`), for an unknown code,
    and, without a code, for an admin of several districts (told the codes)."""
    repo = AccessRepository(session)
    district_id = None
    if district_code:
        code = district_code.strip().upper()[:32]
        unit = await repo.unit_by_code(code)
        if unit is None or unit.id != unit.district_id:
            raise BroadcastError("admins.unknown_district", code=code)
        district_id = unit.id
    try:
        district_id = await district_for(session, actor, district_id)
    except BroadcastError as err:
        if err.key != "bc.which_district":
            raise
        codes = []
        for unit in await repo.districts():
            if actor.is_admin_of(unit.id) or actor.admin_unit_ids(unit.id):
                codes.append(unit.code)
        raise BroadcastError("bcui.which_district", codes=", ".join(codes)) from None
    return await choices(session, actor, district_id)
