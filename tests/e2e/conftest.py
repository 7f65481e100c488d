"""Fixtures for end-to-end tests; the harness itself is in `tests/e2e/harness.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.harness import BotEnv, running_bot


@pytest.fixture
async def bot_env(database_url: str) -> AsyncIterator[BotEnv]:
    async with running_bot(database_url) as env:
        yield env
