"""The older district shape: a district committee over communes and towns, each with its
village or residential branches and its schools, clinic, police and other branches, and the
district's working groups that visit the village and residential branches every quarter.

One district follows published figures for a real suburban district: 16 communes and towns
(one town), 129 village and residential branches (9 residential groups in the town, 8
villages in each commune), 144 other branches (9 in each commune and town), the district
office's branch, 8 working groups of district staff visiting two communes each, about 7,000
members. `districts=N` makes N such districts side by side, a city-scale organisation
(30 districts: about 8,200 branches and 209,000 members).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.sample_org.names import DISTRICT_NAMES, PLACE_NAMES, VILLAGE_NAMES
from bot.sample_org.org import SampleOrg
from storage.models.org import BranchKind, MemberRole, UnitKind


@dataclass(frozen=True)
class OtherBranch:
    """A branch that is not a village: its kind, its name (with `{place}` and `{level}`,
    "xã" or "thị trấn"), its usual size and its meeting hour."""

    kind: BranchKind
    name: str
    mean_size: int
    spread: int
    at: str


# Nine per commune or town; the last place rotates between a credit fund and a company.
OTHER_BRANCHES: tuple[OtherBranch, ...] = (
    OtherBranch(BranchKind.SCHOOL, "Trường Mầm non {place}", 15, 5, "16:30"),
    OtherBranch(BranchKind.SCHOOL, "Trường Tiểu học {place}", 17, 5, "16:30"),
    OtherBranch(BranchKind.SCHOOL, "Trường THCS {place}", 18, 5, "16:30"),
    OtherBranch(BranchKind.HEALTH, "Trạm Y tế {level} {place}", 8, 3, "14:00"),
    OtherBranch(BranchKind.ARMED, "Quân sự {level} {place}", 9, 3, "14:00"),
    OtherBranch(BranchKind.ARMED, "Công an {level} {place}", 10, 3, "14:00"),
    OtherBranch(BranchKind.AGENCY, "Cơ quan Ủy ban nhân dân {level} {place}", 17, 5, "16:30"),
    OtherBranch(BranchKind.COOPERATIVE, "Hợp tác xã Dịch vụ nông nghiệp {place}", 7, 3, "15:00"),
)
LAST_OTHER: tuple[OtherBranch, ...] = (
    OtherBranch(BranchKind.CREDIT_FUND, "Quỹ Tín dụng nhân dân {place}", 6, 2, "16:30"),
    OtherBranch(BranchKind.ENTERPRISE, "Công ty Cổ phần May {place}", 11, 4, "16:30"),
)


@dataclass(frozen=True)
class Shape:
    """The counts of one district; the defaults are the published ones."""

    towns: int = 1
    communes: int = 15
    residential_per_town: int = 9
    villages_per_commune: int = 8
    working_groups: int = 8
    units_per_group: int = 2
    village_size: tuple[int, int] = (40, 12)  # mean and spread of a village branch's members
    residential_size: tuple[int, int] = (36, 10)
    office_size: int = 12  # the district office's own branch, besides the groups' staff
    group_size: tuple[int, int] = (5, 7)  # a working group's staff, fewest and most


DEFAULT = Shape()


def build(seed: int = 0, districts: int = 1, shape: Shape = DEFAULT) -> SampleOrg:
    """`districts` districts of `shape`, the same rows for the same seed."""
    if districts < 1:
        raise ValueError("districts must be at least 1")
    rng = random.Random(seed)
    org = SampleOrg(rng)
    width = max(2, len(str(districts)))
    names = _district_names(rng, districts)
    for number, name in enumerate(names, start=1):
        _district(org, rng, f"D{number:0{width}d}", name, shape)
    return org


def _district_names(rng: random.Random, count: int) -> list[str]:
    if count <= len(DISTRICT_NAMES):
        return rng.sample(DISTRICT_NAMES, count)
    return [*DISTRICT_NAMES, *(f"số {n}" for n in range(len(DISTRICT_NAMES) + 1, count + 1))]


def _size(rng: random.Random, mean: int, spread: int, least: int = 3) -> int:
    return max(least, round(rng.gauss(mean, spread)))


def _district(org: SampleOrg, rng: random.Random, code: str, name: str, shape: Shape) -> None:
    org.unit(code, f"Huyện ủy {name}", UnitKind.DISTRICT_COMMITTEE.value)
    office = org.branch(
        f"{code}B00", "Chi bộ Văn phòng Huyện ủy", code, BranchKind.AGENCY.value, 5, "16:30",
        "Phòng họp Huyện ủy",
    )  # fmt: skip
    org.staff(office, shape.office_size, code)
    places = rng.sample(PLACE_NAMES, shape.towns + shape.communes)
    units = []
    for index, place in enumerate(places, start=1):
        town = index <= shape.towns
        unit = f"{code}U{index:02d}"
        units.append(unit)
        level = "thị trấn" if town else "xã"
        kind = UnitKind.TOWN if town else UnitKind.COMMUNE
        org.unit(unit, f"Đảng bộ {level} {place}", kind.value, code)
        if town:
            _residential(org, rng, unit, place, shape, code)
        else:
            _villages(org, rng, unit, place, shape, code)
        others = (*OTHER_BRANCHES, LAST_OTHER[index % len(LAST_OTHER)])
        for k, other in enumerate(others, start=1):
            label = other.name.format(place=place, level=level)
            branch = org.branch(
                f"{unit}C{k:02d}", f"Chi bộ {label}", unit, other.kind.value,
                rng.choice((3, 4, 5)), other.at, f"Phòng họp {label}",
            )  # fmt: skip
            org.staff(branch, _size(rng, other.mean_size, other.spread), code)
    visited = rng.sample(units, len(units))  # which communes each group visits
    per = shape.units_per_group
    for g in range(1, shape.working_groups + 1):
        low, high = shape.group_size
        people = [
            org.member(office, MemberRole.MEMBER, code) for _ in range(rng.randint(low, high))
        ]
        org.working_group(
            f"{code}WG{g}", f"Tổ công tác số {g}", code, people,
            sorted(visited[(g - 1) * per : g * per]),
        )  # fmt: skip


def _meeting(rng: random.Random) -> tuple[int, str]:
    """A village's rule: the 3rd to the 5th, mostly in the evening after work in the fields."""
    day = rng.choices((3, 4, 5), weights=(4, 3, 3))[0]
    at = rng.choices(("19:30", "20:00", "08:00"), weights=(6, 2, 2))[0]
    return day, at


def _villages(
    org: SampleOrg, rng: random.Random, unit: str, place: str, shape: Shape, district: str
) -> None:
    for k, village in enumerate(rng.sample(VILLAGE_NAMES, shape.villages_per_commune), start=1):
        day, at = _meeting(rng)
        branch = org.branch(
            f"{unit}B{k:02d}", f"Chi bộ thôn {village}, xã {place}", unit,
            BranchKind.VILLAGE.value, day, at, f"Nhà văn hóa thôn {village}",
        )  # fmt: skip
        org.staff(branch, _size(rng, *shape.village_size, least=8), district)


def _residential(
    org: SampleOrg, rng: random.Random, unit: str, place: str, shape: Shape, district: str
) -> None:
    for k in range(1, shape.residential_per_town + 1):
        day, at = _meeting(rng)
        branch = org.branch(
            f"{unit}B{k:02d}", f"Chi bộ tổ dân phố số {k}, thị trấn {place}", unit,
            BranchKind.RESIDENTIAL.value, day, at, f"Nhà văn hóa tổ dân phố số {k}",
        )  # fmt: skip
        org.staff(branch, _size(rng, *shape.residential_size, least=8), district)
