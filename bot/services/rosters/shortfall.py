"""Why meetings stay unvisited, and what would fix it: computed from the instance, not guessed.

When a roster leaves a branch out, the group leader needs a reason they can act on ("seven
meetings at 19:30 on the 3rd and only five of you"), and a concrete way out: the fewest meetings
to move to another day their month's rule allows, or members of other groups who are free then.
Like the solver, this module is pure.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ortools.sat.python import cp_model

from bot.services.rosters.cpsat import new_solver
from bot.services.rosters.solver import (
    Instance,
    Solution,
    SolveStatus,
    Visitor,
    can_attend,
    conflict_cliques,
)


class Reason(enum.StrEnum):
    CROWDED = "crowded"
    NOBODY_FREE = "nobody_free"
    LOAD_CAP = "load_cap"


@dataclass(frozen=True)
class Shortfall:
    """One uncovered slot and the facts behind it (the cluster is filled for every reason)."""

    slot: str
    reason: Reason
    start: datetime
    meetings: int
    people: int
    blocking: tuple[str, ...]


@dataclass(frozen=True)
class Move:
    slot: str
    start: datetime
    to: datetime


@dataclass(frozen=True)
class MovePlan:
    moves: tuple[Move, ...]
    status: SolveStatus


def explain(instance: Instance, solution: Solution) -> list[Shortfall]:
    """One `Shortfall` per uncovered slot, in instance order.

    NOBODY_FREE: fewer people could go at all than the meeting needs (with one needed: nobody).
    LOAD_CAP: enough could go, but too few of them are below the per-quarter visit cap.
    CROWDED: otherwise, i.e. the people who could go are taken by meetings at about that time.
    """
    uncovered = set(solution.uncovered)
    load = solution.load()
    found: list[Shortfall] = []
    for slot in instance.slots:
        if slot.key not in uncovered:
            continue
        able = [v for v in instance.visitors if can_attend(v, slot.branch, slot.start)]
        cluster = tuple(
            other.key
            for other in instance.slots
            if other.key != slot.key and abs(other.start - slot.start) < instance.gap
        )
        if len(able) < slot.visitors_needed:
            reason = Reason.NOBODY_FREE
        elif (
            instance.max_visits is not None
            and sum(load.get(v.key, 0) < instance.max_visits for v in able) < slot.visitors_needed
        ):
            reason = Reason.LOAD_CAP
        else:
            reason = Reason.CROWDED
        found.append(Shortfall(slot.key, reason, slot.start, 1 + len(cluster), len(able), cluster))
    return found


def _options(start: datetime, window: Iterable[datetime]) -> list[datetime]:
    """The slot's own start first, then its window by closeness (a day's shift before two)."""
    others = sorted({when for when in window if when != start}, key=lambda w: (abs(w - start), w))
    return [start, *others]


def suggest_moves(instance: Instance, *, time_limit: float = 5.0) -> MovePlan | None:
    """The fewest meeting moves, each within the meeting's window, after which all can be covered.

    Ties go to moves closer to the original start. None when no choice of starts covers every
    meeting (or the solver found no such choice within the time limit); an empty plan when the
    meetings can all be covered where they are.

    Solved in two steps because the exact model is slow to *disprove*: its visitors are
    interchangeable, so CP-SAT explores symmetric assignments for seconds before it knows that
    a crowded district has no way out. First a relaxation that counts people instead of naming
    them (at any moment, meetings in progress need at most the people free that day); it is
    small and settles infeasibility at once. Its best choice of starts is then checked with the
    named people: when they can staff it, it is optimal for the exact problem too (the
    relaxation's cost is a lower bound), which is the usual case. Only otherwise does the exact
    model run, hinted and bounded by the relaxation.
    """
    if not instance.slots:
        return MovePlan((), SolveStatus.OPTIMAL)
    options = [_options(slot.start, slot.window) for slot in instance.slots]
    usable: dict[tuple[int, int], list[str]] = {}
    for s, slot in enumerate(instance.slots):
        for o, when in enumerate(options[s]):
            able = [v.key for v in instance.visitors if can_attend(v, slot.branch, when)]
            if len(able) >= slot.visitors_needed:
                usable[s, o] = able
        if not any((s, o) in usable for o in range(len(options[s]))):
            return None
    deadline = time.perf_counter() + max(time_limit, 0.001)
    relaxed = _solve_moves(instance, options, usable, None, deadline, exact=False)
    if relaxed is None:
        return None
    picks, bound, _ = relaxed
    fixed = {(s, o): keys for (s, o), keys in usable.items() if picks.get(s) == o}
    staffed = _solve_moves(instance, options, fixed, None, deadline, exact=True)
    if staffed is not None:
        return _plan(instance, options, picks, SolveStatus.OPTIMAL)
    exact = _solve_moves(instance, options, usable, (picks, bound), deadline, exact=True)
    if exact is None:
        return None
    picks, _, status = exact
    return _plan(instance, options, picks, status)


def _plan(
    instance: Instance, options: list[list[datetime]], picks: dict[int, int], status: SolveStatus
) -> MovePlan:
    moves = tuple(
        Move(instance.slots[s].key, options[s][0], options[s][o])
        for s, o in sorted(picks.items())
        if o
    )
    return MovePlan(moves, status)


def _solve_moves(
    instance: Instance,
    options: list[list[datetime]],
    usable: Mapping[tuple[int, int], list[str]],
    hint: tuple[dict[int, int], int] | None,
    deadline: float,
    *,
    exact: bool,
) -> tuple[dict[int, int], int, SolveStatus] | None:
    """Choose one start per slot, minimising moves (then closeness); `exact` names the people,
    else only counts them per day. None when infeasible or out of time."""
    model = cp_model.CpModel()
    chosen = {key: model.new_bool_var("") for key in usable}
    for s in range(len(instance.slots)):
        model.add_exactly_one(chosen[s, o] for o in range(len(options[s])) if (s, o) in chosen)
    need = {s: slot.visitors_needed for s, slot in enumerate(instance.slots)}
    starts = [((s, o), options[s][o]) for s, o in chosen]
    if exact:
        schedule: dict[str, list[tuple[tuple[int, int], datetime]]] = {}
        goes: dict[tuple[str, int, int], cp_model.IntVar] = {}
        for (s, o), able in usable.items():
            for key in able:
                goes[key, s, o] = model.new_bool_var("")
                schedule.setdefault(key, []).append(((s, o), options[s][o]))
            crew = cp_model.LinearExpr.sum([goes[key, s, o] for key in able])
            model.add(crew == need[s] * chosen[s, o])
        for key, own in schedule.items():
            for clique in conflict_cliques(own, instance.gap):
                model.add_at_most_one(goes[key, s, o] for s, o in clique)
            if instance.max_visits is not None:
                visits = cp_model.LinearExpr.sum([goes[key, s, o] for (s, o), _ in own])
                model.add(visits <= instance.max_visits)
    else:
        for clique in conflict_cliques(starts, instance.gap):
            days = {options[s][o].date() for s, o in clique}
            free = sum(any(day not in v.unavailable for day in days) for v in instance.visitors)
            model.add(
                cp_model.LinearExpr.weighted_sum(
                    [chosen[key] for key in clique], [need[key[0]] for key in clique]
                )
                <= free
            )
        if instance.max_visits is not None:
            total = cp_model.LinearExpr.weighted_sum(
                list(chosen.values()), [need[s] for s, _ in chosen]
            )
            model.add(total <= instance.max_visits * len(instance.visitors))
    # A move costs more than all tie-breaking ranks together, so the count of moves comes first.
    per_move = 1 + sum(len(opts) - 1 for opts in options)
    moved = [(var, per_move + o) for (s, o), var in chosen.items() if o]
    cost = cp_model.LinearExpr.weighted_sum([v for v, _ in moved], [c for _, c in moved])
    model.minimize(cost)
    if hint is not None:
        picks, bound = hint
        model.add(cost >= bound)
        for (s, o), var in chosen.items():
            model.add_hint(var, picks.get(s) == o)
    solver = new_solver(time_limit=deadline - time.perf_counter())
    result = solver.solve(model)
    if result not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    picks = {s: o for (s, o), var in chosen.items() if solver.value(var)}
    status = SolveStatus.OPTIMAL if result == cp_model.OPTIMAL else SolveStatus.FEASIBLE
    return picks, int(solver.objective_value), status


def apply_moves(instance: Instance, plan: MovePlan) -> Instance:
    """The instance with the plan's meetings at their new starts, the old start now in the window.

    Lets a caller (and the tests) re-solve the "what if we move these" instance directly."""
    moves = {move.slot: move for move in plan.moves}
    slots = []
    for slot in instance.slots:
        move = moves.pop(slot.key, None)
        if move is None:
            slots.append(slot)
            continue
        if move.start != slot.start:
            raise ValueError(f"stale move for {slot.key}: it starts at {slot.start}")
        window = tuple(sorted({*slot.window, slot.start} - {move.to}))
        slots.append(replace(slot, start=move.to, window=window))
    if moves:
        raise ValueError(f"moves for unknown slots: {', '.join(sorted(moves))}")
    return replace(instance, slots=tuple(slots))


def free_at(
    start: datetime,
    gap: timedelta,
    visitors: Iterable[Visitor],
    busy: Mapping[str, Iterable[datetime]],
) -> list[str]:
    """Members (in the given order) free for a meeting at `start`: not off that day, not booked
    within `gap` of it. Names people from other groups who could step in."""
    return [
        visitor.key
        for visitor in visitors
        if start.date() not in visitor.unavailable
        and all(abs(other - start) >= gap for other in busy.get(visitor.key, ()))
    ]
