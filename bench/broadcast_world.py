"""The broadcast bench's world, both halves.

The database half (`build_template`): a generated city imported once into an SQLite file that
each run copies. Its branches are gathered under the first district (a city committee sending
to every branch of the city: one broadcast, one progress message), every branch's group chat
is bound (or the first `chats` of them), a committee admin is stored, and `people` members of
one bound village branch get Telegram accounts: they are the people who keep using the bot.

The Telegram half (`serve`): the sandbox in its own OS process, as Telegram would be, with a
group per bound chat (the bot in each), the admin and the people, the flood limits on (and 1%
of requests answered 429 for the fault run). Two endpoints of its own: `/bench/act` makes a
person act (a /start, or a tap on the meeting announcement) and notes when, by the sandbox's
clock; `/bench/report` tallies what the bot did: each chat's copies, the 429s and to whom, the
violations, the last copy's time, and each person's wait for their answer.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update

from bot.services.org_import import apply_org, load_and_validate
from sandbox.server import create_app
from sandbox.state import BotWorld, Sandbox
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head
from storage.models import Branch, ChatBinding, CommitteeAdmin, Member, TelegramUser, Unit

ADMIN_TG = 990_000_001
PEOPLE_BASE = 960_000_000
CHAT_BASE = -1_002_000_000_000  # a branch's chat: CHAT_BASE - branch id
ACK_PREFIX = "bca:"  # the Đã nhận button's callback data: marks a broadcast copy


@dataclass
class Plan:
    """What both processes must agree on (written as JSON for the sandbox process)."""

    chats: list[int]
    people: list[int]
    people_chat: int
    people_branch: int
    district: int
    admin: int = ADMIN_TG
    rate: float = 30.0
    faults: bool = False

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls(**json.loads(path.read_text()))


# The database half -----------------------------------------------------------------------------


async def build_template(folder: Path, db_path: Path, chats: int | None, people: int) -> Plan:
    """Import `folder`, gather it under one district, bind the chats, store the admin and
    give `people` members of one bound village branch Telegram accounts."""
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        await upgrade_to_head(engine)
        factory = create_session_factory(engine)
        data, errors = load_and_validate(folder)
        if errors:
            raise SystemExit(f"{folder}: {len(errors)} bad rows, first: {errors[0]}")
        async with factory() as s, s.begin():
            await apply_org(s, data)
        async with factory() as s, s.begin():
            district = await s.scalar(
                select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.code)
            )
            assert district is not None
            await s.execute(update(Branch).values(district_id=district))
            await s.execute(update(Unit).where(Unit.id != district).values(district_id=district))
            branches = list(
                await s.scalars(select(Branch).where(Branch.active).order_by(Branch.id))
            )
            bound = branches if chats is None else branches[:chats]
            s.add_all(
                ChatBinding(
                    chat_id=CHAT_BASE - b.id,
                    chat_title=b.name,
                    target_type="branch",
                    target_id=b.id,
                    district_id=district,
                )
                for b in bound
            )
            s.add(CommitteeAdmin(district_id=district, telegram_id=ADMIN_TG))
            s.add(TelegramUser(id=ADMIN_TG, first_name="Văn phòng", telegram_language="vi"))
            sizes = dict(
                (
                    await s.execute(
                        select(Member.branch_id, func.count())
                        .where(Member.active)
                        .group_by(Member.branch_id)
                    )
                ).all()
            )
            village = max(
                (b for b in bound if b.kind == "village"), key=lambda b: sizes.get(b.id, 0)
            )
            members = list(
                await s.scalars(
                    select(Member)
                    .where(Member.branch_id == village.id, Member.active)
                    .order_by(Member.role.desc(), Member.id)  # the secretary first
                    .limit(people)
                )
            )
            ids = []
            for i, m in enumerate(members):
                m.telegram_id = PEOPLE_BASE + i
                ids.append(m.telegram_id)
                s.add(TelegramUser(id=m.telegram_id, first_name=f"P{i}", telegram_language="vi"))
        return Plan(
            chats=[CHAT_BASE - b.id for b in bound],
            people=ids,
            people_chat=CHAT_BASE - village.id,
            people_branch=village.id,
            district=district,
        )
    finally:
        await engine.dispose()


# The Telegram half ---------------------------------------------------------------------------


class Bench:
    """The sandbox world of a run and the people's actions, by the sandbox's clock."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sandbox = Sandbox(seed=17)
        self.world: BotWorld = self.sandbox.world()
        self.acts: list[dict[str, Any]] = []
        world = self.world
        world.add_user(plan.admin, "Văn phòng", "vi", started=True)
        for i, uid in enumerate(plan.people):
            world.add_user(uid, f"P{i}", "vi", started=True)
        people = dict.fromkeys(plan.people, "member")
        for chat in plan.chats:
            members = people if chat == plan.people_chat else {}
            world.create_group(chat, f"Chi bộ {-chat}", members, bot_status="member")
        world.set_flood(True, global_per_sec=plan.rate, per_chat_per_sec=1, per_group_per_min=20)
        if plan.faults:
            world.add_fault("retry_after", probability=0.01, retry_after=1)

    async def act(self, request: web.Request) -> web.Response:
        body = await request.json()
        user, kind = int(body["user"]), body["kind"]
        at = self.world.clock()
        if kind == "start":
            ref = self.world.send_text(user, "/start")["message"]["message_id"]
        else:
            ref = self.world.press_button(
                user, int(body["message_id"]), self.plan.people_chat, body["data"]
            )
        self.acts.append({"user": user, "kind": kind, "at": at, "ref": ref})
        return web.json_response({"ok": True})

    async def report(self, _request: web.Request) -> web.Response:
        return web.json_response(self.tally())

    async def unanswered(self, _request: web.Request) -> web.Response:
        """How many of the people's actions still wait for the bot's answer."""
        by_chat = self._sent_by_chat()
        waiting = sum(1 for a in self.acts if self._answered_at(a, by_chat) is None)
        return web.json_response({"unanswered": waiting})

    def _sent_by_chat(self) -> dict[int, list[float]]:
        by_chat: dict[int, list[float]] = {}
        for e in self.world.sent_log():
            by_chat.setdefault(e["chat_id"], []).append(e["at"])
        return by_chat

    def _answered_at(self, act: dict[str, Any], by_chat: dict[int, list[float]]) -> float | None:
        """When the bot answered an action, by the sandbox's clock: the first message to the
        person after their /start, or the answer to their tap."""
        if act["kind"] == "start":
            later = [t for t in by_chat.get(act["user"], []) if t >= act["at"]]
            return min(later) if later else None
        answer = self.world.callback_answer(act["ref"])
        return answer["at"] if answer else None

    def tally(self) -> dict[str, Any]:
        world, plan = self.world, self.plan
        copies: Counter[int] = Counter()
        for chat in plan.chats:
            for msg in world.bot_messages(chat):
                rows = msg.get("reply_markup", {}).get("inline_keyboard", [])
                if any(b.get("callback_data", "").startswith(ACK_PREFIX) for r in rows for b in r):
                    copies[chat] += 1
        offset = time.time() - world.clock()  # the sandbox's clock -> wall time
        sent = world.sent_log()
        group_copies = [
            e for e in sent if e["method"].startswith("copyMessage") and e["chat_id"] in copies
        ]
        by_chat = self._sent_by_chat()
        waits = []
        for a in self.acts:
            done = self._answered_at(a, by_chat)
            waits.append(None if done is None else (done - a["at"]) * 1000)
            a["wait"] = waits[-1]
            a["wall"] = a["at"] + time.time() - world.clock()
        limits = world.rate_limit_log()
        direct = {plan.admin, plan.people_chat, *plan.people}
        issued = limits["issued"]

        def is_direct(e: dict[str, Any]) -> bool:  # not the outbox's copies: answers, edits
            return e["chat_id"] in direct and not e["method"].startswith("copyMessage")

        return {
            "delivered": len(copies),
            "duplicates": sum(n - 1 for n in copies.values()),
            "last_copy": max((e["time"] for e in group_copies), default=0.0),
            "first_copy": min((e["time"] for e in group_copies), default=0.0),
            "429s": len(issued),
            "429s_direct": sum(1 for e in issued if is_direct(e)),
            "floor": max((e["at"] + e["retry_after"] + offset for e in issued), default=0.0),
            "violations": len(limits["violations"]),
            "waits_ms": waits,
            "slowest": sorted(
                ({k: a[k] for k in ("kind", "wait", "wall")} for a in self.acts if a["wait"]),
                key=lambda a: -a["wait"],
            )[:8],
            "acts": Counter(a["kind"] for a in self.acts),
            "direct_counted": sum(1 for e in sent if is_direct(e)),
        }


async def serve(plan_path: Path) -> None:
    """The sandbox process: build the world, print the port, serve until stdin closes."""
    bench = Bench(Plan.load(plan_path))
    app = create_app(bench.sandbox)
    app.router.add_post("/bench/act", bench.act)
    app.router.add_get("/bench/report", bench.report)
    app.router.add_get("/bench/unanswered", bench.unanswered)
    runner = web.AppRunner(app, shutdown_timeout=2.0, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    gc.collect()
    gc.freeze()  # Telegram does not pause to collect an 8,000-chat world
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()
