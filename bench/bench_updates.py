"""Updates handled per second on the bot's /start path, beside a bare aiogram echo bot.

Both poll a sandbox in the same run; the ratio says what our middlewares, database unit of work
and i18n cost on top of aiogram itself. The bot's people are imported members (the common
case): "first contact" is each one's very first update (their account row must be written),
"returning" the same people again (nothing about them changed: nothing to write).

    python -m bench updates [--updates N] [--backend sqlite|postgresql|both] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.app import App, create_app
from bot.settings import load_settings
from sandbox.testing import run_sandbox
from storage.migrate import upgrade_to_head

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/"


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


async def _with_polling(dp: Dispatcher, bot: Bot, body: Callable[[], Awaitable[float]]) -> float:
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=30))
    try:
        return await body()
    finally:
        await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def bench_echo(n: int, repeats: int = 1) -> list[float]:
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

        times: list[float] = []

        async def body() -> float:
            for _ in range(repeats):
                times.append(await _drive(world, n, 10_000, "/start"))
            return 0.0

        await _with_polling(dp, bot, body)
        return times


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


async def bench_bot(n: int, database_url: str, repeats: int = 1) -> tuple[float, list[float]]:
    """Seconds for n first-contact updates, then for the same n people again (`repeats`
    times)."""
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

        async def both() -> tuple[float, list[float]]:
            first = await _drive(world, n, 20_000, "/start")
            again = [await _drive(world, n, 20_000, "/start") for _ in range(repeats)]
            return first, again

        result: tuple[float, list[float]] = (0.0, [])

        async def body() -> float:
            nonlocal result
            result = await both()
            return 0.0

        await _with_polling(app.dp, app.bot, body)
        await app.engine.dispose()
        return result


async def _pg_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg

    name = f"bench_updates_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(PG_ADMIN)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    return PG_BASE + name, drop


def _row(label: str, times: list[float], n: int, baseline: float) -> str:
    """Median seconds and rate (the spread of the runs beside it): this machine is noisy."""
    secs = statistics.median(times)
    rate = n / secs
    spread = f"{n / max(times):.0f}-{n / min(times):.0f}" if len(times) > 1 else ""
    return f"{label:<28}{secs:>10.2f}{rate:>12.1f}{spread:>12}{rate / baseline:>10.2f}"


async def run(n: int, backends: list[str], repeats: int = 3) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    echo = await bench_echo(n, repeats)
    rows: list[tuple[str, list[float]]] = []
    for backend in backends:
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="bench_updates_")
            url, cleanup = f"sqlite+aiosqlite:///{Path(tmp) / 'bot.db'}", None
        else:
            url, cleanup = await _pg_database()
        try:
            first_s, again = await bench_bot(n, url, repeats)
        finally:
            if cleanup is not None:
                await cleanup()
        rows += [(f"first contact ({backend})", [first_s]), (f"returning ({backend})", again)]
    echo += await bench_echo(n, repeats)  # before and after: the machine drifts
    echo_rate = n / statistics.median(echo)
    print(f"\n== updates/s: {n} /start updates from {n} members, polled from the sandbox ==")
    print(f"(medians of {repeats} runs; echo {2 * repeats} runs, before and after the bot)")
    print(f"{'run':<28}{'seconds':>10}{'updates/s':>12}{'spread':>12}{'vs echo':>10}")
    print(_row("bare aiogram echo (baseline)", echo, n, echo_rate))
    for label, times in rows:
        print(_row(label, times, n, echo_rate))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench updates")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (medians shown)")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    asyncio.run(run(args.updates, backends, max(1, args.repeat)))


if __name__ == "__main__":
    main()
