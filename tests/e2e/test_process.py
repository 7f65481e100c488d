"""The bot as an operator runs it: `make run` / `python -m bot` in a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.testing import run_sandbox
from storage.db import create_engine, create_session_factory
from storage.models import JobLease, Roster, RosterVisit
from tests.conftest import clock_start
from tests.e2e.harness import TOKEN
from tests.orgdata import WG_LEADER
from tests.roster_world import roster_world

# Each test starts Python (and `make`) in child processes: 5-8 CPU-s of imports apiece, 100 s
# for the slowest on a loaded machine; the suite-wide 120 s would end the worker outright.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.update(extra)
    return env


async def test_make_run_answers_start_within_a_second(tmp_path: Path) -> None:
    async with run_sandbox(port=_free_port()) as sb:
        world = sb.world(TOKEN)
        env = _env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sb.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db",
            LOG_LEVEL="INFO",
            CLOCK_START=clock_start().isoformat(),  # the test's instant, not the day it runs
        )
        proc = await asyncio.create_subprocess_exec(
            "make",
            "-s",
            "run",
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            # Ready once it registered its menu and asked for updates.
            await world.wait_for(lambda: world.allowed_updates, timeout=60)
            world.add_user(2001, "Hà", "vi")
            started = time.perf_counter()
            world.send_text(2001, "/start")
            reply = await world.wait_for_bot_message(2001, timeout=5)
            elapsed = time.perf_counter() - started
            assert reply["text"].startswith("Xin chào Hà!")
            assert elapsed < 1.0, f"/start answered in {elapsed:.3f}s"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = await asyncio.wait_for(proc.communicate(), 40)
        log = out.decode()
        # make itself dies of the SIGTERM; the bot below it must have stopped cleanly.
        assert proc.returncode in (0, -signal.SIGTERM), log
        assert "bot.app stopped" in log, log
        assert "clock shifted: it reads " + clock_start().isoformat() in log, log
        assert "Traceback" not in log, log
        assert TOKEN.split(":")[1] not in log.replace(TOKEN.split(":")[1] + "_bot", "")


async def test_malformed_database_url_exits_2_with_one_line(tmp_path: Path) -> None:
    env = _env(BOT_TOKEN=TOKEN, DATABASE_URL="not a url")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: DATABASE_URL:"), lines
    assert "Traceback" not in err.decode()

    proc = await asyncio.create_subprocess_exec(
        "make",
        "-s",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 2
    ours = [line for line in err.decode().splitlines() if not line.startswith("make")]
    assert ours == [lines[0]]


async def test_missing_token_says_how_to_get_one(tmp_path: Path) -> None:
    env = _env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    text = err.decode()
    assert "BotFather" in text and "make sandbox" in text and "TELEGRAM_API_URL" in text


async def test_check_command_reports_each_item(tmp_path: Path) -> None:
    async with run_sandbox(port=0) as sb:
        env = _env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sb.base_url,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "check",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    assert "OK   settings" in text and "OK   database" in text and "OK   telegram token" in text

    env["TELEGRAM_API_URL"] = f"http://127.0.0.1:{_free_port()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 1
    assert "FAIL telegram token" in out.decode()


async def test_ctrl_c_after_a_roster_solve_stops_gracefully(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A clean stop: OR-Tools catches SIGINT during a CP-SAT solve by default and leaves the
    process without a handler afterwards, so the next Ctrl-C killed the bot with no shutdown and
    its leases held. Here the start-up's roster job solves the quarter's draft in the running
    bot; then SIGINT must still run the whole shutdown and give every lease back."""
    rw = await roster_world(engine, published=False)
    async with rw.w.factory() as s, s.begin():  # the draft is the running bot's to make
        await s.execute(delete(RosterVisit))
        await s.execute(delete(Roster))
    async with run_sandbox(port=_free_port()) as sb:
        world = sb.world(TOKEN)
        world.add_user(WG_LEADER, "Tổ", "vi", started=True)
        env = _env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=sb.base_url,
            DATABASE_URL=database_url,
            LOG_LEVEL="INFO",
            # When the first quarter of 2027's draft is due: the start-up's job solves it.
            CLOCK_START="2026-12-25T09:00:00+07:00",
        )
        with (tmp_path / "bot.log").open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=out, stderr=out
            )
            try:
                # The draft reaches its leader once the solve is done and its rows committed.
                await world.wait_for_bot_message(
                    WG_LEADER, lambda m: "I/2027" in m.get("text", ""), timeout=90
                )
                proc.send_signal(signal.SIGINT)
                await asyncio.wait_for(proc.wait(), 60)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    log = (tmp_path / "bot.log").read_text()
    assert proc.returncode == 0, log
    assert "bot.app stopped" in log and "Traceback" not in log, log
    check = create_engine(database_url)
    try:
        async with create_session_factory(check)() as s:
            assert await s.scalar(select(Roster.id)) is not None  # the solve did run there
            held = list(await s.scalars(select(JobLease.name).where(JobLease.holder.is_not(None))))
    finally:
        await check.dispose()
    assert held == []
