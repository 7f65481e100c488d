"""200 members tapping Có mặt / Vắng mặt on one announcement within 10 s, against the real bot.

The production app (dispatcher, middlewares, outbox sender, scheduler with the live-count job)
polls the sandbox; a branch of N members has its group linked and a meeting announced through
the outbox. Then every member taps one RSVP button, spread evenly over the window. Measured:
every answer recorded (database count), latency from the tap to the bot's answerCallbackQuery
(p50/p95/max), and how many editMessageText calls the announcement got (the coalesced live
count). The baseline in the same run is a bare aiogram bot that only answers the callback.

    python -m bench rsvp [--members 200] [--window 10] [--backend sqlite|postgresql|both]

The clock is fixed (`bench.common.BENCH_AT`); each bot starts fully (its start-up observed)
before the first tap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import func, select

from bench.common import (
    fixed_clock,
    new_pg_database,
    require_postgresql,
    wait_started,
    watch_startup,
)
from bot.app import App, create_app, poll
from bot.clock import SystemClock
from bot.services import meetings as svc
from bot.services.access.policy import load_actor
from bot.services.context import ServiceContext
from bot.settings import load_settings
from sandbox.testing import run_sandbox
from storage.migrate import upgrade_to_head
from storage.models import Branch, ChatBinding, MeetingRsvp, Member, TelegramUser, Unit

TOKEN = "123456:TEST"
GROUP = -100777
FIRST_UID = 50_000
NO_EVERY = 10  # every tenth member answers "Vắng mặt" (the bot then asks the reason in private)
# Caps that only turn a hang into a message: the announcement leaves through the outbox at
# once, every tap's answer is written before it is answered.
ANNOUNCE_CAP = 300
RECORDED_CAP = 120.0


class HandlerTimes(logging.Handler):
    """Collects the bot's own per-update handling time (the `bot.updates` log line's ms) for
    callback queries: what the bot spends, as opposed to waiting its turn."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ms: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 7 and args[1] == "callback_query":
            self.ms.append(float(args[6]))


def _p95(values: list[float]) -> float:
    lat = sorted(values)
    return lat[max(0, int(round(0.95 * len(lat))) - 1)] if lat else float("nan")


@dataclass
class Result:
    label: str
    latencies_ms: list[float]
    recorded: int | None
    edits: int | None
    taps: int
    handler_ms: list[float] | None = None

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        mx = lat[-1] if lat else float("nan")
        rec = "-" if self.recorded is None else f"{self.recorded}/{self.taps}"
        edits = "-" if self.edits is None else str(self.edits)
        inner = "-" if not self.handler_ms else f"{_p95(self.handler_ms):.1f}"
        return (
            f"{self.label:<26}{p50:>8.1f}{_p95(lat):>8.1f}{mx:>8.1f}{rec:>10}{edits:>7}{inner:>14}"
        )


async def _tap_all(
    world: Any, chat_id: int, message_id: int, taps: list[tuple[int, str]], window: float
) -> list[float]:
    """Press each (user, data) at its slot in the window; latency of each callback answer."""
    started = time.monotonic()
    pressed: list[tuple[str, float]] = []
    step = window / max(len(taps), 1)
    for i, (uid, data) in enumerate(taps):
        delay = started + i * step - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        at = time.monotonic()
        pressed.append((world.press_button(uid, message_id, chat_id, data), at))

    def all_answered() -> bool | None:
        return True if all(world.callback_answer(q) for q, _ in pressed) else None

    await world.wait_for(all_answered, timeout=120)
    return [(world.callback_answer(q)["at"] - at) * 1000 for q, at in pressed]


# --- the baseline: aiogram answering callbacks and nothing else ----------------------------


async def bench_bare(members: int, window: float) -> Result:
    async with run_sandbox(port=0, token="111:BARE") as sb:
        world = sb.world("111:BARE")
        uids = [FIRST_UID + i for i in range(members)]
        for uid in uids:
            world.add_user(uid, f"U{uid}", "vi", started=True)
        world.create_group(GROUP, "Bare", dict.fromkeys(uids, "member"), bot_status="member")
        bot = Bot("111:BARE", session=AiohttpSession(api=TelegramAPIServer.from_base(sb.base_url)))
        dp = Dispatcher()

        @dp.callback_query()
        async def on_tap(query: CallbackQuery) -> None:
            await query.answer("OK")

        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text="Có mặt", callback_data="y"),
                    InlineKeyboardButton(text="Vắng mặt", callback_data="n"),
                ]
            ]
        )
        msg = await bot.send_message(GROUP, "Meeting", reply_markup=markup)
        ready = asyncio.Event()

        async def on_startup() -> None:
            ready.set()

        dp.startup.register(on_startup)
        task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=30))
        try:
            await wait_started(ready, task)
            taps = [(uid, "n" if i % NO_EVERY == 0 else "y") for i, uid in enumerate(uids)]
            lat = await _tap_all(world, GROUP, msg.message_id, taps, window)
        finally:
            await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await bot.session.close()
        return Result("bare aiogram (baseline)", lat, None, None, len(uids))


# --- the real bot --------------------------------------------------------------------------------


async def _seed(app: App, members: int) -> tuple[int, list[int]]:
    """One district, one commune, one branch of `members` members, its group linked."""
    async with app.session_factory() as s, s.begin():
        district = Unit(code="B01", name="Huyện ủy Đo", kind="district_committee")
        s.add(district)
        await s.flush()
        district.district_id = district.id
        commune = Unit(code="B01U01", name="Đảng ủy xã Đo", kind="commune", parent_id=district.id)
        commune.district_id = district.id
        s.add(commune)
        await s.flush()
        branch = Branch(
            code="B01U01B01",
            name="Chi bộ thôn Đo",
            unit_id=commune.id,
            district_id=district.id,
            kind="village",
            meeting_day=5,
            meeting_time=dtime(19, 30),
            location="Nhà văn hóa",
        )
        s.add(branch)
        await s.flush()
        uids = [FIRST_UID + i for i in range(members)]
        s.add_all(
            Member(
                code=f"M{i:04d}",
                full_name=f"Đảng viên {i:04d}",
                branch_id=branch.id,
                district_id=district.id,
                role="secretary" if i == 0 else "member",
                status="official",
                telegram_id=uid,
            )
            for i, uid in enumerate(uids)
        )
        # Members who started the bot before (seen, reachable): the steady state.
        s.add_all(
            TelegramUser(id=uid, first_name=f"U{uid}", telegram_language="vi") for uid in uids
        )
        s.add(
            ChatBinding(
                chat_id=GROUP,
                chat_title="Chi bộ thôn Đo",
                target_type="branch",
                target_id=branch.id,
                district_id=district.id,
            )
        )
        return branch.id, uids


async def _announce(app: App, branch_id: int, secretary: int) -> int:
    """Schedule a meeting two days ahead and queue its announcement (sent by the outbox)."""
    clock = SystemClock()
    async with app.session_factory() as s, s.begin():
        actor = await load_actor(s, secretary)
        starts = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
        ctx = ServiceContext(clock, app.i18n, app.settings.default_language, app.settings.tz)
        res = await svc.schedule_meeting(
            s, actor, ctx, branch_id, kind="extraordinary", starts_at=starts, title="Đo tải"
        )  # queues the announcement itself
        return res.meeting.id


async def bench_bot(members: int, window: float, database_url: str, backend: str) -> Result:
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        settings = load_settings(
            {
                "BOT_TOKEN": TOKEN,
                "DATABASE_URL": database_url,
                "TELEGRAM_API_URL": sb.base_url,
                "LOG_LEVEL": "WARNING",
            }
        )
        app = create_app(settings)
        await upgrade_to_head(app.engine)
        branch_id, uids = await _seed(app, members)
        times = HandlerTimes()
        updates_log = logging.getLogger("bot.updates")
        # Collected, not printed; put back afterwards: `python -m bench` runs every benchmark in
        # one process, and the next one (updates) printed a line for each of its 16,000 updates.
        level, propagate = updates_log.level, updates_log.propagate
        updates_log.setLevel(logging.INFO)
        updates_log.propagate = False
        updates_log.addHandler(times)
        for uid in uids:
            world.add_user(uid, f"U{uid}", "vi", started=True)
        world.create_group(
            GROUP, "Chi bộ thôn Đo", dict.fromkeys(uids, "member"), bot_status="member"
        )
        ready = watch_startup(app)
        task = asyncio.create_task(poll(app, handle_signals=False))
        try:
            await wait_started(ready, task)
            meeting_id = await _announce(app, branch_id, uids[0])
            try:
                announcement = await world.wait_for_bot_message(
                    GROUP, lambda m: bool(m.get("reply_markup")), timeout=ANNOUNCE_CAP
                )
            except TimeoutError:
                raise RuntimeError(
                    f"the meeting announcement did not reach the group within {ANNOUNCE_CAP} s"
                ) from None
            buttons = [
                b["callback_data"] for b in announcement["reply_markup"]["inline_keyboard"][0]
            ]
            yes, no = buttons[0], buttons[1]
            taps = [(uid, no if i % NO_EVERY == 0 else yes) for i, uid in enumerate(uids)]
            lat = await _tap_all(world, GROUP, announcement["message_id"], taps, window)
            recorded = await _recorded(app, meeting_id, len(uids))
            # Let the live-count job show the final count (it edits at most every few seconds).
            final = f"{len(uids) - len(uids[::NO_EVERY])}"

            def shows_final() -> bool | None:
                for m in world.bot_messages(GROUP):
                    if m["message_id"] == announcement["message_id"] and final in m["text"]:
                        return True
                return None

            with contextlib.suppress(TimeoutError):
                await world.wait_for(shows_final, timeout=20)
            edits = sum(
                1
                for e in world.sent_log()
                if e["method"] == "editMessageText" and e["chat_id"] == GROUP
            )
        finally:
            updates_log.removeHandler(times)
            updates_log.setLevel(level)
            updates_log.propagate = propagate
            await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 35)
        return Result(f"bot on {backend}", lat, recorded, edits, len(uids), times.ms)


async def _recorded(app: App, meeting_id: int, expected: int) -> int:
    """Answers in the database once every tap's transaction has committed (or the cap passed:
    the table then shows how many were recorded)."""
    count = 0
    deadline = time.monotonic() + RECORDED_CAP
    while time.monotonic() < deadline:
        async with app.session_factory() as s:
            count = int(
                await s.scalar(
                    select(func.count())
                    .select_from(MeetingRsvp)
                    .where(MeetingRsvp.meeting_id == meeting_id)
                )
                or 0
            )
        if count >= expected:
            break
        await asyncio.sleep(0.1)
    return count


async def run(members: int, window: float, backends: list[str]) -> list[Result]:
    logging.basicConfig(level=logging.WARNING)
    results = [await bench_bare(members, window)]
    for backend in backends:
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="bench_rsvp_")
            url, cleanup = f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}", None
        else:
            url, cleanup = await new_pg_database("bench_rsvp")
        try:
            results.append(await bench_bot(members, window, url, backend))
        finally:
            if cleanup is not None:
                await cleanup()
    print(
        f"\n== RSVP burst: {members} members tap one announcement within {window:g} s "
        "(latency = tap -> answerCallbackQuery) =="
    )
    print(
        f"{'bot':<26}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'recorded':>10}{'edits':>7}"
        f"{'handler p95':>14}"
    )
    for r in results:
        print(r.row())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench rsvp")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        require_postgresql()
    with fixed_clock():
        results = asyncio.run(run(args.members, args.window, backends))
    failed = [r for r in results[1:] if r.recorded != r.taps]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
