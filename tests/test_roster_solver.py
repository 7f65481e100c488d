"""The visiting roster solver: hard constraints always hold, and every level is truly optimal.

The property test compares the solver with a brute force that enumerates every roster of a small
instance, so "optimal" is checked against ground truth rather than against the solver itself.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from itertools import combinations, product
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.rosters.solver import (
    Instance,
    Slot,
    SolveStatus,
    Visitor,
    conflict_cliques,
    is_valid,
    need_weights,
    rotation_cost,
    solve,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY_3, DAY_4 = date(2026, 3, 3), date(2026, 3, 4)


def at(day: int, hour: int = 19, minute: int = 30, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def pairs(assignments: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    return {(slot, visitor) for slot, visitors in assignments.items() for visitor in visitors}


# --- ground truth, written independently of the module --------------------------------------


def violations(instance: Instance, roster: Mapping[str, Sequence[str]]) -> list[str]:
    slots = {slot.key: slot for slot in instance.slots}
    people = {visitor.key: visitor for visitor in instance.visitors}
    found = []
    starts: dict[str, list[datetime]] = {}
    for slot_key, keys in roster.items():
        slot = slots[slot_key]
        if len(set(keys)) != slot.visitors_needed or len(keys) != slot.visitors_needed:
            found.append(f"{slot_key} understaffed")
        for key in keys:
            visitor = people[key]
            if visitor.own_branch == slot.branch or slot.start.date() in visitor.unavailable:
                found.append(f"{key} cannot go to {slot_key}")
            starts.setdefault(key, []).append(slot.start)
    for key, own in starts.items():
        if any(abs(a - b) < instance.gap for a, b in combinations(own, 2)):
            found.append(f"{key} double-booked")
        if instance.max_visits is not None and len(own) > instance.max_visits:
            found.append(f"{key} over the cap")
    return found


def score(instance: Instance, roster: Mapping[str, Sequence[str]]) -> tuple[int, ...]:
    weights = need_weights(instance.slots)
    branch = {slot.key: slot.branch for slot in instance.slots}
    load = {visitor.key: 0 for visitor in instance.visitors}
    for keys in roster.values():
        for key in keys:
            load[key] += 1
    levels = [sum(weights[slot_key] for slot_key, keys in roster.items() if keys)]
    if instance.previous is not None:
        levels.append(
            sum(
                key not in roster.get(slot_key, ())
                for slot_key, keys in instance.previous.items()
                for key in keys
            )
        )
    levels += [max(load.values()), max(load.values()) - min(load.values())]
    horizon = instance.rotation_horizon
    rotation = 0
    for slot_key, keys in roster.items():
        for key in keys:
            ago = instance.history.get((key, branch[slot_key]), 0)
            rotation += horizon + 1 - ago if 1 <= ago <= horizon else 0
    levels.append(rotation)
    return tuple(levels)


def brute_force(instance: Instance) -> tuple[int, ...]:
    """The lexicographic optimum over every roster (each slot: uncovered or one k-subset)."""
    choices = []
    for slot in instance.slots:
        able = [
            v.key
            for v in instance.visitors
            if v.own_branch != slot.branch and slot.start.date() not in v.unavailable
        ]
        choices.append([(), *combinations(able, slot.visitors_needed)])
    best: tuple[int, ...] | None = None
    for pick in product(*choices):
        roster = {slot.key: crew for slot, crew in zip(instance.slots, pick, strict=True) if crew}
        if violations(instance, roster):
            continue
        levels = score(instance, roster)
        if best is None or (-levels[0], *levels[1:]) < (-best[0], *best[1:]):
            best = levels
    assert best is not None  # the empty roster is always valid
    return best


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    branches = ["A", "B", "C", "D"]
    dates = draw(st.lists(st.sampled_from([DAY_3, DAY_4]), min_size=1, max_size=2, unique=True))
    slots = []
    for i in range(draw(st.integers(1, 5))):
        hour, minute = draw(st.sampled_from([(8, 0), (19, 30), (20, 0)]))
        offset = timedelta(minutes=draw(st.sampled_from([0, 0, 20, 45, 150])))
        start = datetime.combine(draw(st.sampled_from(dates)), time(hour, minute), TZ) + offset
        slots.append(
            Slot(
                key=f"S{i}",
                branch=draw(st.sampled_from(branches)),
                start=start,
                visited_this_year=draw(st.booleans()),
                quarters_since_visit=draw(st.none() | st.integers(0, 10)),
                visitors_needed=draw(st.sampled_from([1, 1, 2])),
            )
        )
    visitors = tuple(
        Visitor(
            key=f"V{i}",
            own_branch=draw(st.none() | st.sampled_from(branches)),
            unavailable=frozenset(draw(st.lists(st.sampled_from(dates), max_size=1))),
        )
        for i in range(draw(st.integers(1, 3)))
    )
    history = draw(
        st.dictionaries(
            st.tuples(st.sampled_from([v.key for v in visitors]), st.sampled_from(branches)),
            st.integers(1, 6),
            max_size=4,
        )
    )
    previous = None
    if draw(st.booleans()):
        keys = [v.key for v in visitors]
        previous = {
            slot_key: frozenset(draw(st.lists(st.sampled_from(keys), max_size=2)))
            for slot_key in draw(st.lists(st.sampled_from([*(s.key for s in slots), "GONE"])))
        }
    return Instance(
        slots=tuple(slots),
        visitors=visitors,
        history=history,
        previous=previous,
        gap=draw(st.sampled_from([timedelta(hours=3), timedelta(minutes=30)])),
        max_visits=draw(st.sampled_from([None, 1, 2])),
    )


@given(instances())
@settings(max_examples=60, deadline=None)
def test_solution_is_valid_and_lexicographically_optimal_against_brute_force(
    instance: Instance,
) -> None:
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert is_valid(instance, solution.assignments) == []
    assert violations(instance, solution.assignments) == []
    assert solution.levels == score(instance, solution.assignments)
    assert solution.levels == brute_force(instance)
    assert solution.uncovered == tuple(
        s.key for s in instance.slots if s.key not in solution.assignments
    )
    assert all(list(keys) == sorted(keys) for keys in solution.assignments.values())
    assert set(solution.load()) == {v.key for v in instance.visitors}


# --- the pieces -------------------------------------------------------------------------------


def test_need_weights_rank_a_branch_not_visited_this_year_above_all_visited_ones() -> None:
    slots = [
        Slot("A", "A", at(3), visited_this_year=True),  # never visited: 1 + 8
        Slot("B", "B", at(3), visited_this_year=True, quarters_since_visit=2),
        Slot("C", "C", at(3), quarters_since_visit=1),
        Slot("D", "D", at(3), visited_this_year=True, quarters_since_visit=20),
    ]
    weights = need_weights(slots)
    assert weights == {"A": 9, "B": 3, "C": 2 + (1 + 9 + 3 + 9), "D": 9}
    assert weights["C"] > weights["A"] + weights["B"] + weights["D"]


def test_rotation_cost_is_highest_for_last_quarter_and_zero_beyond_the_horizon() -> None:
    assert [rotation_cost(ago, 4) for ago in range(6)] == [0, 4, 3, 2, 1, 0]


def test_conflict_cliques_are_the_maximal_runs_of_close_starts() -> None:
    items = [("d", at(3, 23, 0)), ("a", at(3, 19, 30)), ("c", at(3, 21, 0)), ("b", at(3, 20, 0))]
    assert conflict_cliques(items, timedelta(hours=3)) == [("a", "b", "c"), ("c", "d")]
    assert conflict_cliques(items, timedelta(0)) == []


def test_is_valid_names_every_broken_hard_constraint() -> None:
    instance = Instance(
        slots=(
            Slot("a", "A", at(3)),
            Slot("b", "B", at(3, 20, 0)),
            Slot("c", "C", at(4), visitors_needed=2),
        ),
        visitors=(Visitor("v", own_branch="A"), Visitor("w", unavailable=frozenset({DAY_4}))),
        max_visits=1,
    )
    problems = is_valid(instance, {"a": ["v"], "b": ["v"], "c": ["w"], "x": ["v"]})
    assert problems == [
        "v visits own branch at a",
        "c: 1 of 2 visitors",
        "w is unavailable on 2026-03-04 (c)",
        "unknown slot x",
        "v at a and b: too close",
        "v has 2 visits, more than 1",
    ]
    assert is_valid(instance, {"b": ["v"], "c": []}) == []


# --- behaviour --------------------------------------------------------------------------------


def test_one_visitor_is_never_at_two_meetings_less_than_the_gap_apart() -> None:
    instance = Instance(
        slots=(Slot("a", "A", at(3), quarters_since_visit=1), Slot("b", "B", at(3, 22, 29))),
        visitors=(Visitor("v"),),
    )
    solution = solve(instance)
    assert solution.assignments == {"b": ("v",)}  # b never visited: weighs more
    assert solution.uncovered == ("a",)


def test_a_branch_not_visited_this_year_wins_over_two_visited_ones() -> None:
    instance = Instance(
        slots=(
            Slot("old1", "A", at(3), visited_this_year=True),
            Slot("new", "B", at(3, 20, 0)),
            Slot("old2", "C", at(3, 20, 30), visited_this_year=True),
        ),
        visitors=(Visitor("v"), Visitor("w", unavailable=frozenset({DAY_3}))),
        gap=timedelta(minutes=45),
    )
    assert solve(instance).assignments == {"new": ("v",)}


def test_load_is_spread_evenly_six_meetings_three_visitors_two_each() -> None:
    slots = tuple(Slot(f"s{day}", f"B{day}", at(day)) for day in range(3, 9))
    instance = Instance(slots, (Visitor("x"), Visitor("y"), Visitor("z")))
    solution = solve(instance)
    assert solution.uncovered == ()
    assert solution.load() == {"x": 2, "y": 2, "z": 2}
    assert solution.levels[1:] == (2, 0, 0)


def test_load_counts_idle_visitors() -> None:
    instance = Instance((Slot("a", "A", at(3)),), (Visitor("x", own_branch="A"), Visitor("y")))
    assert solve(instance).load() == {"x": 0, "y": 1}


def test_rotation_sends_someone_else_to_the_branch_visited_last_quarter() -> None:
    visitors = (Visitor("x"), Visitor("y"))
    first = solve(Instance((Slot("A:2026-01", "A", at(3, month=1)),), visitors))
    (went,) = first.assignments["A:2026-01"]
    second = solve(
        Instance((Slot("A:2026-04", "A", at(3, month=4)),), visitors, history={(went, "A"): 1})
    )
    assert second.assignments["A:2026-04"] != (went,)
    assert second.levels[-1] == 0


def test_rotation_prefers_the_older_repeat_when_both_have_visited() -> None:
    instance = Instance(
        (Slot("a", "A", at(3)),),
        (Visitor("x"), Visitor("y")),
        history={("x", "A"): 1, ("y", "A"): 3},
    )
    solution = solve(instance)
    assert solution.assignments == {"a": ("y",)}
    assert solution.levels[-1] == rotation_cost(3, 4)


def test_nobody_to_send_is_infeasible_and_no_meetings_is_an_empty_optimum() -> None:
    slots = (Slot("a", "A", at(3)), Slot("b", "B", at(4)))
    nobody = solve(Instance(slots, ()))
    assert nobody.status is SolveStatus.INFEASIBLE
    assert nobody.uncovered == ("a", "b") and nobody.assignments == {}
    nothing = solve(Instance((), (Visitor("x"),)))
    assert nothing.status is SolveStatus.OPTIMAL
    assert nothing.levels == (0, 0, 0, 0)


def test_malformed_instance_is_infeasible() -> None:
    duplicate = (Slot("a", "A", at(3)), Slot("a", "B", at(4)))
    assert solve(Instance(duplicate, (Visitor("x"),))).status is SolveStatus.INFEASIBLE


def test_empty_roster_when_nobody_can_attend_is_still_optimal() -> None:
    instance = Instance(
        (Slot("a", "A", at(3), visitors_needed=2),), (Visitor("x"), Visitor("y", own_branch="A"))
    )
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.uncovered == ("a",)


def test_same_instance_gives_the_same_roster() -> None:
    instance = generated(16, 6, seed=3)
    assert solve(instance).assignments == solve(instance).assignments


def test_a_cut_solve_still_returns_a_valid_roster() -> None:
    instance = generated(30, 10, seed=5)
    solution = solve(instance, time_limit=0.0)
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert is_valid(instance, solution.assignments) == []
    assert solution.gap >= 0.0
    assert (solution.gap == 0.0) == (solution.status is SolveStatus.OPTIMAL)


# --- repair -----------------------------------------------------------------------------------


def test_repair_after_a_day_off_changes_only_the_invalidated_pair() -> None:
    slots = tuple(Slot(f"s{day}", f"B{day}", at(day)) for day in range(3, 9))
    visitors = (Visitor("x"), Visitor("y"), Visitor("z"))
    before = solve(Instance(slots, visitors))
    slot_key, (visitor_key,) = next(iter(before.assignments.items()))
    day_off = next(s.start.date() for s in slots if s.key == slot_key)
    changed = tuple(
        Visitor(v.key, unavailable=frozenset({day_off})) if v.key == visitor_key else v
        for v in visitors
    )
    previous = {key: frozenset(keys) for key, keys in before.assignments.items()}
    after = solve(Instance(slots, changed, previous=previous))
    assert after.uncovered == ()
    assert after.levels[1] == 1
    assert pairs(before.assignments) - pairs(after.assignments) == {(slot_key, visitor_key)}
    assert is_valid(Instance(slots, changed), after.assignments) == []


def test_repair_after_a_meeting_moves_changes_the_brute_force_minimum() -> None:
    visitors = (Visitor("x", own_branch="A"), Visitor("y"), Visitor("z", own_branch="C"))
    slots = [
        Slot("a", "A", at(3)),
        Slot("b", "B", at(4)),
        Slot("c", "C", at(3, 8, 0), visitors_needed=2),
        Slot("d", "D", at(4, 8, 0)),
    ]
    before = solve(Instance(tuple(slots), visitors, max_visits=2))
    assert before.uncovered == ()
    # Move b to half an hour after another meeting of one of its visitors: a forced clash.
    (goer,) = before.assignments["b"]
    other = next(s for s in slots if s.key != "b" and goer in before.assignments[s.key])
    slots[1] = Slot("b", "B", other.start + timedelta(minutes=30))
    previous = {key: frozenset(keys) for key, keys in before.assignments.items()}
    repaired = Instance(tuple(slots), visitors, previous=previous, max_visits=2)
    after = solve(repaired)
    assert after.levels == brute_force(repaired)
    assert after.levels[1] >= 1
    assert violations(repaired, after.assignments) == []


def test_repair_counts_pairs_of_removed_meetings_as_forced_changes() -> None:
    slots = (Slot("a", "A", at(3)),)
    previous = {"a": frozenset({"x"}), "gone": frozenset({"x", "y"})}
    solution = solve(Instance(slots, (Visitor("x"), Visitor("y")), previous=previous))
    assert solution.assignments == {"a": ("x",)}
    assert solution.levels[1] == 2


# --- speed ------------------------------------------------------------------------------------


def generated(n_slots: int, n_visitors: int, seed: int) -> Instance:
    """A quarter like the real ones: meetings on days 3-5 of each month, mostly at 19:30."""
    rnd = random.Random(seed)
    n_branches = -(-n_slots // 3)
    slots = []
    for i in range(n_slots):
        branch, month = f"B{i % n_branches:02d}", 1 + i // n_branches
        day = rnd.choice([3, 3, 4, 5])
        hour, minute = rnd.choice([(19, 30), (19, 30), (20, 0), (8, 0)])
        slots.append(
            Slot(
                key=f"{branch}:2026-{month:02d}",
                branch=branch,
                start=at(day, hour, minute, month),
                visited_this_year=rnd.random() < 0.5,
                quarters_since_visit=rnd.choice([None, 1, 2, 3, 5]),
                visitors_needed=2 if rnd.random() < 0.2 else 1,
                window=tuple(at(d, hour, minute, month) for d in (3, 4, 5) if d != day),
            )
        )
    visitors = tuple(
        Visitor(
            key=f"V{i}",
            own_branch=f"B{rnd.randrange(n_branches):02d}" if rnd.random() < 0.7 else None,
            unavailable=frozenset(
                date(2026, rnd.randint(1, 3), rnd.choice([3, 4, 5]))
                for _ in range(rnd.randrange(3))
            ),
        )
        for i in range(n_visitors)
    )
    history = {
        (f"V{rnd.randrange(n_visitors)}", f"B{rnd.randrange(n_branches):02d}"): rnd.randint(1, 6)
        for _ in range(2 * n_visitors)
    }
    return Instance(tuple(slots), visitors, history, max_visits=rnd.choice([None, 3, 4]))


def test_a_quarter_of_twenty_meetings_and_seven_visitors_solves_optimally_within_a_second() -> None:
    instance = generated(20, 7, seed=1)
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.wall_time < 1.0
    assert is_valid(instance, solution.assignments) == []
