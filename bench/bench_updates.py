"""Updates handled per second on the bot's /start path, beside a bare aiogram echo bot.

Both poll a sandbox in the same run; the ratio says what our middlewares, database unit of work
and i18n cost on top of aiogram itself. The bot's people are imported members (the common
case): "first contact" is each one's very first update (their account row must be written),
"returning" the same people again (nothing about them changed: nothing to write).

    python -m bench updates [--updates N] [--backend sqlite|postgresql|both] [--repeat 3]

The clock is fixed (`bench.common.BENCH_AT`); each bot has finished its start-up before the
first update.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bench.common import (
    fixed_clock,
    new_pg_database,
    require_postgresql,
    wait_started,
    watch_startup,
)
from bot.app import App, create_app, settle_heap
from bot.settings import load_settings
from sandbox.testing import run_sandbox
from storage.migrate import upgrade_to_head

# Updates in hand at once: the bot's default (`Settings.max_concurrent_updates`).
IN_HAND = load_settings({"BOT_TOKEN": "1:X"}).max_concurrent_updates


async def _drive(world: object, n: int, first_uid: int, text: str) -> float:
    """Send n updates from n users at once; seconds until every one of them got its reply."""
    for i in range(n):
        if first_uid + i not in world.users:  # type: ignore[attr-defined]
            world.add_user(first_uid + i, f"U{i}", "vi")  # type: ignore[attr-defined]
    log = world.dispatcher.sent  # type: ignore[attr-defined]  # the live list: read what is new
    seen, replies = len(log), 0
    started = time.perf_counter()
    for i in range(n):
        world.send_text(first_uid + i, text)  # type: ignore[attr-defined]

    def done() -> bool | None:
        # Counted as they come (re-counting the whole log on every change made this check
        # quadratic, and it ran in the bot's own process).
        nonlocal seen, replies
        replies += sum(1 for s in log[seen:] if s["method"] == "sendMessage")
        seen = len(log)
        return True if replies >= n else None

    await world.wait_for(done, timeout=600)  # type: ignore[attr-defined]
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def _polling(dp: Dispatcher, bot: Bot, ready: asyncio.Event) -> AsyncIterator[None]:
    """Polling, once the dispatcher's start-up (`ready`) is done, with the bot's own bound on
    the updates in hand (`bot.app.poll`): unbounded, a burst of 2,000 first contacts queued
    2,000 handlers on SQLite's pool of 15 connections and a third of them gave up waiting for
    one after 30 s, which the bot in production never does. The echo keeps the same bound."""
    task = asyncio.create_task(
        dp.start_polling(
            bot,
            handle_signals=False,
            polling_timeout=30,
            tasks_concurrency_limit=IN_HAND,
        )
    )
    try:
        await wait_started(ready, task)
        yield
    finally:
        await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await task


Drive = Callable[[], Awaitable[float]]


@contextlib.asynccontextmanager
async def echo_bot(n: int) -> AsyncIterator[Drive]:
    """aiogram alone: one router, one handler, the same reply the bot gives (its greeting, as
    HTML), so the sandbox's share of the work is the same on both sides."""
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    from bot.i18n import create_i18n

    i18n = create_i18n("vi")
    async with run_sandbox(port=0, token="111:ECHO") as sb:
        world = sb.world("111:ECHO")
        bot = Bot(
            "111:ECHO",
            session=AiohttpSession(api=TelegramAPIServer.from_base(sb.base_url)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        dp = Dispatcher()

        @dp.message()
        async def echo(message: Message) -> None:
            name = message.from_user.first_name if message.from_user else ""
            await message.answer(i18n.t("start.greeting", "vi", name=name))

        ready = asyncio.Event()

        async def on_startup() -> None:
            ready.set()

        dp.startup.register(on_startup)
        async with _polling(dp, bot, ready):
            yield lambda: _drive(world, n, 10_000, "/start")
        await bot.session.close()


async def _members(app: App, n: int, first_uid: int) -> None:
    """n imported members with their Telegram ids, in one branch (no account rows yet)."""
    from datetime import time as dtime

    from storage.models import Branch, Member, Unit

    async with app.session_factory() as s, s.begin():
        d = Unit(code="B01", name="Huyện ủy Bench", kind="district_committee")
        s.add(d)
        await s.flush()
        d.district_id = d.id
        b = Branch(
            code="B01B01", name="Chi bộ Bench", unit_id=d.id, district_id=d.id, kind="village",
            meeting_day=5, meeting_time=dtime(19, 30), location="",
        )  # fmt: skip
        s.add(b)
        await s.flush()
        s.add_all(
            Member(
                code=f"BM{i}",
                full_name=f"Đảng viên {i}",
                branch_id=b.id,
                district_id=d.id,
                role="member",
                telegram_id=first_uid + i,
            )  # fmt: skip
            for i in range(n)
        )


@contextlib.asynccontextmanager
async def the_bot(n: int, database_url: str) -> AsyncIterator[Drive]:
    """The bot, polling its own sandbox, with n imported members: each drive sends /start from
    all of them (the first drive is their first contact)."""
    async with run_sandbox(port=0) as sb:
        world = sb.world("123456:TEST")
        settings = load_settings(
            {
                "BOT_TOKEN": "123456:TEST",
                "DATABASE_URL": database_url,
                "TELEGRAM_API_URL": sb.base_url,
                "LOG_LEVEL": "WARNING",
            }
        )
        app = create_app(settings)
        await upgrade_to_head(app.engine)
        await _members(app, n, 20_000)
        settle_heap()  # as `python -m bot run` does before it polls
        async with _polling(app.dp, app.bot, watch_startup(app)):
            yield lambda: _drive(world, n, 20_000, "/start")
        await app.engine.dispose()


def _row(label: str, times: list[float], n: int, ratio: float | None) -> str:
    """Median seconds and rate (the spread of the runs beside it): this machine is noisy."""
    secs = statistics.median(times)
    spread = f"{n / max(times):.0f}-{n / min(times):.0f}" if len(times) > 1 else ""
    shown = f"{ratio:.2f}" if ratio is not None else "-"
    return f"{label:<28}{secs:>10.2f}{n / secs:>12.1f}{spread:>12}{shown:>10}"


async def run(n: int, backends: list[str], repeats: int = 3) -> None:
    """Echo and bot runs alternate (echo, bot, echo, bot, ...): the VM's speed drifts by tens of
    percent within minutes, so each bot run is compared with the echo run just before it, and
    the ratio shown is the median of those pairs."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    echo_all: list[float] = []
    rows: list[tuple[str, list[float], float | None]] = []
    async with echo_bot(n) as echo:
        await echo()  # warm-up
        for backend in backends:
            if backend == "sqlite":
                tmp = tempfile.mkdtemp(prefix="bench_updates_")
                url, cleanup = f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}", None
            else:
                url, cleanup = await new_pg_database("bench_updates")
            try:
                async with the_bot(n, url) as bot:
                    e0 = await echo()
                    first = await bot()
                    pairs = [(await echo(), await bot()) for _ in range(repeats)]
            finally:
                if cleanup is not None:
                    await cleanup()
            echo_all += [e0, *(e for e, _ in pairs)]
            rows.append((f"first contact ({backend})", [first], e0 / first))
            ratios = [e / b for e, b in pairs]
            rows.append(
                (f"returning ({backend})", [b for _, b in pairs], statistics.median(ratios))
            )
    print(f"\n== updates/s: {n} /start updates from {n} members, polled from the sandbox ==")
    print("(bot runs alternate with echo runs; 'vs echo' is the median of each bot run's ratio")
    print(f" to the echo run just before it; returning: {repeats} runs)")
    print(f"{'run':<28}{'seconds':>10}{'updates/s':>12}{'spread':>12}{'vs echo':>10}")
    print(_row("bare aiogram echo (baseline)", echo_all, n, 1.0))
    for label, times, ratio in rows:
        print(_row(label, times, n, ratio))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench updates")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (medians shown)")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        require_postgresql()
    with fixed_clock():
        asyncio.run(run(args.updates, backends, max(1, args.repeat)))


if __name__ == "__main__":
    main()
