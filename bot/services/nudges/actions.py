"""What people do with a nudge: press its action button, or "Nhắc lại sau"; and what admins
do: switch a person off (or on again).

A press names rows by id and can be forged: a snooze counts only for whom the message was
sent to (the person pressing, for a nudge in private; a group's nudge, for a press the handler
checked came from a known current member of that group); an action opens the feature's screen
only while the obligation is owed (the screen then checks the person may do the thing, as it
always does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct
from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.nudges.common import DEFAULT_CONFIG, NudgeConfig, NudgeError
from bot.services.nudges.obligations import Status
from bot.services.nudges.registry import press_key, statuses
from storage.models import Member, NudgeEvent
from storage.models.nudges import NUDGE_STEPS, SNOOZE_STEPS
from storage.repositories.nudges import NudgeRepository
from storage.repositories.org import OrgRepository


@dataclass(frozen=True)
class SnoozeResult:
    snoozed: int  # obligations put off
    until: datetime
    used_up: int  # obligations whose snoozes were all used: the escalation proceeds
    already: bool = False  # pressed again while a snooze runs: nothing changed


async def snooze(
    session: AsyncSession,
    ctx: ServiceContext,
    presser: int,
    batch_id: int,
    *,
    via_chat: int | None = None,
    config: NudgeConfig = DEFAULT_CONFIG,
) -> SnoozeResult:
    """Put off the next nudge of each obligation in the message (still owed) by a day, at most
    `max_snoozes` times per person (or group) and obligation; the escalation waits as long.

    Whose nudge is put off comes from who pressed, never from the button (class 3): `presser`'s
    own, for a press in private; the group's, only with `via_chat`, a group the caller checked
    the presser is a known current member of now (`handlers.kit.presence`). Telegram lets
    anyone viewing a public supergroup, or a member who left and still holds its messages,
    press a group's buttons, so the chat of a press alone is no right to put off the group's
    nudge and its escalation. A message sent to anyone else (a forged button) is refused."""
    repo = NudgeRepository(session)
    me = presser if via_chat is None else via_chat
    mine = [e for e in await repo.batch(batch_id) if e.chat_id == me and e.step in NUDGE_STEPS]
    if not mine:
        raise NudgeError("nudge.not_yours")
    now = ctx.now()
    tracks = [await repo.track(i, for_update=True) for i in dict.fromkeys(e.track_id for e in mine)]
    found = await statuses(session, [t.key for t in tracks if t is not None], now, ctx.tz)
    owed = [
        t for t in tracks if t is not None and t.ended_at is None and found[t.key] is Status.OWED
    ]
    if not owed:
        raise NudgeError("nudge.already_done")
    past = [e for e in await repo.events_of(t.id for t in owed) if e.chat_id == me]
    until = now + config.snooze_for
    snoozed = used_up = running = 0
    added = []
    for track in owed:
        snoozes = [e for e in past if e.track_id == track.id and e.step in SNOOZE_STEPS]
        if any(e.at + config.snooze_for > now for e in snoozes):
            running += 1  # a second tap on the same message: already put off
            continue
        if len(snoozes) >= config.max_snoozes:
            used_up += 1
            continue
        source = next(e for e in mine if e.track_id == track.id)
        added.append(
            NudgeEvent(
                track_id=track.id,
                key=track.key,
                kind=track.kind,
                district_id=track.district_id,
                unit_id=track.unit_id,
                chat_id=me,
                step=SNOOZE_STEPS[len(snoozes)],
                at=now,
                batch_id=source.batch_id,
            )
        )
        track.snoozed_until = max(track.snoozed_until or until, until)
        snoozed += 1
    if added:
        await repo.add_events(added)
    elif running:
        return SnoozeResult(0, until, used_up, already=True)
    else:
        raise NudgeError("nudge.snooze_used_up", n=config.max_snoozes)
    return SnoozeResult(snoozed, until, used_up)


async def check_press(
    session: AsyncSession, ctx: ServiceContext, act: NudgeAct, row_id: int, chat_id: int = 0
) -> str:
    """The obligation an action button names, if still owed; else a clear refusal."""
    key = press_key(act, row_id, chat_id)
    status = (await statuses(session, [key], ctx.now(), ctx.tz))[key]
    if status is Status.MET:
        raise NudgeError("nudge.already_done")
    if status is Status.LAPSED:
        raise NudgeError("nudge.no_longer_needed")
    return key


async def switch_person(
    session: AsyncSession, ctx: ServiceContext, actor: Actor, member_code: str, *, off: bool
) -> tuple[Member, bool]:
    """A committee admin switches a member of their district off from nudges (or on again);
    escalations about what the member owes still run. Returns the member and whether anything
    changed. A member of another district reads as unknown (nothing about it is told)."""
    code = member_code.strip()[:32]
    member = await OrgRepository(session).member_by_code(code)
    if member is None or not actor.is_admin_of(member.district_id):
        raise NudgeError("nudge.optout.unknown", code=code)
    if member.telegram_id is None:
        raise NudgeError("nudge.optout.no_account", name=member.full_name)
    district_id = member.district_id
    changed = await NudgeRepository(session).set_optout(
        district_id, member.telegram_id, off, actor.telegram_id, ctx.now()
    )
    if changed:
        await audit.record(
            session,
            action="nudge.optout" if off else "nudge.optin",
            entity_type="member",
            entity_id=member.id,
            before={"nudges": off},
            after={"nudges": not off},
            actor_id=actor.telegram_id,
            district_id=district_id,
        )
    return member, changed
