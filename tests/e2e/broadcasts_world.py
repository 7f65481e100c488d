"""The broadcast tests' world: dan-phuong (cloned from the rosters' template) with its branch
groups on Telegram, the sandbox's flood limits on (30/s overall, 1/s per chat, 20/min per group,
the bot's own limits the same).

Every branch's group is bound and has the bot in it, except every 40th one (never linked) and
another every 40th (the bot was removed: its binding is inactive, reason `bot_kicked`). Each
bound group holds the branch's secretary (the group's creator), its deputy and one plain member;
every fifteenth secretary never opened a private chat with the bot. A committee admin of the
district, a commune admin of the second commune and a plain member who is nobody's admin act
in private. The clock (time-machine, ticking) starts on a Monday morning.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select

from bot.scheduler import JobContext
from bot.services.context import ServiceContext
from storage.models import (
    Branch,
    Broadcast,
    BroadcastRecipient,
    ChatBinding,
    CommitteeAdmin,
    Member,
    TelegramUser,
    Unit,
)
from storage.models.outbox import OutboxEntry
from tests.e2e.harness import PRODUCTION_PACE, TEST_PACE, BotEnv, running_bot
from tests.helpers import buttons, local

START = local(2026, 11, 30, 8, 0)  # Monday 08:00
ADMIN, COMMUNE_ADMIN, NOBODY = 980_000_001, 980_000_002, 980_000_003
TG_BASE = 8_600_000  # a member's Telegram id when the data has none: TG_BASE + member id
CHAT_BASE = -1_003_000_000  # branch b's group: CHAT_BASE - b
PDF = b"%PDF-1.4\n% Ke hoach\n"
Msg = dict[str, Any]


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@dataclass(frozen=True)
class BranchInfo:
    id: int
    code: str
    name: str
    unit_id: int
    kind: str
    chat: int | None  # None: never linked
    removed: bool  # linked once, the bot removed since
    secretary: int  # Telegram ids
    deputy: int | None
    member: int
    private_ok: bool  # the secretary opened a private chat with the bot

    @property
    def live(self) -> bool:
        return self.chat is not None and not self.removed


@dataclass
class BroadcastWorld:
    env: BotEnv
    clock: Any
    district: int
    units: list[tuple[int, str, str]]  # (id, code, name), communes and towns
    branches: list[BranchInfo]

    # Catalogs -------------------------------------------------------------------------------

    def raw(self, key: str, /, **params: Any) -> str:
        text = self.env.app.i18n.t(key, "vi", **params)
        assert text != key, f"no catalog text for {key}"
        return text

    def t(self, key: str, /, **params: Any) -> str:
        return plain(self.raw(key, **params))

    def refused(self, key: str, /, **params: Any) -> str:
        """The alert a refused press shows (clipped like the kit's)."""
        text = plain(self.raw("people.refused", reason=self.raw(key, **params)))
        return text if len(text) <= 200 else text[:199] + "…"

    def refusal(self, key: str, /, **params: Any) -> str:
        """The reply a refused message gets."""
        return self.t("people.refused", reason=self.raw(key, **params))

    # Who and where --------------------------------------------------------------------------

    @property
    def live(self) -> list[BranchInfo]:
        return [b for b in self.branches if b.live]

    def in_unit(self, unit_id: int) -> list[BranchInfo]:
        return [b for b in self.branches if b.unit_id == unit_id]

    @property
    def jobs(self) -> JobContext:
        component = next(c for c in self.env.app.components if c.name == "scheduler-jobs")
        return component.ctx  # type: ignore[attr-defined, no-any-return]

    @property
    def ctx(self) -> ServiceContext:
        return self.jobs.services

    # Acting -----------------------------------------------------------------------------------

    async def tap(self, who: int, msg: Msg, data: str, *, strict: bool = True) -> dict[str, Any]:
        """Press a button and wait until the update is handled."""
        answer = await self.env.press(who, msg, data, strict=strict)
        await self.env.settle()
        return answer

    def now(self, msg: Msg) -> Msg:
        """The message as it reads now (screens are edited in place)."""
        chat = msg["chat"]["id"]
        found = [
            m for m in self.env.world.bot_messages(chat) if m["message_id"] == msg["message_id"]
        ]
        assert found, msg
        return found[0]

    def button(self, msg: Msg, label: str) -> str:
        """The callback data of the button whose text contains `label`."""
        found = [b["callback_data"] for b in buttons(self.now(msg)) if label in b["text"]]
        assert len(found) == 1, (label, [b["text"] for b in buttons(self.now(msg))])
        return str(found[0])

    async def start(self, who: int, send: Callable[[], Any], *, args: str = "") -> Msg:
        """/broadcast, then the message (`send` makes the person send it): the audience panel."""
        ask = await self.env.ask(who, f"/broadcast {args}".strip())
        assert ask["text"] == self.t("bcui.ask_message"), ask["text"]
        after = self.env.last_bot_id(who)
        send()
        head = self.t("bcui.audience.title").split("\n")[0]
        return await self.env.world.wait_for_bot_message(
            who, predicate=lambda m: (m.get("text") or "").startswith(head), after=after
        )

    async def preview(self, who: int, panel: Msg) -> Msg:
        """From the options screen: Xem trước; the summary message (with Gửi)."""
        after = self.env.last_bot_id(who)
        await self.tap(who, panel, self.button(panel, self.t("bcui.button.preview")))
        send = self.t("bcui.button.send")

        def summary(m: Msg) -> bool:
            return any(b["text"] == send for b in buttons(m))

        return await self.env.world.wait_for_bot_message(who, summary, after=after)

    async def wait(self, check: Callable[[], Any], timeout: float = 30.0) -> Any:  # noqa: ASYNC109
        """Until `check()` is truthy (re-checked on every change in the sandbox)."""
        return await self.env.world.wait_for(check, timeout=timeout)

    # Reading the database -------------------------------------------------------------------

    async def outbox_left(self) -> int:
        """Rows due and not done (a scheduled broadcast's copies wait for their time)."""
        async with self.env.app.session_factory() as s:
            query = select(func.count()).where(
                OutboxEntry.state.in_(["pending", "claimed", "sending"]),
                OutboxEntry.next_attempt_at <= datetime.now(UTC),
            )
            return int(await s.scalar(query) or 0)

    async def delivered(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Every update handled and the outbox drained."""
        loop_until = self.env.world.clock() + timeout
        await self.env.settle()
        while await self.outbox_left():
            if self.env.world.clock() > loop_until:
                raise AssertionError("outbox not drained")
            with contextlib.suppress(TimeoutError):
                await self.env.world.wait_for(lambda: False, timeout=0.1)
        await self.env.settle()

    async def broadcasts(self) -> list[Broadcast]:
        async with self.env.app.session_factory() as s:
            return list(await s.scalars(select(Broadcast).order_by(Broadcast.id)))

    async def recipients(self, broadcast_id: int) -> list[BroadcastRecipient]:
        async with self.env.app.session_factory() as s:
            query = select(BroadcastRecipient).where(
                BroadcastRecipient.broadcast_id == broadcast_id
            )
            return list(await s.scalars(query.order_by(BroadcastRecipient.id)))

    async def mirrored(self, broadcast_id: int, timeout: float = 20.0) -> list[BroadcastRecipient]:  # noqa: ASYNC109
        """The recipients once every outcome is mirrored from the outbox (the progress job
        does that every few seconds)."""
        until = self.env.world.clock() + timeout
        while True:
            rows = await self.recipients(broadcast_id)
            if all(r.state != "pending" for r in rows):
                return rows
            if self.env.world.clock() > until:
                raise AssertionError("outcomes not mirrored")
            with contextlib.suppress(TimeoutError):
                await self.env.world.wait_for(lambda: False, timeout=0.2)

    async def snapshot(self) -> dict[str, Any]:
        """Every broadcast, recipient and outbox row: what a refused request leaves alone."""
        await self.env.settle()
        async with self.env.app.session_factory() as s:
            bcs = [
                (
                    b.id,
                    b.status,
                    b.version,
                    b.audience,
                    b.ack_required,
                    b.ack_deadline,
                    b.pin,
                    b.send_at,
                )
                for b in await s.scalars(select(Broadcast).order_by(Broadcast.id))
            ]
            recs = [
                (r.id, r.chat_id, r.state, r.ack_at, r.ack_by)
                for r in await s.scalars(select(BroadcastRecipient).order_by(BroadcastRecipient.id))
            ]
            outbox = int(await s.scalar(select(func.count()).select_from(OutboxEntry)) or 0)
        return {"broadcasts": bcs, "recipients": recs, "outbox": outbox}

    def copies(self, chat: int, broadcast_id: int, text: str | None = None) -> list[Msg]:
        """The copies of a broadcast in a chat: the messages with its Đã nhận button that
        reply to nothing (its reminder replies to the copy); without the button (none asked),
        the messages reading `text`."""
        marker = f"bca:{broadcast_id}"
        return [
            m
            for m in self.env.world.bot_messages(chat)
            if "reply_to_message" not in m
            and (
                any(str(b.get("callback_data", "")) == marker for b in buttons(m))
                if text is None
                else text in (m.get("text"), m.get("caption"))
            )
        ]


async def _populate(env: BotEnv, *, paced: bool = True) -> BroadcastWorld:
    app, world = env.app, env.world
    async with app.session_factory() as s, s.begin():
        district = await s.scalar(select(Unit.id).where(Unit.kind == "district_committee"))
        assert district is not None
        units = [
            (u.id, u.code, u.name)
            for u in await s.scalars(
                select(Unit).where(Unit.id != district, Unit.active).order_by(Unit.code)
            )
        ]
        branches = list(await s.scalars(select(Branch).where(Branch.active).order_by(Branch.code)))
        members = list(await s.scalars(select(Member).where(Member.active).order_by(Member.code)))
        by_branch: dict[int, list[Member]] = {}
        for m in members:
            by_branch.setdefault(m.branch_id, []).append(m)
        known = set(await s.scalars(select(TelegramUser.id)))
        infos = []
        for i, b in enumerate(branches):
            people = by_branch[b.id]

            def account(m: Member, *, private: bool = True) -> int:
                if m.telegram_id is None:
                    m.telegram_id = TG_BASE + m.id
                if private and m.telegram_id not in known:
                    known.add(m.telegram_id)
                    s.add(TelegramUser(id=m.telegram_id, first_name=m.full_name.split()[-1]))
                return m.telegram_id

            sec = next(m for m in people if m.role == "secretary")
            dep = next((m for m in people if m.role == "deputy_secretary"), None)
            plain_member = next(m for m in people if m.role == "member")
            private_ok = i % 15 != 4
            chat = None if i % 40 == 7 else CHAT_BASE - b.id
            removed = i % 40 == 23
            if chat is not None:
                s.add(
                    ChatBinding(
                        chat_id=chat,
                        chat_title=b.name,
                        target_type="branch",
                        target_id=b.id,
                        district_id=district,
                        active=not removed,
                        unbound_at=START - timedelta(days=3) if removed else None,
                        unbound_reason="bot_kicked" if removed else None,
                    )
                )
            infos.append(
                BranchInfo(
                    b.id,
                    b.code,
                    b.name,
                    b.unit_id,
                    b.kind,
                    chat,
                    removed,
                    account(sec, private=private_ok),
                    account(dep) if dep is not None else None,
                    account(plain_member),
                    private_ok,
                )
            )
        commune = units[1][0]
        s.add(CommitteeAdmin(district_id=district, telegram_id=ADMIN))
        s.add(CommitteeAdmin(district_id=district, unit_id=commune, telegram_id=COMMUNE_ADMIN))
        for uid, name in ((ADMIN, "Văn phòng"), (COMMUNE_ADMIN, "Xã"), (NOBODY, "Ai")):
            s.add(TelegramUser(id=uid, first_name=name))
        # Nobody's admin, but a member the bot knows.
        taken = {b.member for b in infos}
        nobody = next(
            m
            for m in reversed(members)
            if m.role == "member" and m.telegram_id not in taken and m.telegram_id is None
        )
        nobody.telegram_id = NOBODY
    for uid, name in ((ADMIN, "Văn phòng"), (COMMUNE_ADMIN, "Xã"), (NOBODY, "Ai")):
        env.user(uid, name, "vi", started=True)
    for b in infos:
        env.user(b.secretary, "Bí thư", "vi", started=b.private_ok)
        if b.deputy is not None:
            env.user(b.deputy, "Phó", "vi", started=True)
        env.user(b.member, "Viên", "vi", started=True)
        if b.chat is None:
            continue
        people = {b.secretary: "creator", b.member: "member"}
        if b.deputy is not None:
            people[b.deputy] = "administrator"
        env.world.create_group(
            b.chat, b.name, people, bot_status="kicked" if b.removed else "administrator"
        )
    if paced:
        world.set_flood(True, global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20)
    return BroadcastWorld(env, None, district, units, infos)


@contextlib.asynccontextmanager
async def broadcast_world(
    database_url: str, *, paced: bool = True
) -> AsyncIterator[BroadcastWorld]:
    """The bot on a clone of dan-phuong, the world above, the clock at `START` (ticking).
    `paced=False`: without Telegram's flood limits (stories that do not test pacing, where
    one answer a second in the person's chat is most of the run time)."""
    traveller = time_machine.travel(START, tick=True)
    clock = traveller.start()
    try:
        pace = PRODUCTION_PACE if paced else TEST_PACE
        async with running_bot(database_url, settings_env=pace) as env:
            from tests.e2e.rosters_world import _started

            await _started(env)
            w = await _populate(env, paced=paced)
            w.clock = clock
            yield w
    finally:
        traveller.stop()
