"""Run the sandbox inside a test: ``async with run_sandbox() as sb: ...``.

``sb`` forwards unknown attributes to the default bot's world, so ``sb.send_text(...)``,
``await sb.wait_for_bot_message(...)`` etc. work directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .server import create_app
from .spec import Spec
from .state import DEFAULT_TOKEN, BotWorld, Sandbox

if TYPE_CHECKING:
    from aiogram import Bot


class ManualClock:
    """Monotonic clock moved by hand, for ``run_sandbox(clock=...)`` flood tests."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SandboxHandle:
    """A running sandbox: its address, the registry and the default world."""

    def __init__(self, sandbox: Sandbox, host: str, port: int) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"

    @property
    def state(self) -> BotWorld:
        return self.sandbox.state

    def world(self, token: str | None = None) -> BotWorld:
        return self.sandbox.world(token)

    def api_url(self, method: str, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.sandbox.default_token}/{method}"

    def bot(self, token: str | None = None, **kwargs: Any) -> Bot:
        """An aiogram Bot wired to this sandbox; close it (``async with bot:``) when done."""
        # Here, not at the top: the sandbox serves any client and runs without aiogram.
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session_kwargs = {k: kwargs.pop(k) for k in ("timeout",) if k in kwargs}
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url), **session_kwargs)
        return Bot(token or self.sandbox.default_token, session=session, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sandbox.state, name)


@asynccontextmanager
async def run_sandbox(
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    spec: Spec | None = None,
    spec_path: str | None = None,
    token: str = DEFAULT_TOKEN,
    **options: Any,
) -> AsyncIterator[SandboxHandle]:
    """Serve the sandbox on ``host`` (free port by default) for the duration of the block.

    ``options`` go to :class:`sandbox.state.BotWorld` (``flood``, ``seed``, ``clock``,
    ``bot_username``, ``webhook_retry_delay``, ``allow_http_webhook`` ...).
    """
    sandbox = Sandbox(spec, spec_path=spec_path, default_token=token, **options)
    sandbox.world()  # create the default world up front so control calls work at once
    runner = web.AppRunner(create_app(sandbox), shutdown_timeout=2.0, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        actual_port = runner.addresses[0][1]
        yield SandboxHandle(sandbox, host, actual_port)
    finally:
        await runner.cleanup()
