"""Outbox rows, their claims and leases, and the chat facts a delivery failure changes.

Claims lock their rows `FOR UPDATE SKIP LOCKED` and update them `RETURNING`: on PostgreSQL
several senders never take the same row, nor (claims being serialised by an advisory lock) rows
of a chat another sender holds; on SQLite the engine's `BEGIN IMMEDIATE` serialises
writers and `FOR UPDATE` renders as nothing, so one process runs the sender there.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.org import ChatBinding
from storage.models.outbox import JobLease, OutboxEntry, OutboxState
from storage.models.users import TelegramUser

OUTBOX: Table = OutboxEntry.__table__
CLAIM_LOCK_KEY = 0x0B0C_1A1D  # pg_advisory_xact_lock key serialising outbox claims


async def _rowcount(session: AsyncSession, stmt: Executable) -> int:
    """Rows an UPDATE touched.

    Session.execute returns a CursorResult for INSERT/UPDATE/DELETE but is typed as returning
    the plain Result (sqlalchemy#9185), hence the cast.
    """
    result = await session.execute(stmt)
    return int(cast("CursorResult[Any]", result).rowcount)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(OutboxEntry)
        return sqlite.insert(OutboxEntry)

    async def insert(self, values: dict[str, Any]) -> int | None:
        """Insert one message; None when a row with the same dedupe key already exists."""
        stmt = (
            self._insert()
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxEntry.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert many messages (each with a dedupe key) as one executemany (SQLAlchemy
        batches it into multi-row INSERTs under each backend's parameter limit, compiling the
        statement once); returns dedupe key -> id of the rows added (existing keys skipped)."""
        if not rows:
            return {}
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(OUTBOX)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OUTBOX.c.dedupe_key, OUTBOX.c.id)
        )
        result = await self.session.execute(stmt, list(rows))
        return {k: i for k, i in result.all()}

    async def get(self, entry_id: int) -> OutboxEntry | None:
        return await self.session.get(OutboxEntry, entry_id)

    async def claim_due(
        self,
        *,
        now: datetime,
        token: str,
        lease_until: datetime,
        limit: int,
        per_chat: int,
        exclude_chats: Collection[int] = (),
    ) -> list[OutboxEntry]:
        """Take up to `limit` due rows (at most `per_chat` per chat), most urgent first."""
        if limit <= 0:
            return []
        if self.session.get_bind().dialect.name == "postgresql":
            # Claims one at a time, so two senders never both take a chat neither held yet.
            await self.session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
        # A chat is served by one sender at a time: its per-chat limits and a retry_after
        # live in that sender's memory, so no other sender may take the chat's rows meanwhile.
        elsewhere = select(OutboxEntry.chat_id).where(
            OutboxEntry.state.in_([OutboxState.CLAIMED, OutboxState.SENDING]),
            OutboxEntry.claim_token != token,
        )
        skip = set(exclude_chats)
        skip.update((await self.session.execute(elsewhere.distinct())).scalars())
        due = [OutboxEntry.state == OutboxState.PENDING, OutboxEntry.next_attempt_at <= now]
        if skip:
            due.append(OutboxEntry.chat_id.notin_(list(skip)))
        # Look at a bounded window of the most urgent rows, then cap each chat's share (in
        # Python: a window function here sorted every pending row on each claim) so one big
        # group backlog cannot fill the sender's memory and starve every other chat.
        candidates = (
            select(OutboxEntry.id, OutboxEntry.chat_id)
            .where(*due)
            .order_by(OutboxEntry.priority, OutboxEntry.next_attempt_at, OutboxEntry.id)
            .limit(limit * 4)
        )
        taken: dict[int, int] = {}
        ids: list[int] = []
        for entry_id, chat_id in (await self.session.execute(candidates)).all():
            if taken.get(chat_id, 0) < per_chat:
                taken[chat_id] = taken.get(chat_id, 0) + 1
                ids.append(entry_id)
                if len(ids) >= limit:
                    break
        if not ids:
            return []
        # Lock by primary key alone and test the state on the locked rows: with any index on
        # `state` in reach, PostgreSQL trusts statistics that are stale right after a big
        # enqueue ("2 pending rows") and scans every pending row once per candidate.
        locked = (
            select(OutboxEntry.id, OutboxEntry.state)
            .where(OutboxEntry.id.in_(ids))
            .with_for_update(skip_locked=True)
            .cte("locked")
        )
        stmt = (
            update(OutboxEntry)
            .where(OutboxEntry.id == locked.c.id, locked.c.state == OutboxState.PENDING)
            .values(state=OutboxState.CLAIMED, claim_token=token, lease_until=lease_until)
            .returning(OutboxEntry)
            .execution_options(synchronize_session=False)
        )
        rows = list((await self.session.scalars(stmt)).all())
        rows.sort(key=lambda r: (r.priority, r.next_attempt_at, r.id))
        return rows

    async def withdraw_claimed(self, reasons: dict[int, str], token: str, now: datetime) -> int:
        """End rows this claim holds as `cancelled` before they leave (a feature's last-moment
        check said they must not go out); each keeps its reason in `error`."""
        return await self._end_claimed(OutboxState.CANCELLED, reasons, token, now)

    async def _end_claimed(
        self, state: OutboxState, reasons: dict[int, str], token: str, now: datetime
    ) -> int:
        """End rows this claim holds in `state`, each with its reason in `error`."""
        ended = {
            entry_id: {
                "state": state,
                "claim_token": None,
                "lease_until": None,
                "finished_at": now,
                "error": reason[:512],
            }
            for entry_id, reason in reasons.items()
        }
        return await self._update_claimed(ended, token)

    async def _update_claimed(self, values: dict[int, dict[str, Any]], token: str) -> int:
        """Set each row's own values, on the rows this claim still holds (one UPDATE a row)."""
        done = 0
        for entry_id, row in values.items():
            stmt = (
                update(OutboxEntry)
                .where(
                    OutboxEntry.id == entry_id,
                    OutboxEntry.claim_token == token,
                    OutboxEntry.state == OutboxState.CLAIMED,
                )
                .values(**row)
                .execution_options(synchronize_session=False)
            )
            done += await _rowcount(self.session, stmt)
        return done

    async def bindings_of_chats(self, chat_ids: Collection[int]) -> list[ChatBinding]:
        """Every binding, past and present, of these group chats."""
        if not chat_ids:
            return []
        stmt = select(ChatBinding).where(ChatBinding.chat_id.in_(list(chat_ids)))
        return list((await self.session.scalars(stmt)).all())

    async def active_chats_of(
        self, targets: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The current chat of each (target type, target id) that has one."""
        if not targets:
            return {}
        wanted = set(targets)
        ids = sorted({i for _t, i in wanted})
        stmt = select(ChatBinding.target_type, ChatBinding.target_id, ChatBinding.chat_id).where(
            ChatBinding.active.is_(True), ChatBinding.target_id.in_(ids)
        )
        out: dict[tuple[str, int], int] = {}
        for target_type, target_id, chat_id in (await self.session.execute(stmt)).all():
            if (str(target_type), target_id) in wanted:
                out[(str(target_type), target_id)] = chat_id
        return out

    async def readdress_claimed(
        self,
        moves: dict[int, int],
        targets: dict[int, tuple[str, int]],
        token: str,
        now: datetime,
    ) -> int:
        """Rows this claim holds go back to `pending`, addressed to their target's current
        chat (a reply or a topic of the former chat means nothing in the new one) and to the
        target itself: that chat's binding began after the row was queued, so only the
        stored target says whom the row is for if it is retried after another relink."""
        readdressed = {
            entry_id: {
                "state": OutboxState.PENDING,
                "chat_id": chat_id,
                "target_type": targets[entry_id][0],
                "target_id": targets[entry_id][1],
                "reply_to_message_id": None,
                "thread_id": None,
                "claim_token": None,
                "lease_until": None,
                "next_attempt_at": now,
            }
            for entry_id, chat_id in moves.items()
        }
        return await self._update_claimed(readdressed, token)

    async def hold_claimed(self, ids: Collection[int], token: str, until: datetime) -> int:
        """Rows this claim holds go back to `pending`, due at `until`, untouched otherwise
        (their address could not be checked: they are claimed again later)."""
        if not ids:
            return 0
        stmt = (
            update(OutboxEntry)
            .where(
                OutboxEntry.id.in_(list(ids)),
                OutboxEntry.claim_token == token,
                OutboxEntry.state == OutboxState.CLAIMED,
            )
            .values(
                state=OutboxState.PENDING,
                claim_token=None,
                lease_until=None,
                next_attempt_at=until,
            )
            .execution_options(synchronize_session=False)
        )
        return await _rowcount(self.session, stmt)

    async def fail_claimed(self, reasons: dict[int, str], token: str, now: datetime) -> int:
        """End rows this claim holds as `failed` with a reason, never sent (their target has
        no chat any more)."""
        return await self._end_claimed(OutboxState.FAILED, reasons, token, now)

    async def mark_sending(self, ids: Sequence[int], token: str, now: datetime) -> set[int]:
        """Record that requests are about to leave; returns the ids this claim still owns."""
        if not ids:
            return set()
        t = OUTBOX
        stmt = (
            update(t)
            .where(
                t.c.id.in_(list(ids)), t.c.claim_token == token, t.c.state == OutboxState.CLAIMED
            )
            .values(
                state=OutboxState.SENDING,
                attempts=t.c.attempts + 1,
                first_attempt_at=func.coalesce(t.c.first_attempt_at, now),
            )
            .returning(t.c.id)
        )
        return set((await self.session.execute(stmt)).scalars().all())

    async def update_owned(self, entry_id: int, token: str, values: dict[str, Any]) -> bool:
        """Write an outcome, only if this claim still owns the row."""
        return entry_id in await self.update_owned_many([(entry_id, values)], token)

    async def update_owned_many(
        self, items: Sequence[tuple[int, dict[str, Any]]], token: str
    ) -> set[int]:
        """Write many outcomes (Core, grouped by columns); returns the ids still owned."""
        if not items:
            return set()
        t = OUTBOX
        ids = [entry_id for entry_id, _v in items]
        owned = set(
            (
                await self.session.execute(
                    select(t.c.id).where(t.c.id.in_(ids), t.c.claim_token == token)
                )
            )
            .scalars()
            .all()
        )
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for entry_id, values in items:
            if entry_id in owned:
                keys = tuple(sorted(values))
                groups.setdefault(keys, []).append(
                    {"b_id": entry_id, **{f"v_{k}": values[k] for k in keys}}
                )
        for keys, params in groups.items():
            stmt = (
                update(t)
                .where(t.c.id == bindparam("b_id"))
                .values({k: bindparam(f"v_{k}", type_=t.c[k].type) for k in keys})
            )
            await self.session.execute(stmt, params)
        return owned

    async def renew_leases(self, token: str, lease_until: datetime) -> int:
        stmt = (
            update(OutboxEntry)
            .where(
                OutboxEntry.claim_token == token,
                OutboxEntry.state.in_([OutboxState.CLAIMED, OutboxState.SENDING]),
            )
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return await _rowcount(self.session, stmt)

    async def release_claimed(self, token: str) -> int:
        """Give back rows held in memory whose request never left (clean shutdown)."""
        stmt = (
            update(OutboxEntry)
            .where(OutboxEntry.claim_token == token, OutboxEntry.state == OutboxState.CLAIMED)
            .values(state=OutboxState.PENDING, claim_token=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return await _rowcount(self.session, stmt)

    async def recover_expired(
        self, now: datetime, no_retry_kinds: Collection[str], token: str | None = None
    ) -> dict[str, int]:
        """Rows whose sender died (lease expired), or all rows of `token` (our own restart).

        claimed -> pending (the request never left: it is simply sent).
        sending -> pending with one more uncertain attempt (at-least-once kinds), or
        maybe_sent (at-most-once kinds): the request may have reached Telegram.
        """
        if token is None:
            lost = and_(OutboxEntry.lease_until.is_not(None), OutboxEntry.lease_until < now)
        else:
            lost = OutboxEntry.claim_token == token
        out: dict[str, int] = {}
        stmt: Any = (
            update(OutboxEntry)
            .where(lost, OutboxEntry.state == OutboxState.CLAIMED)
            .values(state=OutboxState.PENDING, claim_token=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        out["requeued"] = await _rowcount(self.session, stmt)
        in_flight = and_(lost, OutboxEntry.state == OutboxState.SENDING)
        retry = in_flight
        if no_retry_kinds:
            retry = and_(in_flight, OutboxEntry.kind.notin_(list(no_retry_kinds)))
            stmt = (
                update(OutboxEntry)
                .where(in_flight, OutboxEntry.kind.in_(list(no_retry_kinds)))
                .values(
                    state=OutboxState.MAYBE_SENT,
                    claim_token=None,
                    lease_until=None,
                    uncertain_attempts=OutboxEntry.uncertain_attempts + 1,
                    error="in flight when its sender stopped; not retried (at-most-once kind)",
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            out["maybe_sent"] = await _rowcount(self.session, stmt)
        stmt = (
            update(OutboxEntry)
            .where(retry)
            .values(
                state=OutboxState.PENDING,
                claim_token=None,
                lease_until=None,
                next_attempt_at=now,
                uncertain_attempts=OutboxEntry.uncertain_attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        out["resent"] = await _rowcount(self.session, stmt)
        return out

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)
        )
        return {state: int(n) for state, n in rows.all()}

    async def count_uncertain(self) -> int:
        total = await self.session.scalar(select(func.sum(OutboxEntry.uncertain_attempts)))
        return int(total or 0)

    async def oldest_due_pending(self, now: datetime) -> datetime | None:
        return await self.session.scalar(
            select(func.min(OutboxEntry.next_attempt_at)).where(
                OutboxEntry.state.in_(
                    [OutboxState.PENDING, OutboxState.CLAIMED, OutboxState.SENDING]
                ),
                OutboxEntry.next_attempt_at <= now,
            )
        )

    async def requeue_failed(self, now: datetime, since: datetime | None = None) -> int:
        """Failed rows back to pending, with a fresh retry deadline left to the sender."""
        cond = [OutboxEntry.state == OutboxState.FAILED]
        if since is not None:
            cond.append(OutboxEntry.finished_at >= since)
        stmt = (
            update(OutboxEntry)
            .where(*cond)
            .values(
                state=OutboxState.PENDING,
                next_attempt_at=now,
                deadline=None,
                claim_token=None,
                lease_until=None,
                finished_at=None,
                error=None,
                error_code=None,
            )
            .execution_options(synchronize_session=False)
        )
        return await _rowcount(self.session, stmt)

    async def cancel_unsent(
        self,
        origin_type: str,
        origin_id: str,
        now: datetime,
        reason: str = "cancelled",
        *,
        key_prefix: str | None = None,
        key: str | None = None,
    ) -> list[int]:
        """Withdraw an origin's rows that have not left: pending, or claimed (held in a
        sender's memory: clearing the claim makes its `sending` mark fail, so the request
        never leaves). Rows already `sending` may be on the wire and keep their course.
        `key_prefix`: only the rows whose dedupe key starts with it; `key`: only the row with
        exactly this dedupe key."""
        t = OUTBOX
        where = [
            t.c.origin_type == origin_type,
            t.c.origin_id == origin_id,
            t.c.state.in_([OutboxState.PENDING, OutboxState.CLAIMED]),
        ]
        if key_prefix is not None:
            where.append(t.c.dedupe_key.startswith(key_prefix, autoescape=True))
        if key is not None:
            where.append(t.c.dedupe_key == key)
        stmt = (
            update(t)
            .where(*where)
            .values(
                state=OutboxState.CANCELLED,
                claim_token=None,
                lease_until=None,
                finished_at=now,
                error=reason[:512],
            )
            .returning(t.c.id)
        )
        return list((await self.session.execute(stmt)).scalars().all())

    async def requeue(self, ids: Sequence[int], now: datetime) -> list[int]:
        """These failed rows back to pending, due now with a fresh retry window; returns the
        ids requeued (a row that is not `failed` is left alone)."""
        if not ids:
            return []
        t = OUTBOX
        out: list[int] = []
        for start in range(0, len(ids), 5000):
            stmt = (
                update(t)
                .where(t.c.id.in_(list(ids[start : start + 5000])), t.c.state == OutboxState.FAILED)
                .values(
                    state=OutboxState.PENDING,
                    not_before=now,
                    next_attempt_at=now,
                    deadline=None,
                    claim_token=None,
                    lease_until=None,
                    finished_at=None,
                    error=None,
                    error_code=None,
                )
                .returning(t.c.id)
            )
            out += list((await self.session.execute(stmt)).scalars().all())
        return out

    # ---- what a delivery failure tells the owning features ------------------------------
    async def mark_user_unreachable(self, user_id: int) -> None:
        await self.session.execute(
            update(TelegramUser).where(TelegramUser.id == user_id).values(reachable=False)
        )

    async def unbind_chat(self, chat_id: int, reason: str, now: datetime) -> int:
        stmt = (
            update(ChatBinding)
            .where(ChatBinding.chat_id == chat_id, ChatBinding.active.is_(True))
            .values(active=False, unbound_at=now, unbound_reason=reason[:64])
        )
        return await _rowcount(self.session, stmt)

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        """A group became a supergroup: its binding and its waiting messages follow it."""
        n = await _rowcount(
            self.session,
            update(ChatBinding)
            .where(ChatBinding.chat_id == old_chat_id, ChatBinding.active.is_(True))
            .values(chat_id=new_chat_id),
        )
        await self.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.chat_id == old_chat_id,
                or_(
                    OutboxEntry.state == OutboxState.PENDING,
                    OutboxEntry.state == OutboxState.FAILED,
                ),
            )
            .values(chat_id=new_chat_id)
            .execution_options(synchronize_session=False)
        )
        return n


class JobLeaseRepository:
    """Compare-and-set leases so one process runs each periodic job."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def try_acquire(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        dialect = self.session.get_bind().dialect.name
        ins: Any = (postgresql if dialect == "postgresql" else sqlite).insert(JobLease)
        await self.session.execute(
            ins.values(name=name, runs=0).on_conflict_do_nothing(index_elements=["name"])
        )
        stmt = (
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    JobLease.holder.is_(None),
                    JobLease.holder == holder,
                    JobLease.lease_until.is_(None),
                    JobLease.lease_until < now,
                ),
            )
            .values(holder=holder, lease_until=until, last_started_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(await _rowcount(self.session, stmt))

    async def finish(self, name: str, holder: str, now: datetime, error: str | None) -> None:
        values: dict[str, Any] = {
            "last_finished_at": now,
            "last_error": error[:512] if error else None,
            "runs": JobLease.runs + 1,
        }
        if error is None:
            values["last_ok_at"] = now
        await self.session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def release(self, name: str, holder: str) -> None:
        await self.session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(holder=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )

    async def release_all(self, holder: str) -> int:
        """Every lease `holder` has (a clean stop): the next start-up need not wait for them."""
        result = await self.session.execute(
            update(JobLease)
            .where(JobLease.holder == holder)
            .values(holder=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, name: str) -> JobLease | None:
        return await self.session.get(JobLease, name)
