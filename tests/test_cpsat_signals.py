"""A clean stop: a CP-SAT solve must not take SIGINT away from the running bot.

Run in a child process: with OR-Tools' default (`catch_sigint_signal`), the Ctrl-C after the
solve kills that process outright instead of reaching asyncio's handler (and it would kill the
test runner itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.services.rosters.cpsat import new_solver

ROOT = Path(__file__).resolve().parents[1]

_SOLVE_THEN_CTRL_C = """
import asyncio, os, signal
from ortools.sat.python import cp_model
from bot.services.rosters.cpsat import new_solver

async def main():
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stopped.set)
    model = cp_model.CpModel()
    x = model.new_int_var(0, 10, "x")
    model.maximize(x)
    assert new_solver(time_limit=5).solve(model) == cp_model.OPTIMAL
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(stopped.wait(), 10)
    print("stopped gracefully")

asyncio.run(main())
"""


def test_the_bots_solver_leaves_sigint_alone() -> None:
    assert new_solver(time_limit=1).parameters.catch_sigint_signal is False


def test_ctrl_c_after_a_solve_reaches_the_event_loop() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SOLVE_THEN_CTRL_C],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "stopped gracefully" in done.stdout
