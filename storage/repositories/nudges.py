"""The nudges feature's own rows: district settings, people switched off, the tracks of the
obligations the engine acted on and their events.

Takes a session, never commits: the caller's unit of work owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import NudgeEvent, NudgeOptout, NudgeSetting, NudgeTrack
from storage.repositories.nudge_sources import chunks


class NudgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Settings and opt-outs -------------------------------------------------------------------

    async def settings(self, district_id: int | None = None) -> list[NudgeSetting]:
        stmt = select(NudgeSetting)
        if district_id is not None:
            stmt = stmt.where(NudgeSetting.district_id == district_id)
        return list(await self.session.scalars(stmt))

    async def setting(self, district_id: int, policy: str) -> NudgeSetting | None:
        return await self.session.get(NudgeSetting, (district_id, policy))

    async def optouts(self, district_id: int | None = None) -> set[tuple[int, int]]:
        """(district, telegram id) of the people switched off."""
        stmt = select(NudgeOptout.district_id, NudgeOptout.telegram_id)
        if district_id is not None:
            stmt = stmt.where(NudgeOptout.district_id == district_id)
        return {(d, t) for d, t in (await self.session.execute(stmt)).all()}

    async def set_optout(
        self, district_id: int, telegram_id: int, off: bool, by: int, at: datetime
    ) -> bool:
        """Switch a person off (or on again); True when that changed anything."""
        row = await self.session.get(NudgeOptout, (district_id, telegram_id))
        if off and row is None:
            self.session.add(
                NudgeOptout(district_id=district_id, telegram_id=telegram_id, by=by, at=at)
            )
            await self.session.flush()
            return True
        if not off and row is not None:
            await self.session.execute(
                delete(NudgeOptout).where(
                    NudgeOptout.district_id == district_id, NudgeOptout.telegram_id == telegram_id
                )
            )
            return True
        return False

    # Tracks ----------------------------------------------------------------------------------

    async def open_tracks(self) -> list[NudgeTrack]:
        stmt = select(NudgeTrack).where(NudgeTrack.ended_at.is_(None)).order_by(NudgeTrack.id)
        return list(await self.session.scalars(stmt))

    async def tracks_by_keys(self, keys: Iterable[str]) -> dict[str, NudgeTrack]:
        out: dict[str, NudgeTrack] = {}
        for batch in chunks(set(keys)):
            stmt = select(NudgeTrack).where(NudgeTrack.key.in_(batch))
            out.update({t.key: t for t in await self.session.scalars(stmt)})
        return out

    async def track(self, track_id: int, *, for_update: bool = False) -> NudgeTrack | None:
        stmt = select(NudgeTrack).where(NudgeTrack.id == track_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def add_tracks(self, tracks: Sequence[NudgeTrack]) -> None:
        self.session.add_all(tracks)
        await self.session.flush()

    async def end_tracks(self, ids: Sequence[int], end: str, at: datetime) -> None:
        for batch in chunks(ids):
            await self.session.execute(
                update(NudgeTrack)
                .where(NudgeTrack.id.in_(batch), NudgeTrack.ended_at.is_(None))
                .values(ended_at=at, end=end)
                .execution_options(synchronize_session=False)
            )

    # Events ----------------------------------------------------------------------------------

    async def events_of(self, track_ids: Iterable[int]) -> list[NudgeEvent]:
        out: list[NudgeEvent] = []
        for batch in chunks(set(track_ids)):
            stmt = select(NudgeEvent).where(NudgeEvent.track_id.in_(batch))
            out += list(await self.session.scalars(stmt.order_by(NudgeEvent.id)))
        return out

    async def add_events(self, events: Sequence[NudgeEvent]) -> None:
        self.session.add_all(events)
        await self.session.flush()

    async def batch(self, batch_id: int) -> list[NudgeEvent]:
        stmt = select(NudgeEvent).where(NudgeEvent.batch_id == batch_id).order_by(NudgeEvent.id)
        return list(await self.session.scalars(stmt))

    async def events_by_outbox(self, outbox_ids: Iterable[int]) -> list[NudgeEvent]:
        out: list[NudgeEvent] = []
        for batch in chunks(set(outbox_ids)):
            stmt = select(NudgeEvent).where(NudgeEvent.outbox_id.in_(batch))
            out += list(await self.session.scalars(stmt))
        return out

    async def mark_withdrawn(self, outbox_ids: Sequence[int], at: datetime) -> None:
        for batch in chunks(outbox_ids):
            await self.session.execute(
                update(NudgeEvent)
                .where(NudgeEvent.outbox_id.in_(batch))
                .values(withdrawn_at=at)
                .execution_options(synchronize_session=False)
            )

    # Figures ---------------------------------------------------------------------------------

    async def tracks_started(
        self, district_id: int, start: datetime, end: datetime
    ) -> list[NudgeTrack]:
        stmt = select(NudgeTrack).where(
            NudgeTrack.district_id == district_id,
            NudgeTrack.started_at >= start,
            NudgeTrack.started_at < end,
        )
        return list(await self.session.scalars(stmt.order_by(NudgeTrack.id)))

    async def events_between(
        self, district_id: int, start: datetime, end: datetime
    ) -> list[NudgeEvent]:
        stmt = select(NudgeEvent).where(
            NudgeEvent.district_id == district_id, NudgeEvent.at >= start, NudgeEvent.at < end
        )
        return list(await self.session.scalars(stmt.order_by(NudgeEvent.id)))
