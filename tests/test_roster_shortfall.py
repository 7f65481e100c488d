"""Why meetings stay unvisited and which moves would fix it: facts and minimal plans, checked."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.rosters.shortfall import (
    Move,
    MovePlan,
    Reason,
    apply_moves,
    explain,
    free_at,
    suggest_moves,
)
from bot.services.rosters.solver import Instance, Slot, SolveStatus, Visitor, is_valid, solve

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int = 19, minute: int = 30) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


def crowded(branches: int, visitors: int) -> Instance:
    """Every branch meets on the 3rd at 19:30; the month's rule would allow the 4th or 5th too."""
    slots = tuple(
        Slot(f"B{i}:2026-03", f"B{i}", at(3), window=(at(4), at(5))) for i in range(branches)
    )
    people = tuple(Visitor(f"V{i}") for i in range(visitors))
    return Instance(slots, people)


def fewest_moves(instance: Instance) -> int | None:
    """Brute force: the fewest slots to move within their windows so that solve covers all."""
    fewest = None
    options = [(slot.start, *slot.window) for slot in instance.slots]
    for starts in product(*options):
        moved = [s for s, start in zip(instance.slots, starts, strict=True) if start != s.start]
        if fewest is not None and len(moved) >= fewest:
            continue
        slots = tuple(
            replace(s, start=start) for s, start in zip(instance.slots, starts, strict=True)
        )
        if solve(replace(instance, slots=slots)).uncovered == ():
            fewest = len(moved)
    return fewest


def test_seven_meetings_at_one_time_for_five_people_are_crowded() -> None:
    instance = crowded(7, 5)
    solution = solve(instance)
    assert len(solution.uncovered) == 2
    shortfalls = explain(instance, solution)
    assert [s.slot for s in shortfalls] == list(solution.uncovered)
    for shortfall in shortfalls:
        assert shortfall.reason is Reason.CROWDED
        assert (shortfall.meetings, shortfall.people) == (7, 5)
        assert shortfall.start == at(3)
        others = {s.key for s in instance.slots} - {shortfall.slot}
        assert set(shortfall.blocking) == others and len(shortfall.blocking) == 6


def test_moves_for_the_crowded_evening_give_full_coverage() -> None:
    instance = crowded(7, 5)
    plan = suggest_moves(instance)
    assert plan is not None and plan.status is SolveStatus.OPTIMAL
    assert len(plan.moves) == 2
    assert all(move.start == at(3) and move.to in (at(4), at(5)) for move in plan.moves)
    assert all(move.to == at(4) for move in plan.moves)  # ties go to the closest day
    moved = apply_moves(instance, plan)
    assert solve(moved).uncovered == ()


def test_moves_are_the_fewest_possible_by_brute_force() -> None:
    # Four meetings on the 3rd, two people; y is off on the 4th and the cap is two visits each.
    people = (Visitor("x"), Visitor("y", unavailable=frozenset({date(2026, 3, 4)})))
    slots = tuple(Slot(f"s{i}", f"B{i}", at(3), window=(at(4), at(5, 8, 0))) for i in range(4))
    instance = Instance(slots, people, max_visits=2)
    plan = suggest_moves(instance)
    assert plan is not None
    assert solve(apply_moves(instance, plan)).uncovered == ()
    assert len(plan.moves) == 2 == fewest_moves(instance)


def test_moves_respect_a_day_off_on_the_new_date() -> None:
    people = (Visitor("x", unavailable=frozenset({date(2026, 3, 4)})),)
    slots = (
        Slot("a", "A", at(3), window=(at(4), at(5))),
        Slot("b", "B", at(3), window=(at(4), at(5))),
    )
    plan = suggest_moves(Instance(slots, people))
    assert plan is not None
    (move,) = plan.moves
    assert move.to == at(5)


def test_no_moves_needed_when_everything_is_already_covered() -> None:
    assert suggest_moves(crowded(3, 3)) == MovePlan((), SolveStatus.OPTIMAL)


def test_no_plan_when_no_choice_of_starts_covers_everything() -> None:
    assert suggest_moves(crowded(4, 1)) is None  # three evenings, one person
    assert suggest_moves(crowded(2, 0)) is None
    own = Instance((Slot("a", "A", at(3), window=(at(4),)),), (Visitor("x", own_branch="A"),))
    assert suggest_moves(own) is None


def test_apply_moves_rejects_a_stale_plan() -> None:
    instance = crowded(2, 1)
    with pytest.raises(ValueError, match="stale"):
        apply_moves(instance, MovePlan((Move("B0:2026-03", at(4), at(5)),), SolveStatus.OPTIMAL))
    with pytest.raises(ValueError, match="unknown"):
        apply_moves(instance, MovePlan((Move("nope", at(3), at(5)),), SolveStatus.OPTIMAL))


def test_apply_moves_puts_the_old_start_into_the_window() -> None:
    instance = crowded(1, 1)
    plan = MovePlan((Move("B0:2026-03", at(3), at(5)),), SolveStatus.OPTIMAL)
    (slot,) = apply_moves(instance, plan).slots
    assert (slot.start, slot.window) == (at(5), (at(3), at(4)))


def test_nobody_free_when_everyone_is_off_or_from_that_branch() -> None:
    instance = Instance(
        (Slot("a", "A", at(3)), Slot("b", "B", at(3, 8, 0), visitors_needed=2)),
        (Visitor("x", own_branch="A"), Visitor("y", unavailable=frozenset({date(2026, 3, 3)}))),
    )
    shortfalls = explain(instance, solve(instance))
    assert [(s.slot, s.reason, s.people) for s in shortfalls] == [
        ("a", Reason.NOBODY_FREE, 0),
        ("b", Reason.NOBODY_FREE, 1),
    ]


def test_load_cap_when_every_eligible_visitor_has_used_their_visits() -> None:
    instance = Instance(
        (Slot("a", "A", at(3)), Slot("b", "B", at(4), quarters_since_visit=1)),
        (Visitor("x"),),
        max_visits=1,
    )
    solution = solve(instance)
    assert solution.uncovered == ("b",)
    (shortfall,) = explain(instance, solution)
    assert (shortfall.reason, shortfall.people, shortfall.meetings) == (Reason.LOAD_CAP, 1, 1)


def test_explain_is_empty_when_everything_is_covered() -> None:
    instance = crowded(3, 3)
    assert explain(instance, solve(instance)) == []


def test_free_at_names_people_neither_off_nor_busy_within_the_gap() -> None:
    people = [
        Visitor("busy"),
        Visitor("off", unavailable=frozenset({date(2026, 3, 3)})),
        Visitor("morning"),
        Visitor("idle"),
        Visitor("edge"),
    ]
    busy = {
        "busy": [at(3, 21, 0)],
        "off": [],
        "morning": [at(3, 8, 0), at(4)],
        "edge": [at(3, 22, 30)],  # exactly the gap away: free
    }
    assert free_at(at(3), timedelta(hours=3), people, busy) == ["morning", "idle", "edge"]


def test_suggested_plan_is_valid_on_a_mixed_instance() -> None:
    people = (Visitor("x", own_branch="B0"), Visitor("y"), Visitor("z"))
    slots = tuple(
        Slot(f"B{i}", f"B{i}", at(3, 19 + i % 2, 0), visitors_needed=1 + i % 2, window=(at(4),))
        for i in range(4)
    )
    instance = Instance(slots, people)
    plan = suggest_moves(instance)
    assert plan is not None
    moved = apply_moves(instance, plan)
    solution = solve(moved)
    assert solution.uncovered == ()
    assert is_valid(moved, solution.assignments) == []
    assert len(plan.moves) == fewest_moves(instance)


@st.composite
def movable(draw: st.DrawFn) -> Instance:
    days = [3, 4]
    off_days = [date(2026, 3, day) for day in (3, 4, 5)]
    slots = tuple(
        Slot(
            key=f"s{i}",
            branch=draw(st.sampled_from("ABC")),
            start=at(draw(st.sampled_from(days)), *draw(st.sampled_from([(19, 30), (20, 0)]))),
            visitors_needed=draw(st.sampled_from([1, 1, 1, 2])),
            window=(at(draw(st.sampled_from([4, 5])), 8, 0),),
        )
        for i in range(draw(st.integers(1, 4)))
    )
    people = tuple(
        Visitor(
            f"V{i}",
            own_branch=draw(st.none() | st.sampled_from("ABC")),
            unavailable=frozenset(draw(st.lists(st.sampled_from(off_days), max_size=1))),
        )
        for i in range(draw(st.integers(1, 3)))
    )
    return Instance(slots, people, max_visits=draw(st.sampled_from([None, 1, 2])))


@given(movable())
@settings(max_examples=25, deadline=None)
def test_suggested_moves_are_as_few_as_brute_force_finds(instance: Instance) -> None:
    plan = suggest_moves(instance)
    fewest = fewest_moves(instance)
    assert (plan is None) == (fewest is None)
    if plan is not None:
        assert plan.status is SolveStatus.OPTIMAL
        assert len(plan.moves) == fewest
        moved = apply_moves(instance, plan)
        assert solve(moved).uncovered == ()
