"""The benchmarks' shared rules (`bench/common.py`): their own data, a fixed clock that their
child processes follow, and a start-up wait that says what did not happen."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from bench.common import BENCH_AT, fixed_clock, wait_started
from bot.services.vn_calendar import add_months, is_working_day

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"/work/|\.\./shared|DATASETS_DIR|generate\.py")


def test_benchmarks_read_nothing_outside_the_repository() -> None:
    found = [
        f"{path.name}:{n}"
        for path in sorted((ROOT / "bench").glob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_a_child_process_follows_the_fixed_clock() -> None:
    child = (
        "import time\nfrom bench.common import follow_clock\n"
        "with follow_clock():\n    print(time.time())"
    )
    with fixed_clock() as at:
        before = time.time()
        out = subprocess.run(
            [sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        after = time.time()
    assert at == BENCH_AT
    assert BENCH_AT.timestamp() <= before <= float(out) <= after


async def test_start_up_wait_names_a_bot_that_stopped_first() -> None:
    async def crashed() -> None:
        raise ConnectionError("no Bot API server")

    polling = asyncio.create_task(crashed())
    with pytest.raises(RuntimeError, match="stopped before its start-up finished") as caught:
        await wait_started(asyncio.Event(), polling, cap=30)
    assert isinstance(caught.value.__cause__, ConnectionError)


async def test_start_up_wait_names_what_did_not_finish_within_the_cap() -> None:
    polling = asyncio.create_task(asyncio.sleep(30))
    with pytest.raises(RuntimeError, match="did not finish within 0 s"):
        await wait_started(asyncio.Event(), polling, cap=0.05)
    polling.cancel()


def test_the_fixed_instant_is_an_ordinary_day_that_moves_no_meeting() -> None:
    """What `BENCH_AT`'s comment promises: no holiday shift in the months the plan job plans,
    no rule meeting (the 3rd-5th) within three days, no quarter within ten days."""
    today = BENCH_AT.date()
    assert is_working_day(today)
    for months_ahead in range(3):
        year, month = add_months(today.year, today.month, months_ahead)
        assert all(is_working_day(date(year, month, day)) for day in (3, 4, 5))
    assert not 1 <= today.day <= 8
    year, month = add_months(today.year, (today.month - 1) // 3 * 3 + 1, 3)
    next_quarter = date(year, month, 1)
    assert (next_quarter - today).days > 10
