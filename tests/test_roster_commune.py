"""A 2026 commune committee's monthly assignment: its members to its branches' meetings.

The sample `commune` shape (50 branches, a committee of 20, no level above it) gives the
instance the draft job would build for one month: every branch's regular meeting, every
committee member a visitor who never attends their own branch. The roster must be proven
optimal within a second (the issue's acceptance) and respect every hard rule.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.sample_org import build_sample
from bot.services.rosters.solver import Instance, Slot, SolveStatus, Visitor, is_valid, solve
from bot.services.vn_calendar import rule_date

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def commune_month(year: int, month: int, per_meeting: int = 1) -> Instance:
    org = build_sample("commune", 1, seed=0).tables
    slots = []
    for row in org["branches"]:
        hour, minute = (int(part) for part in row["meeting_time"].split(":"))
        day = rule_date(year, month, int(row["meeting_day"]))
        start = datetime.combine(day, time(hour, minute), tzinfo=TZ)
        slots.append(Slot(row["code"], row["code"], start, visitors_needed=per_meeting))
    home = {m["code"]: m["branch_code"] for m in org["members"]}
    committee = [r["member_code"] for r in org["working_group_members"]]
    visitors = tuple(Visitor(code, own_branch=home[code]) for code in committee)
    return Instance(tuple(slots), visitors)


def test_commune_committee_month_of_50_branches_and_20_members_is_optimal_within_a_second() -> None:
    instance = commune_month(2027, 1)
    assert (len(instance.slots), len(instance.visitors)) == (50, 20)
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.wall_time < 1.0
    assert is_valid(instance, solution.assignments) == []
    assert solution.uncovered == ()  # 20 members cover all 50 meetings of January
    assert max(solution.load().values()) == 3  # ceil(50 / 20): nobody goes more than needed


def test_commune_committee_never_sends_a_member_to_their_own_branch() -> None:
    instance = commune_month(2027, 3)
    own = {v.key: v.own_branch for v in instance.visitors}
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert all(own[key] != slot for slot, keys in solution.assignments.items() for key in keys)
    assert any(own[v.key] in {s.branch for s in instance.slots} for v in instance.visitors)


def test_commune_committee_with_two_members_per_meeting_is_still_proven_optimal() -> None:
    instance = commune_month(2027, 1, per_meeting=2)
    solution = solve(instance)
    assert solution.status is SolveStatus.OPTIMAL
    assert is_valid(instance, solution.assignments) == []
    assert all(len(keys) == 2 for keys in solution.assignments.values())
