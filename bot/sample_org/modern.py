"""The 2026 shapes: the organisation as it is since 1 July 2025, with no district level.

Two shapes, each with its level names in the units file (`level`, `level_name`) and its
committee admins (`admin_telegram_ids`):

* `commune`: a new commune committee at the top, nothing above it in the data (a commune that
  uses the bot on its own). About 50 branches, as the merged communes have (Xã Dân Chủ, Phú
  Thọ: 52): village branches directly under the committee ("chi bộ trực thuộc"), the
  committee's own agency branches, schools and the clinic, and two grassroots organisations
  (the commune's military and police party organisations) with branches of their own. The
  commune committee (Ban Chấp hành, 15-25 people, 20 by default) attends the branches'
  monthly meetings, one member per meeting, never at their own branch (Chỉ thị 50, 2025).
* `province`: a province committee over new communes and wards of 20-66 branches each (two
  communes and one ward by default), its office's branch, a working group of the province
  visiting village and residential branches every quarter, and each commune's or ward's
  committee attending its own branches every month.

Every person is invented, named from the same pools as the older district shape.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.sample_org.names import PLACE_NAMES, VILLAGE_NAMES
from bot.sample_org.org import SampleOrg
from storage.models.org import BranchKind, MemberRole, UnitKind

COMMUNE_LEVEL = "Đảng ủy xã"
WARD_LEVEL = "Đảng ủy phường"
PROVINCE_LEVEL = "Tỉnh ủy"
GRASSROOTS_LEVEL = "Đảng bộ cơ sở"
PROVINCE_NAMES: tuple[str, ...] = ("Sơn Nam", "Hồng Lĩnh", "Phú Xuân", "Bắc Hà", "Tây Nguyên")


@dataclass(frozen=True)
class Other:
    """A branch that is not a village or residential group: kind, name, size and hour."""

    kind: BranchKind
    name: str  # with {place} and {level} ("xã" or "phường")
    mean_size: int
    at: str


# The committee's own agencies, schools and clinic: branches directly under the committee.
OTHERS: tuple[Other, ...] = (
    Other(BranchKind.AGENCY, "Cơ quan Đảng ủy - Mặt trận và các đoàn thể {level} {place}", 16,
          "16:30"),
    Other(BranchKind.AGENCY, "Cơ quan Ủy ban nhân dân {level} {place}", 22, "16:30"),
    Other(BranchKind.SCHOOL, "Trường Mầm non {place}", 14, "16:30"),
    Other(BranchKind.SCHOOL, "Trường Tiểu học {place}", 16, "16:30"),
    Other(BranchKind.SCHOOL, "Trường THCS {place}", 17, "16:30"),
    Other(BranchKind.HEALTH, "Trạm Y tế {level} {place}", 9, "14:00"),
)  # fmt: skip
# Grassroots organisations inside a commune or ward, each with branches of its own.
GRASSROOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Đảng bộ Quân sự {level} {place}", ("Ban Chỉ huy", "Dân quân thường trực")),
    ("Đảng bộ Công an {level} {place}", ("Cảnh sát khu vực", "An ninh", "Hành chính")),
)


@dataclass(frozen=True)
class CommuneShape:
    """One commune or ward: its branches, their size, and its committee."""

    branches: int = 50  # every branch, grassroots organisations' included
    committee: int = 20  # the Ban Chấp hành who attend branch meetings
    village_size: tuple[int, int] = (20, 6)  # mean, spread (about 1,000 members in 50)
    ward: bool = False


def build_commune(seed: int = 0, communes: int = 1, shape: CommuneShape | None = None) -> SampleOrg:
    """`communes` commune organisations side by side, each its own top committee."""
    if communes < 1:
        raise ValueError("communes must be at least 1")
    rng = random.Random(seed)
    org = SampleOrg(rng)
    width = max(2, len(str(communes)))
    for number, place in enumerate(rng.sample(PLACE_NAMES, communes), start=1):
        _commune(org, rng, f"X{number:0{width}d}", place, None, shape or CommuneShape())
    return org


def build_province(
    seed: int = 0,
    provinces: int = 1,
    communes: int = 2,
    wards: int = 1,
    sizes: tuple[int, ...] = (24, 40, 30),
) -> SampleOrg:
    """`provinces` province organisations, each with `communes` communes and `wards` wards;
    `sizes` gives the branches of each commune and ward in turn (20-66, repeated as needed)."""
    if provinces < 1 or communes + wards < 1:
        raise ValueError("a province needs at least one commune or ward")
    rng = random.Random(seed)
    org = SampleOrg(rng)
    names = rng.sample(PROVINCE_NAMES, min(provinces, len(PROVINCE_NAMES)))
    names += [f"số {n}" for n in range(len(names) + 1, provinces + 1)]
    places = rng.sample(PLACE_NAMES, provinces * (communes + wards))
    for p, name in enumerate(names, start=1):
        code = f"P{p:02d}"
        org.unit(
            code, f"Tỉnh ủy {name}", UnitKind.PROVINCE_COMMITTEE.value, level=0,
            level_name=PROVINCE_LEVEL, admin_ids=(org.admin_id(),),
        )  # fmt: skip
        office = org.branch(
            f"{code}B00", f"Chi bộ Văn phòng Tỉnh ủy {name}", code, BranchKind.AGENCY.value, 5,
            "16:30", "Phòng họp Văn phòng Tỉnh ủy",
        )  # fmt: skip
        org.staff(office, 14, code)
        units = []
        for i in range(communes + wards):
            ward = i >= communes
            unit = f"{code}{'W' if ward else 'X'}{i + 1:02d}"
            branches = max(20, min(66, sizes[i % len(sizes)]))
            shape = CommuneShape(branches=branches, committee=15 + i % 3 * 3, ward=ward)
            _commune(org, rng, unit, places.pop(), code, shape)
            units.append(unit)
        staff = [org.member(office, MemberRole.MEMBER, code) for _ in range(6)]
        org.working_group(
            f"{code}WG1", "Tổ công tác số 1 của Tỉnh ủy", code, staff, units,
            cadence="quarterly",
        )  # fmt: skip
    return org


def _size(rng: random.Random, mean: int, spread: int, least: int = 5) -> int:
    return max(least, round(rng.gauss(mean, spread)))


def _meeting(rng: random.Random) -> tuple[int, str]:
    """A village or residential branch's rule: early in the month, mostly in the evening."""
    day = rng.choices((3, 4, 5, 6), weights=(3, 3, 3, 1))[0]
    at = rng.choices(("19:30", "20:00", "08:00"), weights=(6, 2, 2))[0]
    return day, at


def _commune(
    org: SampleOrg,
    rng: random.Random,
    code: str,
    place: str,
    parent: str | None,
    shape: CommuneShape,
) -> None:
    """One commune or ward committee with its branches, grassroots organisations and committee
    (`parent`: the province above it, or None for a commune at the top of its own data)."""
    level = "phường" if shape.ward else "xã"
    kind = UnitKind.WARD if shape.ward else UnitKind.COMMUNE
    depth = 0 if parent is None else 1
    org.unit(
        code, f"Đảng ủy {level} {place}", kind.value, parent or "", level=depth,
        level_name=WARD_LEVEL if shape.ward else COMMUNE_LEVEL, admin_ids=(org.admin_id(),),
    )  # fmt: skip
    prefix = parent or code  # member codes are unique within the whole organisation
    grassroots_branches = sum(len(b) for _n, b in GRASSROOTS)
    groups = len(OTHERS) + grassroots_branches
    local = max(1, shape.branches - groups)
    secretaries: list[str] = []
    members_of: dict[str, list[str]] = {}
    village_names = rng.sample(VILLAGE_NAMES, min(local, len(VILLAGE_NAMES)))
    for k in range(1, local + 1):
        day, at = _meeting(rng)
        if shape.ward:
            label, where = f"khu phố {k}", f"Nhà văn hóa khu phố {k}"
            branch_kind = BranchKind.RESIDENTIAL
        else:
            village = village_names[k - 1] if k <= len(village_names) else f"số {k}"
            label, where = f"thôn {village}", f"Nhà văn hóa thôn {village}"
            branch_kind = BranchKind.VILLAGE
        branch = org.branch(
            f"{code}B{k:02d}", f"Chi bộ {label}", code, branch_kind.value, day, at, where
        )
        members_of[branch] = org.staff(branch, _size(rng, *shape.village_size), prefix)
        secretaries.append(members_of[branch][0])
    agency: list[str] = []
    for k, other in enumerate(OTHERS, start=1):
        label = other.name.format(place=place, level=level)
        branch = org.branch(
            f"{code}C{k:02d}", f"Chi bộ {label}", code, other.kind.value,
            rng.choice((4, 5, 6)), other.at, f"Phòng họp {label}",
        )  # fmt: skip
        members_of[branch] = org.staff(branch, _size(rng, other.mean_size, 4), prefix)
        if other.kind is BranchKind.AGENCY:
            agency += members_of[branch]
            # The committee's own offices also send invitations through the e-handbook app.
            org.tables["branches"][-1]["app_invites"] = "yes"
    grassroots_units = []
    for g, (name, branch_names) in enumerate(GRASSROOTS, start=1):
        unit = f"{code}G{g}"
        org.unit(
            unit, name.format(level=level, place=place), UnitKind.GRASSROOTS.value, code,
            level=depth + 1, level_name=GRASSROOTS_LEVEL,
        )  # fmt: skip
        grassroots_units.append(unit)
        for k, label in enumerate(branch_names, start=1):
            branch = org.branch(
                f"{unit}B{k:02d}", f"Chi bộ {label}", unit, BranchKind.ARMED.value, 5, "14:00",
                f"Phòng họp {name.format(level=level, place=place)}",
            )  # fmt: skip
            org.staff(branch, _size(rng, 8, 2), prefix)
    # The committee: the secretary and standing members from the agencies, the rest the
    # secretaries of some villages (who never attend their own branch's meeting).
    from_agency = min(len(agency), max(1, shape.committee * 2 // 5))
    committee = agency[:from_agency] + secretaries[: shape.committee - from_agency]
    org.working_group(
        f"{code}BCH", f"Ban Chấp hành Đảng bộ {level} {place}", code, committee,
        [code, *grassroots_units], visit_kinds="all", cadence="monthly",
        visitors_per_meeting=1,
    )  # fmt: skip
