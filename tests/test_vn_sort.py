"""Vietnamese alphabetical order (one key for every list people read), against reference orders."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import people
from bot.services.access.policy import load_actor
from bot.services.vn_sort import vn_key, vn_sorted
from storage.db import create_session_factory
from storage.models import Member
from tests import orgdata as o

# Each list is in the order a Vietnamese reader expects.
REFERENCE = [
    # Đ after D, before E (not after Z); ă and â after a.
    [
        "Đảng bộ xã Anh Dũng",
        "Đảng bộ xã Ăn Hòa",
        "Đảng bộ xã Âu Cơ",
        "Đảng bộ xã Dương Liễu",
        "Đảng bộ xã Đồng Tháp",
        "Đảng bộ xã Hạ Mỗ",
        "Đảng bộ xã Zũng",
    ],
    # Family names: Đặng before Đinh (ă < i), both before Võ, Vũ.
    ["Đặng Văn An", "Đinh Thị Bình", "Võ Minh Châu", "Vũ Thị Dung"],
    # "Thọ An" before "Thượng Mỗ" (o < ư), ô and ơ after o.
    ["Thọ An", "Thọ Xuân", "Thôn Đông", "Thơm", "Thượng Mỗ"],
    # Numbers in number order.
    ["Chi bộ 3", "Chi bộ 33", "Chi bộ 113"],
    ["Thôn 1", "Thôn 2", "Thôn 10", "Thôn A"],
    # Tones only after letters, in dictionary order: a à ả ã á ạ.
    ["ma", "mà", "mả", "mã", "má", "mạ", "mai"],
    # Word by word: a shorter word first.
    ["Hà", "Hà Nội", "Hàng Bạc"],
    # u before ư, ư before v; e before ê; case breaks ties only.
    ["Lửa", "Lưu", "Lý"],
    ["Tú", "Từ", "Vân"],
    ["Lê", "lê", "Lễ"],
]


@pytest.mark.parametrize("expected", REFERENCE, ids=lambda e: e[0])
def test_class18_sorting_follows_the_vietnamese_alphabet(expected: list[str]) -> None:
    shuffled = expected[:]
    random.Random(21).shuffle(shuffled)
    assert vn_sorted(reversed(expected)) == expected
    assert vn_sorted(shuffled) == expected


def test_class18_sorting_d_stroke_after_d_not_after_z() -> None:
    assert vn_sorted(["Zô", "Đông", "Dương", "Em"]) == ["Dương", "Đông", "Em", "Zô"]


def test_class18_sorting_tho_an_before_thuong_mo_and_33_before_113() -> None:
    assert vn_key("Thọ An") < vn_key("Thượng Mỗ")
    assert vn_key("33") < vn_key("113")


def test_class18_sorting_sees_decomposed_text_as_composed() -> None:
    composed, decomposed = "Đặng Thị Ánh", "Đặng Thị A\u0301nh"
    assert vn_key(composed)[:2] == vn_key(decomposed)[:2]


def test_class18_sorting_by_a_key_of_objects() -> None:
    rows = [("b", "Vũ"), ("a", "Đặng"), ("c", "Bùi")]
    assert [r[0] for r in vn_sorted(rows, key=lambda r: r[1])] == ["c", "a", "b"]


async def test_class18_sorting_member_lists_in_vietnamese_order(engine: AsyncEngine) -> None:
    """The /invite picker (and every member page): leaders first, then the Vietnamese order."""
    org = await o.build_org(engine)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        for i, name in enumerate(["Võ Thị Ba", "Đinh Văn Hai", "Dương Văn Bốn", "Đặng Văn Một"]):
            s.add(
                Member(
                    code=f"S{i}",
                    full_name=name,
                    branch_id=org.b1,
                    district_id=org.district,
                    role="member",
                    status="official",
                )
            )
    async with factory() as s:
        page = await people.member_page(s, await load_actor(s, o.SEC1), page_size=20)
    assert [r.full_name for r in page.rows] == [
        "Nguyễn Văn Bí",
        "Trần Thị Phó",
        "Dương Văn Bốn",
        "Đặng Văn Một",
        "Đinh Văn Hai",
        "Hoàng Văn Năm",
        "Lê Văn Viên",
        "Phạm Thị Mới",
        "Võ Thị Ba",
    ]
