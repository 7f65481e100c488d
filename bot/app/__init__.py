"""Factories and lifecycle: nothing is built at import time.

`create_app` wires settings, database, i18n, bot, dispatcher, scheduler and background
components; `__main__` and the tests call the very same function.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app.hooks import subscribe_features
from bot.app.jobs import register_all
from bot.clock import Clock, SystemClock, shift_to
from bot.commands import register_commands
from bot.fsm import DbStorage
from bot.i18n import CatalogI18n, LocaleMiddleware, create_i18n
from bot.middlewares import (
    CommitBeforeReply,
    DbSessionMiddleware,
    HandlerNameMiddleware,
    InFlight,
    UpdateLogMiddleware,
    UserMiddleware,
    WriteIntent,
    guard_read_only,
)
from bot.outbox import Sender, SenderConfig
from bot.outbox.direct import SharedPace
from bot.outbox.shared import SharedWindow
from bot.scheduler import JobContext, SchedulerJobs, create_registry, stop_scheduler
from bot.services.context import ServiceContext
from bot.settings import Settings
from bot.telegram import BotSession
from handlers import detached, errors, get_routers
from handlers.kit import (
    ActorInjector,
    ActorMiddleware,
    CallbackAnswerGuard,
    KitRequestMiddleware,
    UnusedArgsGuard,
    create_refusals_router,
)
from handlers.kit.gates import gate_routers
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head

log = logging.getLogger("bot.app")
SHUTDOWN_GRACE_S = 30.0


class Component(Protocol):
    """A background part of the application started and stopped with the dispatcher."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    i18n: CatalogI18n
    bot: Bot
    dp: Dispatcher
    scheduler: AsyncIOScheduler
    clock: Clock
    components: list[Component] = field(default_factory=list)

    async def close(self) -> None:
        """Release what start-up did not (used when the dispatcher never ran)."""
        await self.bot.session.close()
        await self.engine.dispose()


def create_bot(settings: Settings, *, plain: bool = False) -> Bot:
    """The bot handlers and jobs call; `plain`: without their request middlewares (the outbox
    sender's own, whose requests it paces and counts itself)."""
    session = (
        BotSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
        if settings.telegram_api_url
        else BotSession()
    )
    if not plain:
        # Every call the bot makes while handling an update first commits that update's writes.
        session.middleware(CommitBeforeReply())
        # Presses answered once (and always), an edit that changes nothing is no error.
        session.middleware(KitRequestMiddleware())
    return Bot(
        settings.bot_token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_fsm_storage(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], clock: Clock
) -> BaseStorage:
    """Redis when configured, so several processes share conversations; the database
    otherwise, so a wizard survives a restart."""
    if settings.redis_url:
        # Not at the top: `redis` is an optional extra, needed only when REDIS_URL is set.
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return DbStorage(session_factory, clock)


def create_dispatcher(
    settings: Settings,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    i18n: CatalogI18n,
    fsm_storage: BaseStorage | None = None,
    extra_routers: Iterable[Router] = (),
    **workflow_data: Any,
) -> Dispatcher:
    """The production dispatcher: middlewares, routers in order, long-lived objects as data."""
    guard_read_only()
    in_flight = InFlight()
    # What use cases render their notices with: one per dispatcher, handed to handlers as `ctx`.
    workflow_data.setdefault(
        "ctx",
        ServiceContext(
            workflow_data.get("clock") or SystemClock(),
            i18n,
            settings.default_language,
            settings.tz,
        ),
    )
    dp = Dispatcher(
        storage=fsm_storage or MemoryStorage(),
        # Registered below, inside the unit of work: the database storage reads and writes
        # conversation state in the update's own transaction.
        disable_fsm=True,
        settings=settings,
        session_factory=session_factory,
        i18n=i18n,
        in_flight=in_flight,
        **workflow_data,
    )
    dp.update.outer_middleware(in_flight)
    dp.update.outer_middleware(UpdateLogMiddleware())
    # Outside the unit of work: it answers a press after the update's writes are committed.
    dp.update.outer_middleware(CallbackAnswerGuard(i18n))
    dp.update.outer_middleware(DbSessionMiddleware(session_factory))
    dp.update.outer_middleware(UserMiddleware(dp.fsm))
    dp.update.outer_middleware(dp.fsm)
    dp.update.outer_middleware(ActorMiddleware(settings.admin_ids))
    dp.update.outer_middleware(LocaleMiddleware(i18n))
    for observer in (dp.message, dp.callback_query, dp.my_chat_member, dp.chat_member):
        observer.middleware(HandlerNameMiddleware())
        observer.middleware(ActorInjector())
        observer.middleware(WriteIntent())
    unused_args = UnusedArgsGuard()
    dp.message.middleware(unused_args)
    features = get_routers()
    gate_routers(features)  # one cheap check in front of each router that allows it
    routers = [*extra_routers, *features, create_refusals_router(), errors.router]
    # Errors last: every router's failure propagates up to them; refusals before the apology.
    dp.include_routers(*(detached(r) for r in routers))
    unused_args.learn(dp)
    return dp


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extra_routers: Iterable[Router] = (),
    fsm_storage: BaseStorage | None = None,
) -> App:
    subscribe_features()
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    i18n = create_i18n(settings.default_language)
    bot = create_bot(settings)
    if settings.clock_start is not None:
        shift_to(settings.clock_start)
        log.warning(
            "clock shifted: it reads %s and ticks on (CLOCK_START, local Bot API only)",
            settings.clock_start.isoformat(),
        )
    clock = clock or SystemClock()
    scheduler = AsyncIOScheduler(timezone=settings.tz)
    dp = create_dispatcher(
        settings,
        session_factory=session_factory,
        i18n=i18n,
        fsm_storage=fsm_storage or create_fsm_storage(settings, session_factory, clock),
        extra_routers=extra_routers,
        clock=clock,
        scheduler=scheduler,
    )
    app = App(settings, engine, session_factory, i18n, bot, dp, scheduler, clock)
    # Not "app": aiogram's webhook helper puts the aiohttp application under that name.
    dp["bot_app"] = app
    _add_outbox_and_jobs(app)
    dp.startup.register(_on_startup)
    dp.shutdown.register(_on_shutdown)
    return app


def _add_outbox_and_jobs(app: App) -> None:
    """The outbox sender (when this process runs one) and the scheduler's jobs."""
    settings = app.settings
    jobs = create_registry()
    register_all(jobs)  # feature jobs (meetings, ...)
    ctx = JobContext(app.session_factory, app.clock)
    # Jobs that render or edit messages themselves (the live RSVP count) need these.
    ctx.bot, ctx.i18n, ctx.settings = app.bot, app.i18n, settings
    sender: Sender | None = None
    if settings.run_sender:
        config = SenderConfig(
            global_per_sec=settings.send_global_per_sec,
            per_chat_per_sec=settings.send_per_chat_per_sec,
            per_group_per_min=settings.send_per_group_per_min,
        )
        shared = None
        if settings.redis_url:  # several processes: one global limit for all of them
            # Not at the top: `redis` is an optional extra, needed only when REDIS_URL is set.
            from redis.asyncio import Redis

            shared = SharedWindow(
                # Short timeouts: a hung Redis must fall back to local pacing, not stall it.
                Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2),
                f"outbox:window:{app.bot.id}",
                config.global_per_sec,
                hold=config.request_timeout + 5,
            )
        # The sender has its own Bot: its requests are paced by the sender alone; answers to
        # people and live edits made with `app.bot` are counted in its window
        # (`bot.outbox.direct`).
        sender = Sender(
            create_bot(settings, plain=True),
            app.session_factory,
            config=config,
            clock=app.clock,
            shared=shared,
        )
        app.components.append(_SenderBotSession(sender.bot))  # stops after the sender
        app.components.append(sender)
        ctx.sender = sender
    # Answers go at once and live edits in the sender's pace, each keeping its chat's limits
    # (the middleware's own without a sender here); a 429 on an answer is waited out.
    app.bot.session.middleware(SharedPace(lambda: _sender_limits(sender)))
    app.dp["jobs"] = jobs
    app.components.append(SchedulerJobs(jobs, app.scheduler, ctx))


def _sender_limits(sender: Any) -> Any:
    """The running sender's global pace and per-chat state (made when it starts)."""
    pacer, chats = getattr(sender, "pacer", None), getattr(sender, "scheduler", None)
    return (pacer, chats) if pacer is not None and chats is not None else None


@dataclass
class _SenderBotSession:
    """Closes the sender's own HTTP session once the sender has stopped (components stop in
    reverse order, so it is listed before the sender)."""

    bot: Bot
    name: str = "outbox-sender-session"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.bot.session.close()


async def _on_startup(bot_app: App, bot: Bot) -> None:
    app = bot_app
    await register_commands(bot, app.i18n)
    for component in app.components:
        await component.start()
    if not app.scheduler.running:
        app.scheduler.start()
    log.info("started components=%s", [c.name for c in app.components])


async def _on_shutdown(bot_app: App, dispatcher: Dispatcher) -> None:
    app = bot_app
    # Updates already taken from Telegram are finished before we close anything they use.
    in_flight: InFlight = dispatcher["in_flight"]
    if in_flight.count:
        log.info("waiting for %d updates in hand", in_flight.count)
    if not await in_flight.wait_idle(SHUTDOWN_GRACE_S):
        log.warning("%d updates still in hand after %.0f s", in_flight.count, SHUTDOWN_GRACE_S)
    await stop_scheduler(app.scheduler, SHUTDOWN_GRACE_S)
    for component in reversed(app.components):
        try:
            await component.stop()
        except Exception:
            log.exception("component %s failed to stop", component.name)
    await app.engine.dispose()
    log.info("stopped")


async def prepare_database(app: App, *, migrate: bool) -> None:
    if migrate:
        await upgrade_to_head(app.engine)


async def poll(app: App, *, handle_signals: bool = True) -> None:
    """Long-poll Telegram for exactly the update types the routers use, a bounded number of
    updates in hand at once."""
    await app.dp.start_polling(
        app.bot,
        handle_signals=handle_signals,
        close_bot_session=True,
        polling_timeout=30,
        allowed_updates=app.dp.resolve_used_update_types(),
        tasks_concurrency_limit=app.settings.max_concurrent_updates,
    )


async def run_polling(app: App) -> None:
    await app.bot.delete_webhook(drop_pending_updates=False)
    await poll(app)


async def run_webhook(app: App, stop: asyncio.Event | None = None) -> None:
    """Webhook mode: Telegram's `max_connections` caps concurrent updates for us.

    Runs until SIGTERM/SIGINT (or `stop` is set), then lets requests in hand finish.
    """
    settings = app.settings
    assert settings.webhook_url is not None
    web_app = web.Application()
    path = urlsplit(settings.webhook_url).path or "/webhook"
    SimpleRequestHandler(
        dispatcher=app.dp,
        bot=app.bot,
        secret_token=settings.webhook_secret,
        handle_in_background=False,
    ).register(web_app, path=path)
    setup_application(web_app, app.dp, bot=app.bot)
    web_app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(web_app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
    await runner.setup()
    site = web.TCPSite(runner, settings.web_host, settings.web_port)
    await site.start()
    await app.bot.set_webhook(
        settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=app.dp.resolve_used_update_types(),
        max_connections=min(100, settings.max_concurrent_updates),
    )
    log.info("webhook listening on %s:%s%s", settings.web_host, settings.web_port, path)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        # Cleanup runs the dispatcher's shutdown (setup_application) after in-flight requests.
        await runner.cleanup()
        await app.bot.session.close()


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def settle_heap() -> None:
    """Once per process, after start-up: hide what start-up made from the garbage collector.

    Imports (aiogram's pydantic types above all), the routers and the compiled statements are
    some 450,000 objects that live as long as the process; every full collection scanned them
    all again, 0.35 s each time, about once per thousand updates: 9 % of the update path's time
    (`python -m bench updates`). `gc.freeze` moves them to a generation that is never
    scanned; what updates create later is collected as before.
    """
    gc.collect()
    gc.freeze()


async def run(settings: Settings) -> None:
    app = create_app(settings)
    await prepare_database(app, migrate=settings.is_sqlite)
    settle_heap()
    if settings.mode == "webhook":
        await run_webhook(app)
    else:
        await run_polling(app)
