"""The one place a CP-SAT solver is made: every solve in the bot gets its parameters here.

OR-Tools catches SIGINT during a solve (`catch_sigint_signal`, on by default) and, when the
solve ends, leaves the C-level handler at its default: asyncio's own handler, installed when
the bot started, is gone, and the next Ctrl-C kills the process outright, with no shutdown and
its leases left held. The bot's solves are short and bounded by a time limit; stopping is the
bot's own business, so the solver never touches signals.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

SEED = 7  # same instance, same answer: a roster must not change between two runs


def new_solver(*, time_limit: float, workers: int = 1, presolve: bool = True) -> cp_model.CpSolver:
    """A solver with the bot's parameters: seeded, time-bounded, leaving SIGINT alone."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.catch_sigint_signal = False
    params.num_workers = max(1, workers)
    params.random_seed = SEED
    params.cp_model_presolve = presolve
    params.max_time_in_seconds = max(time_limit, 0.001)
    return solver
