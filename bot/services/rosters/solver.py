"""Visiting roster solver: which working-group member attends which branch meeting in a quarter.

Each quarter a district working group sends members to the village branches' regular meetings.
The members are few and the meetings bunch up on the same evenings (the month's rule puts most of
them on days 3-5 at 19:30), so usually not every meeting can be visited: the roster decides which
ones are, and who goes. The priorities must never be traded against each other (one more branch
that has not been visited this year is worth more than any amount of fairness between members),
so the problem is solved exactly with CP-SAT, one priority level at a time, rather than by a
greedy pass that would quietly leave a branch out or overload one member.

The module is pure: plain data in, plain data out, no I/O. The service layer turns meetings and
members into an `Instance` and the `Solution` back into rows and messages.
"""

from __future__ import annotations

import enum
import math
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from ortools.sat.python import cp_model

from bot.services.rosters.cpsat import new_solver

# A branch unvisited for this many quarters (or never) is as urgent as a branch can get: beyond
# that, "longer ago" says nothing more about how much the branch needs a visit.
_WEIGHT_CAP = 8
K = TypeVar("K", bound=Hashable)


class SolveStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class Slot:
    """One meeting a visitor may attend; `window` lists the other starts it could move to."""

    key: str
    branch: str
    start: datetime
    visited_this_year: bool = False
    quarters_since_visit: int | None = None
    visitors_needed: int = 1
    window: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Visitor:
    key: str
    own_branch: str | None = None
    unavailable: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Instance:
    """One group's quarter: its meetings, its members, and what the roster must respect."""

    slots: tuple[Slot, ...]
    visitors: tuple[Visitor, ...]
    history: Mapping[tuple[str, str], int] = field(default_factory=dict)
    previous: Mapping[str, frozenset[str]] | None = None
    gap: timedelta = timedelta(hours=3)
    max_visits: int | None = None
    rotation_horizon: int = 4


@dataclass(frozen=True)
class Solution:
    """A roster plus how good it is; `visitors` lets `load` name the members left idle."""

    status: SolveStatus
    assignments: Mapping[str, tuple[str, ...]]
    uncovered: tuple[str, ...]
    levels: tuple[int, ...]
    gap: float
    wall_time: float
    visitors: tuple[str, ...] = ()

    def load(self) -> dict[str, int]:
        counts = dict.fromkeys(self.visitors, 0)
        for keys in self.assignments.values():
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
        return counts


def _quarters_unvisited(slot: Slot) -> int:
    quarters = slot.quarters_since_visit
    return _WEIGHT_CAP if quarters is None else min(max(quarters, 0), _WEIGHT_CAP)


def need_weights(slots: Sequence[Slot]) -> dict[str, int]:
    """How much covering each slot is worth.

    Longer since the last visit weighs more, and a branch not yet visited this year outranks
    every already-visited one together (the yearly duty to visit each branch comes first).
    """
    base = {slot.key: 1 + _quarters_unvisited(slot) for slot in slots}
    bonus = 1 + sum(base[slot.key] for slot in slots if slot.visited_this_year)
    return {slot.key: base[slot.key] + (0 if slot.visited_this_year else bonus) for slot in slots}


def rotation_cost(quarters_ago: int, horizon: int) -> int:
    """The price of sending someone back to a branch they visited `quarters_ago` quarters ago.

    Branches should see different faces, so a recent repeat costs most and one older than the
    horizon costs nothing.
    """
    return horizon + 1 - quarters_ago if 1 <= quarters_ago <= horizon else 0


def can_attend(visitor: Visitor, branch: str, start: datetime) -> bool:
    """Whether the person may go at all: never to their own branch, never on a day off."""
    return branch != visitor.own_branch and start.date() not in visitor.unavailable


def conflict_cliques(items: Iterable[tuple[K, datetime]], gap: timedelta) -> list[tuple[K, ...]]:
    """The maximal groups of items whose starts are pairwise less than `gap` apart.

    Starts within `gap` form an interval graph, whose maximal cliques are the runs beginning at
    each start; one at-most-one per run is far smaller and propagates better than a constraint
    per conflicting pair.
    """
    ordered = sorted(items, key=lambda item: item[1])
    cliques: list[tuple[K, ...]] = []
    end = previous_end = 0
    for i, (_, start) in enumerate(ordered):
        end = max(end, i + 1)
        while end < len(ordered) and ordered[end][1] - start < gap:
            end += 1
        if end > previous_end and end - i >= 2:
            cliques.append(tuple(key for key, _ in ordered[i:end]))
        previous_end = end
    return cliques


def is_valid(instance: Instance, assignments: Mapping[str, Iterable[str]]) -> list[str]:
    """Every hard-constraint violation of a roster, so callers and tests can check any roster."""
    slots = {slot.key: slot for slot in instance.slots}
    visitors = {visitor.key: visitor for visitor in instance.visitors}
    problems: list[str] = []
    booked: dict[str, list[Slot]] = {}
    for slot_key, keys in assignments.items():
        chosen = list(keys)
        slot = slots.get(slot_key)
        if slot is None:
            problems.append(f"unknown slot {slot_key}")
            continue
        if not chosen:
            continue
        distinct = sorted(set(chosen))
        if len(distinct) != len(chosen):
            problems.append(f"{slot_key}: a visitor is listed twice")
        if len(distinct) != slot.visitors_needed:
            problems.append(f"{slot_key}: {len(distinct)} of {slot.visitors_needed} visitors")
        for key in distinct:
            visitor = visitors.get(key)
            if visitor is None:
                problems.append(f"{slot_key}: unknown visitor {key}")
                continue
            if slot.branch == visitor.own_branch:
                problems.append(f"{key} visits own branch at {slot_key}")
            if slot.start.date() in visitor.unavailable:
                problems.append(f"{key} is unavailable on {slot.start.date()} ({slot_key})")
            booked.setdefault(key, []).append(slot)
    for key, own in booked.items():
        own.sort(key=lambda slot: slot.start)
        for i, first in enumerate(own):
            for second in own[i + 1 :]:
                if abs(second.start - first.start) < instance.gap:
                    problems.append(f"{key} at {first.key} and {second.key}: too close")
        if instance.max_visits is not None and len(own) > instance.max_visits:
            problems.append(f"{key} has {len(own)} visits, more than {instance.max_visits}")
    return problems


def evaluate(instance: Instance, assignments: Mapping[str, Iterable[str]]) -> tuple[int, ...]:
    """The objective levels of a roster, computed directly (the solver's own yardstick)."""
    weights = need_weights(instance.slots)
    branch = {slot.key: slot.branch for slot in instance.slots}
    chosen = {key: set(keys) for key, keys in assignments.items() if key in branch}
    chosen = {key: keys for key, keys in chosen.items() if keys}
    load = Counter(key for keys in chosen.values() for key in keys)
    levels = [sum(weights[key] for key in chosen)]
    if instance.previous is not None:
        levels.append(
            sum(
                1
                for slot_key, keys in instance.previous.items()
                for key in keys
                if key not in chosen.get(slot_key, ())
            )
        )
    loads = [load[visitor.key] for visitor in instance.visitors]
    top = max(loads, default=0)
    levels += [top, top - min(loads, default=0)]
    horizon = instance.rotation_horizon
    levels.append(
        sum(
            rotation_cost(instance.history.get((key, branch[slot_key]), 0), horizon)
            for slot_key, keys in chosen.items()
            for key in keys
        )
    )
    return tuple(levels)


class _Roster:
    """The CP-SAT model of one instance, with one objective expression per level."""

    def __init__(self, instance: Instance) -> None:
        self.model = model = cp_model.CpModel()
        self.visitors = [visitor.key for visitor in instance.visitors]
        self.x: dict[tuple[str, str], cp_model.IntVar] = {}  # (visitor, slot) -> goes
        self.covered: dict[str, cp_model.IntVar] = {}
        schedule: dict[str, list[tuple[str, datetime]]] = {v.key: [] for v in instance.visitors}
        for slot in instance.slots:
            able = [v.key for v in instance.visitors if can_attend(v, slot.branch, slot.start)]
            if len(able) < slot.visitors_needed:
                continue  # cannot be staffed: no variables at all
            covered = self.covered[slot.key] = model.new_bool_var("")
            for key in able:
                self.x[key, slot.key] = model.new_bool_var("")
                schedule[key].append((slot.key, slot.start))
            crew = [self.x[key, slot.key] for key in able]
            model.add(cp_model.LinearExpr.sum(crew) == slot.visitors_needed * covered)

        most = len(instance.slots)
        if instance.max_visits is not None:
            most = min(most, instance.max_visits)
        self.top = model.new_int_var(0, most, "")
        self.bottom = model.new_int_var(0, most, "")
        for key, own in schedule.items():
            for clique in conflict_cliques(own, instance.gap):
                model.add_at_most_one(self.x[key, slot_key] for slot_key in clique)
            load = cp_model.LinearExpr.sum([self.x[key, slot_key] for slot_key, _ in own])
            if instance.max_visits is not None:
                model.add(load <= instance.max_visits)
            model.add(self.top >= load)
            model.add(self.bottom <= load)

        # Each level: its expression, whether it is maximised, and the best value it could take
        # at all; an incumbent already there is optimal without asking the solver again.
        weights = need_weights(instance.slots)
        self.levels: list[tuple[cp_model.LinearExprT, bool, int]] = [
            (
                cp_model.LinearExpr.weighted_sum(*self._split(weights, self.covered)),
                True,
                sum(weights[key] for key in self.covered),
            )
        ]
        if instance.previous is not None:
            # Sorted: set order varies between processes, and term order steers the search.
            kept = sorted((key, s) for s, keys in instance.previous.items() for key in keys)
            movable = [self.x[pair] for pair in kept if pair in self.x]
            changes = len(kept) - cp_model.LinearExpr.sum(movable)
            self.levels.append((changes, False, len(kept) - len(movable)))
        self.top_level = len(self.levels)
        self.levels += [(self.top, False, 0), (self.top - self.bottom, False, 0)]
        self.needed = {slot.key: slot.visitors_needed for slot in instance.slots}
        branch = {slot.key: slot.branch for slot in instance.slots}
        horizon = instance.rotation_horizon
        costs = {
            pair: rotation_cost(instance.history.get((pair[0], branch[pair[1]]), 0), horizon)
            for pair in self.x
        }
        rotation = cp_model.LinearExpr.weighted_sum(*self._split(costs, self.x))
        self.levels.append((rotation, False, 0))

    @staticmethod
    def _split(
        weights: Mapping[K, int], variables: Mapping[K, cp_model.IntVar]
    ) -> tuple[list[cp_model.IntVar], list[int]]:
        keys = [key for key in variables if weights.get(key, 0)]
        return [variables[key] for key in keys], [weights[key] for key in keys]

    def load_floor(self, index: int, best: Mapping[str, Iterable[str]], top: int) -> int | None:
        """A better bound than 0 for the load levels once coverage is optimal and complete.

        When the coverage optimum staffs every meeting that can be staffed (all weights are
        positive, so then every optimum does), the number of visits V is fixed: somebody goes
        at least ceil(V / n) times, and with the largest load pinned at `top` somebody goes at
        most floor(V / n) times. An incumbent already at that bound is optimal without a
        solve, which is most of a commune's month (measured: 0.6 s down to 0.1 s).
        """
        if index not in (self.top_level, self.top_level + 1) or not self.visitors:
            return None
        if any(key not in best or not list(best[key]) for key in self.covered):
            return None
        visits = sum(self.needed[key] for key in self.covered)
        n = len(self.visitors)
        return -(-visits // n) if index == self.top_level else top - visits // n

    def hint(self, values: Mapping[cp_model.IntVar, int]) -> None:
        self.model.clear_hints()
        for var, value in values.items():
            self.model.add_hint(var, value)

    def read(
        self, solver: cp_model.CpSolver
    ) -> tuple[dict[cp_model.IntVar, int], dict[str, list[str]]]:
        """The solver's solution, both as hints for the next level and as a roster."""
        variables = [*self.x.values(), *self.covered.values()]
        values = {var: int(solver.value(var)) for var in variables}
        roster: dict[str, list[str]] = {}
        load = dict.fromkeys(self.visitors, 0)
        for (key, slot_key), var in self.x.items():
            if values[var]:
                roster.setdefault(slot_key, []).append(key)
                load[key] += 1
        # The real extremes, not whatever slack the solver left them: later levels pin them.
        values[self.top] = max(load.values())
        values[self.bottom] = min(load.values())
        return values, roster


def _well_formed(instance: Instance) -> bool:
    slot_keys = [slot.key for slot in instance.slots]
    visitor_keys = [visitor.key for visitor in instance.visitors]
    return (
        len(set(slot_keys)) == len(slot_keys)
        and len(set(visitor_keys)) == len(visitor_keys)
        and all(slot.visitors_needed >= 1 for slot in instance.slots)
        and (instance.max_visits is None or instance.max_visits >= 0)
    )


def _solution(
    instance: Instance,
    status: SolveStatus,
    roster: Mapping[str, Iterable[str]],
    gap: float,
    started: float,
) -> Solution:
    crews = {key: tuple(sorted(keys)) for key, keys in roster.items()}
    assignments = {s.key: crews[s.key] for s in instance.slots if crews.get(s.key)}
    return Solution(
        status=status,
        assignments=assignments,
        uncovered=tuple(s.key for s in instance.slots if s.key not in assignments),
        levels=evaluate(instance, assignments),
        gap=gap,
        wall_time=time.monotonic() - started,
        visitors=tuple(visitor.key for visitor in instance.visitors),
    )


def solve(instance: Instance, *, time_limit: float = 10.0, workers: int = 1) -> Solution:
    """The lexicographically best roster: coverage, [changes,] max load, spread, rotation.

    Each level is optimised with the levels before it pinned to their optimum, so no amount of
    a later goal can buy back a worse earlier one. Each level may use whatever time the earlier
    ones left; when the clock stops a level, its incumbent is returned as FEASIBLE with that
    level's relative gap (against the level's trivial bound if the solver had none yet).
    """
    started = time.monotonic()
    if not instance.visitors or not _well_formed(instance):
        return _solution(instance, SolveStatus.INFEASIBLE, {}, 0.0, started)
    roster = _Roster(instance)
    values: dict[cp_model.IntVar, int] = {}
    if instance.previous is not None:  # start the repair from the roster being repaired
        values = {
            roster.x[key, slot_key]: 1
            for slot_key, keys in instance.previous.items()
            for key in sorted(keys)
            if (key, slot_key) in roster.x
        }
    best: Mapping[str, Iterable[str]] = {}
    deadline = started + time_limit
    for index, (expr, maximise, trivial) in enumerate(roster.levels):
        reached_levels = evaluate(instance, best) if index else ()
        floor = None
        if index:
            floor = roster.load_floor(index, best, reached_levels[roster.top_level])
        ideal = trivial if floor is None else floor
        if index and reached_levels[index] == ideal:
            roster.model.add(expr == ideal)
            continue
        if floor is not None:
            # Proven above; said to the solver, it stops as soon as a roster reaches it.
            roster.model.add(expr >= floor)
        roster.hint(values)
        if maximise:
            roster.model.maximize(expr)
        else:
            roster.model.minimize(expr)
        # Measured: without presolve these small models solve about twice as fast, at 20-90
        # slots alike, since each level is a fresh solve and presolve is most of its cost.
        solver = new_solver(time_limit=deadline - time.monotonic(), workers=workers, presolve=False)
        result = solver.solve(roster.model)
        if result in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values, best = roster.read(solver)
        if result == cp_model.OPTIMAL:
            roster.model.add(expr == round(solver.objective_value))
            continue
        if result in (cp_model.FEASIBLE, cp_model.UNKNOWN):
            # Without a solution the solver's bound is a placeholder: use the level's own.
            reached = evaluate(instance, best)[index]
            bound = solver.best_objective_bound if result == cp_model.FEASIBLE else ideal
            gap = abs(reached - bound) / max(1, abs(reached)) if math.isfinite(bound) else 1.0
            if gap == 0.0:  # the incumbent meets the bound: optimal after all
                roster.model.add(expr == reached)
                continue
            return _solution(instance, SolveStatus.FEASIBLE, best, gap, started)
        return _solution(instance, SolveStatus.INFEASIBLE, {}, 0.0, started)
    return _solution(instance, SolveStatus.OPTIMAL, best, 0.0, started)
