"""Fixtures: a running sandbox, an aiogram Bot wired to it and a raw HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot

from sandbox.spec import Spec, load_spec
from sandbox.testing import SandboxHandle, run_sandbox

TOKEN = "123456:TEST"


@pytest.fixture(scope="session")
def spec() -> Spec:
    """Loaded once: the file is large and read-only."""
    return load_spec()


@pytest.fixture
async def sb(spec: Spec) -> AsyncIterator[SandboxHandle]:
    async with run_sandbox(spec=spec, token=TOKEN, webhook_retry_delay=0.01) as handle:
        yield handle


@pytest.fixture
async def bot(sb: SandboxHandle) -> AsyncIterator[Bot]:
    async with sb.bot() as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
