"""The sweep: what is owed now, who to remind, who to tell when it is ignored.

Each run reads every provider's candidates (set queries, windows from the policies), closes
the tracks whose obligation is no longer listed (met, or lapsed), then decides for each
obligation that is due in its district:

- per owner (a person, or a level's group): nothing if switched off by an admin or without a
  private chat with the bot; else the first nudge, then a second at least a day later (and
  after any "Nhắc lại sau"), never more;
- once per obligation: the escalation, when its time has come (pushed back by snoozes) or at
  once when nobody who owes it can be reminded (no private chat): one level up, with who owes
  it, since when, how often they were reminded and why they could not be.

Only in waking hours, not on holidays unless urgent: what is due at night goes out at 07:00.
Every decision is a `NudgeEvent` (unique per obligation, chat and step) written with its
outbox row in the sweep's transaction, so a second run, a restart or a second process never
nudges twice; what a run decides depends on the database and the clock alone.

Why not cancel rows already queued: nudges are queued only when due (never ahead), and the
outbox asks `sendcheck.check` again just before a row leaves, so a thing done between the
sweep and the send withdraws its message (see `bot.outbox.before_send`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import pick_locale
from bot.outbox import OutboxKind, OutboxMessage, Waking
from bot.outbox.service import enqueue_many
from bot.services.context import ServiceContext
from bot.services.nudges import messages as msg
from bot.services.nudges.common import DEFAULT_CONFIG, NudgeConfig
from bot.services.nudges.obligations import Obligation, Status, Window
from bot.services.nudges.policies import Policies, Timing, load_policies, may_send
from bot.services.nudges.registry import PROVIDERS, candidates, statuses
from storage.models import NudgeEvent, NudgeTrack
from storage.models.nudges import NUDGE_STEPS, SNOOZE_STEPS, EscalationReason, NudgeStep, TrackEnd
from storage.models.org import TargetType
from storage.repositories.nudge_sources import NudgeSources
from storage.repositories.nudges import NudgeRepository
from storage.repositories.recipients import RecipientRepository

ORIGIN = "nudge"


@dataclass
class SweepResult:
    obligations: int = 0  # listed now (owed, due or not)
    due: int = 0
    nudges: int = 0  # messages queued
    escalations: int = 0
    events: int = 0
    met: int = 0
    lapsed: int = 0
    waiting: int = 0  # due, held back by the hour or a holiday


async def open_obligations(
    session: AsyncSession,
    ctx: ServiceContext,
    policies: Policies,
    district_id: int | None = None,
    stopped: timedelta = timedelta(0),
) -> list[tuple[Obligation, Timing]]:
    """Everything owed now (due or not yet), with its district's timing for it; `stopped`:
    how long no sweep ran, read back that much further."""
    now = ctx.now()
    out = []
    for policy in PROVIDERS:
        ahead, back = policies.window(policy, stopped)
        for ob in await candidates(session, policy, Window(now, ahead, back, ctx.tz), district_id):
            out.append((ob, policies.timing(ob.district_id, policy)))
    return out


def is_due(ob: Obligation, timing: Timing, now: datetime, config: NudgeConfig) -> bool:
    return timing.enabled and timing.nudge_at(ob.moment) <= now < ob.moment + config.give_up_after


class Sweep:
    def __init__(
        self,
        session: AsyncSession,
        ctx: ServiceContext,
        config: NudgeConfig = DEFAULT_CONFIG,
        fallback_admins: Collection[int] = (),
        last_run: datetime | None = None,
    ) -> None:
        self.session = session
        self.last_run = last_run
        self.fallback_admins = sorted(fallback_admins)
        self.ctx = ctx
        self.config = config
        self.repo = NudgeRepository(session)
        self.src = NudgeSources(session)
        self.result = SweepResult()
        self.policies = Policies(config=config)

    async def run(self) -> SweepResult:
        now = self.ctx.now()
        policies = await load_policies(self.session, self.config)
        self.policies = policies
        stopped = now - self.last_run if self.last_run is not None else timedelta(0)
        listed = await open_obligations(self.session, self.ctx, policies, stopped=stopped)
        self.result.obligations = len(listed)
        await self._close_gone({ob.key for ob, _ in listed}, now)
        due = [(ob, t) for ob, t in listed if is_due(ob, t, now, self.config)]
        self.result.due = len(due)
        if due:
            await self._decide(due, policies, now)
        return self.result

    # Tracks no longer listed -----------------------------------------------------------------

    async def _close_gone(self, listed: set[str], now: datetime) -> None:
        tracks = await self.repo.open_tracks()
        expired = [t for t in tracks if now >= t.since + self.config.give_up_after]
        gone = [t for t in tracks if t.key not in listed and t not in expired]
        found = await statuses(self.session, [t.key for t in gone], now, self.ctx.tz)
        met = [t.id for t in gone if found[t.key] is Status.MET]
        lapsed = [t.id for t in gone if found[t.key] is Status.LAPSED] + [t.id for t in expired]
        await self.repo.end_tracks(met, TrackEnd.MET, now)
        await self.repo.end_tracks(lapsed, TrackEnd.LAPSED, now)
        self.result.met, self.result.lapsed = len(met), len(lapsed)

    # Deciding --------------------------------------------------------------------------------

    async def _decide(
        self, due: list[tuple[Obligation, Timing]], policies: Policies, now: datetime
    ) -> None:
        tracks = await self.repo.tracks_by_keys(ob.key for ob, _ in due)
        events = await self.repo.events_of(t.id for t in tracks.values())
        by_track: dict[int, list[NudgeEvent]] = defaultdict(list)
        for e in events:
            by_track[e.track_id].append(e)
        optouts = await self.repo.optouts()
        chats = {o.chat_id for ob, _ in due for o in ob.owners if o.chat_id}
        reachable = await self.src.reachable(chats)
        nudges: dict[int, list[msg.NudgeItem]] = defaultdict(list)
        escalating: list[tuple[Obligation, EscalationReason]] = []
        for ob, timing in due:
            track = tracks.get(ob.key)
            if track is not None and track.ended_at is not None:
                continue
            mine = by_track.get(track.id, []) if track is not None else []
            if not may_send(now, policies.waking(ob.district_id), ob.urgent, self.ctx.tz):
                self.result.waiting += 1
                continue
            able = []
            for owner in ob.owners:
                chat = owner.chat_id
                if chat is None or (chat > 0 and chat not in reachable):
                    continue
                if (ob.district_id, chat) not in optouts:
                    able.append(chat)
            switched_off = bool(ob.owners) and all(
                o.chat_id is not None and (ob.district_id, o.chat_id) in optouts for o in ob.owners
            )
            escalated = track is not None and track.escalated_at is not None
            reason = self._escalation(ob, timing, track, bool(able), switched_off, now)
            if reason is not None and not escalated:
                escalating.append((ob, reason))
                continue
            if escalated:
                continue
            for chat in able:
                step = self._next_step([e for e in mine if e.chat_id == chat], now)
                if step is not None:
                    nudges[chat].append(msg.NudgeItem(ob, step))
        if nudges or escalating:
            await self._write(nudges, escalating, tracks, by_track, now)

    def _escalation(
        self,
        ob: Obligation,
        timing: Timing,
        track: NudgeTrack | None,
        anyone: bool,
        switched_off: bool,
        now: datetime,
    ) -> EscalationReason | None:
        at = timing.escalate_at(ob.moment)
        if at is not None and track is not None and track.snoozed_until is not None:
            at = max(at, track.snoozed_until)
        if at is not None and now >= at:
            return EscalationReason.IGNORED
        if not anyone and not switched_off:
            return EscalationReason.UNREACHABLE
        return None

    def _next_step(self, events: list[NudgeEvent], now: datetime) -> NudgeStep | None:
        sent = [e for e in events if e.step in NUDGE_STEPS]
        if not sent:
            return NudgeStep.NUDGE1
        if len(sent) > 1:
            return None
        ready = sent[0].at + self.config.repeat_after
        snoozes = [e.at + self.config.snooze_for for e in events if e.step in SNOOZE_STEPS]
        if now >= max([ready, *snoozes]):
            return NudgeStep.NUDGE2
        return None

    # Writing ---------------------------------------------------------------------------------
    # In a few round trips whatever the count (a sweep after a long stop writes hundreds):
    # the new tracks in one flush, every message's events in one, the outbox rows in one
    # statement, and the events' message ids in a last flush.

    async def _write(
        self,
        nudges: dict[int, list[msg.NudgeItem]],
        escalating: list[tuple[Obligation, EscalationReason]],
        tracks: dict[str, NudgeTrack],
        by_track: dict[int, list[NudgeEvent]],
        now: datetime,
    ) -> None:
        acted = [i.obligation for items in nudges.values() for i in items]
        await self._tracks([*acted, *(ob for ob, _ in escalating)], tracks, now)
        targets = await self._targets([ob for ob, _ in escalating])
        esc: dict[int, list[msg.EscalationItem]] = defaultdict(list)
        for ob, reason in escalating:
            track = tracks[ob.key]
            track.escalated_at = now
            sent = sum(
                1
                for e in by_track.get(track.id, [])
                if e.step in NUDGE_STEPS and not e.withdrawn_at
            )
            owners = ", ".join(dict.fromkeys(o.name for o in ob.owners if o.name))
            for chat in targets.get(ob.key) or [0]:
                why = reason if chat else EscalationReason.NO_TARGET
                esc[chat].append(msg.EscalationItem(ob, why, sent, owners))
        messages: list[tuple[int, list[msg.NudgeItem] | list[msg.EscalationItem]]] = []
        for chat, items in sorted(nudges.items()):
            items.sort(key=lambda i: (i.obligation.kind, i.obligation.moment))
            for start in range(0, len(items), msg.PER_MESSAGE):
                messages.append((chat, items[start : start + msg.PER_MESSAGE]))
        for chat, esc_items in sorted(esc.items()):
            for start in range(0, len(esc_items), msg.PER_MESSAGE):
                messages.append((chat, esc_items[start : start + msg.PER_MESSAGE]))
        events = [
            [self._event(tracks, item, chat, now) for item in items] for chat, items in messages
        ]
        await self.repo.add_events([e for batch in events for e in batch])
        self.result.events += sum(len(batch) for batch in events)
        locales = await self._locales([chat for chat, _ in messages])
        outgoing: list[tuple[OutboxMessage, list[NudgeEvent], bool]] = []
        for (chat, part), batch in zip(messages, events, strict=True):
            for e in batch:
                e.batch_id = batch[0].id
            if chat == 0:  # nobody above to tell: recorded, so the committee's figures show it
                continue
            outgoing.append(self._message(chat, locales[chat], part, batch))
        added = await enqueue_many(self.session, [m for m, _, _ in outgoing], clock=self.ctx.clock)
        for message, batch, is_nudge in outgoing:
            outbox_id = added.get(message.dedupe_key or "")
            for e in batch:
                e.outbox_id = outbox_id
            if outbox_id is not None:
                self.result.nudges += is_nudge
                self.result.escalations += not is_nudge
        await self.session.flush()

    async def _tracks(
        self, obligations: list[Obligation], tracks: dict[str, NudgeTrack], now: datetime
    ) -> None:
        new = {}
        for ob in obligations:
            if ob.key not in tracks and ob.key not in new:
                new[ob.key] = NudgeTrack(
                    key=ob.key,
                    kind=ob.kind,
                    district_id=ob.district_id,
                    unit_id=ob.unit_id,
                    branch_id=ob.branch_id,
                    since=ob.moment,
                    started_at=now,
                )
        if new:
            await self.repo.add_tracks(list(new.values()))
            tracks.update(new)

    def _event(
        self,
        tracks: dict[str, NudgeTrack],
        item: msg.NudgeItem | msg.EscalationItem,
        chat: int,
        now: datetime,
    ) -> NudgeEvent:
        ob = item.obligation
        if isinstance(item, msg.EscalationItem):
            step, reason = NudgeStep.ESCALATION, item.reason
        else:
            step, reason = item.step, None
        return NudgeEvent(
            track_id=tracks[ob.key].id,
            key=ob.key,
            kind=ob.kind,
            district_id=ob.district_id,
            unit_id=ob.unit_id,
            chat_id=chat,
            step=step,
            reason=reason,
            at=now,
        )

    def _message(
        self,
        chat: int,
        locale: str,
        items: list[msg.NudgeItem] | list[msg.EscalationItem],
        events: list[NudgeEvent],
    ) -> tuple[OutboxMessage, list[NudgeEvent], bool]:
        """The message of one batch of events, and whether it is a nudge (else escalation)."""
        i18n = self.ctx.i18n
        nudges = [i for i in items if isinstance(i, msg.NudgeItem)]
        if nudges:
            text = msg.nudge_text(i18n, locale, nudges)
            markup = msg.nudge_markup(i18n, locale, nudges, events[0].id)
        else:
            escalations = [i for i in items if isinstance(i, msg.EscalationItem)]
            text, markup = msg.escalation_text(i18n, locale, escalations, self.ctx.tz), None
        digest = hashlib.sha1(
            "|".join(sorted(f"{e.key}/{e.step}" for e in events)).encode()
        ).hexdigest()[:20]
        start, end = self.policies.waking(items[0].obligation.district_id)
        message = OutboxMessage(
            chat_id=chat,
            kind=OutboxKind.NUDGE,
            waking=Waking(start, end, self.ctx.tz),
            text=text,
            reply_markup=markup,
            dedupe_key=f"nudge:{chat}:{digest}",
            origin_type=ORIGIN,
            origin_id=events[0].id,
        )
        return message, events, bool(nudges)

    # Who hears of an escalation --------------------------------------------------------------

    async def _targets(self, obligations: list[Obligation]) -> dict[str, list[int]]:
        """obligation key -> the chats one level up: the group's leader in private (when
        reachable and not the one who owes it); else the unit's committee: its chat, else its
        own admins in private; else the district's admins in private, else the bootstrap
        admins (never those who owe it); none: nobody to tell."""
        if not obligations:
            return {}
        leaders = {o.escalate_to.leader.chat_id for o in obligations if o.escalate_to.leader}
        units = {o.escalate_to.unit_id for o in obligations if o.escalate_to.unit_id}
        unit_chats = await self.src.target_chats(TargetType.UNIT, units)
        unit_admins = await self.src.unit_admins(units - set(unit_chats))
        admins = await self.src.district_admins({o.district_id for o in obligations})
        everyone = (
            {c for c in leaders if c}
            | {a for ts in [*admins.values(), *unit_admins.values()] for a in ts}
            | set(self.fallback_admins)
        )
        ok = await self.src.reachable(everyone)
        out: dict[str, list[int]] = {}
        for ob in obligations:
            owners = {o.chat_id for o in ob.owners}
            leader = ob.escalate_to.leader
            unit = ob.escalate_to.unit_id
            own = [a for a in unit_admins.get(unit or 0, []) if a in ok and a not in owners]
            if leader is not None and leader.chat_id in ok and leader.chat_id not in owners:
                out[ob.key] = [leader.chat_id]
            elif unit is not None and unit in unit_chats:
                out[ob.key] = [unit_chats[unit]]
            elif own:
                out[ob.key] = own
            else:
                # No stored committee admin who can be told: the bootstrap admins (ADMIN_IDS),
                # as every other admin notice does, so an escalation always reaches someone.
                district = [a for a in admins.get(ob.district_id, []) if a in ok]
                out[ob.key] = [
                    a for a in district or self.fallback_admins if a in ok and a not in owners
                ]
        return out

    async def _locales(self, chats: list[int]) -> dict[int, str]:
        default = self.ctx.default_locale
        langs = await RecipientRepository(self.session).languages(c for c in chats if c > 0)
        return {c: pick_locale(*langs[c], default) if c in langs else default for c in chats}


async def sweep(
    session: AsyncSession,
    ctx: ServiceContext,
    config: NudgeConfig = DEFAULT_CONFIG,
    *,
    fallback_admins: Collection[int] = (),
    last_run: datetime | None = None,
) -> SweepResult:
    """One sweep in the caller's transaction; `fallback_admins`: ADMIN_IDS, told of an
    escalation in a district with no stored committee admin; `last_run`: when the previous
    sweep succeeded (a stop since then widens the window by as much)."""
    return await Sweep(session, ctx, config, fallback_admins, last_run).run()
