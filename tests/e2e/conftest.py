"""Fixtures for end-to-end tests; the harness itself is in `tests/e2e/harness.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import _Templates
from tests.e2e.broadcasts_world import BroadcastWorld, broadcast_world
from tests.e2e.feedback_world import FbWorld, feedback_world
from tests.e2e.harness import BotEnv, running_bot
from tests.e2e.rosters_world import DanPhuong, RosterWorld, roster_world


@pytest.fixture
async def bot_env(database_url: str) -> AsyncIterator[BotEnv]:
    async with running_bot(database_url) as env:
        yield env


@pytest.fixture(scope="session")
def dan_phuong(db_templates: _Templates) -> DanPhuong:
    return DanPhuong(db_templates)


@pytest.fixture
def dan_phuong_url(db_backend: str, dan_phuong: DanPhuong, tmp_path: Path) -> Iterator[str]:
    """A fresh database holding dan-phuong, its working groups on Telegram and their chats."""
    if db_backend == "sqlite":
        with dan_phuong.sqlite_database() as url:
            yield url
        return
    with dan_phuong.pg_database() as url:
        yield url


@pytest.fixture
async def rosters(dan_phuong_url: str) -> AsyncIterator[RosterWorld]:
    async with roster_world(dan_phuong_url) as world:
        yield world


@pytest.fixture
async def bc(dan_phuong_url: str) -> AsyncIterator[BroadcastWorld]:
    """dan-phuong with its branch groups on Telegram and the flood limits on (broadcasts)."""
    async with broadcast_world(dan_phuong_url) as world:
        yield world


@pytest.fixture
async def fb(rosters: RosterWorld) -> FbWorld:
    """The roster world with a branch, its commune and the district set up for feedback."""
    return await feedback_world(rosters)
