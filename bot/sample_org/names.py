"""Vietnamese personal and place names for the sample organisation.

Names are written as the organisation writes them: family name first, then the middle name,
then the given name ("Nguyễn Thị Lan"). Family names are drawn with weights close to their
published frequencies (about four in ten people are Nguyễn), so a generated branch list looks
like a real one; middle and given names depend on the person's sex, as they do in practice
("Thị" is a woman's middle name, "Văn" a man's). Every person made from these pools is invented.
"""

from __future__ import annotations

import bisect
import random
from itertools import accumulate

# (family name, relative weight in per mille)
FAMILY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 40),
    ("Huỳnh", 12),
    ("Phan", 45),
    ("Vũ", 39),
    ("Võ", 10),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 9),
    ("Trịnh", 8),
    ("Đào", 8),
    ("Đoàn", 7),
    ("Lương", 6),
    ("Mai", 5),
    ("Cao", 5),
    ("Tạ", 4),
    ("Chu", 4),
    ("Khuất", 3),
    ("Kiều", 3),
    ("Nghiêm", 2),
    ("Lưu", 4),
    ("Tô", 3),
)
FAMILY_NAMES: tuple[str, ...] = tuple(name for name, _ in FAMILY_WEIGHTS)
_FAMILY_CUMULATIVE: tuple[int, ...] = tuple(accumulate(w for _, w in FAMILY_WEIGHTS))

MALE_MIDDLE: tuple[str, ...] = (
    "Văn", "Văn", "Văn", "Đức", "Hữu", "Quang", "Minh", "Xuân", "Công", "Đình", "Ngọc",
    "Trọng", "Mạnh", "Thế", "Tiến", "Duy", "Anh", "Bá",
)  # fmt: skip
FEMALE_MIDDLE: tuple[str, ...] = (
    "Thị", "Thị", "Thị", "Thị", "Thu", "Thanh", "Ngọc", "Hồng", "Kim", "Phương", "Bích",
    "Minh", "Diệu", "Thúy",
)  # fmt: skip
MALE_GIVEN: tuple[str, ...] = (
    "An", "Bình", "Cường", "Chiến", "Dũng", "Đạt", "Định", "Đông", "Giang", "Hải", "Hào",
    "Hiếu", "Hòa", "Hoàng", "Hùng", "Huy", "Khang", "Khánh", "Kiên", "Lâm", "Long", "Lực",
    "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng",
    "Thành", "Thịnh", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
)  # fmt: skip
FEMALE_GIVEN: tuple[str, ...] = (
    "Anh", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hằng", "Hạnh", "Hiền", "Hoa", "Huệ",
    "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh",
    "Phượng", "Quyên", "Tâm", "Thảo", "Thơm", "Thủy", "Trang", "Tuyết", "Uyên", "Vân",
    "Xuân", "Yến",
)  # fmt: skip

# Place names for communes and towns: plausible, not a list of one real district's units.
PLACE_NAMES: tuple[str, ...] = (
    "Tân Lập", "Tân Hội", "Tân Phú", "Phú Xuyên", "Phú Mỹ", "Phú Thịnh", "Hồng Hà",
    "Hồng Phong", "Liên Châu", "Liên Hòa", "Liên Trung", "Thọ An", "Thọ Xuân", "Thượng Hội",
    "Hạ Hội", "Trung Hòa", "Trung Châu", "Song Phương", "Song Mai", "Đông Hưng", "Đông Lỗ",
    "Tây Đằng", "Nam Hồng", "Bắc Sơn", "Yên Sở", "Yên Phú", "Vân Côn", "Vân Hòa",
    "Minh Khai", "Minh Quang", "Đức Thượng", "Đức Giang", "Cổ Đông", "Cổ Loa", "Kim Chung",
    "Kim Sơn", "Quang Tiến", "Quảng Bị", "Hoàng Long", "Thanh Lâm", "Thanh Cao",
    "Phương Trung", "Phương Đình", "Xuân Phú", "Xuân Thu", "Đại Thành", "Đại Đồng",
    "Hiệp Thuận", "Hòa Bình", "Hòa Thạch", "Ngọc Hòa", "Ngọc Liệp", "Cao Viên", "Bình Minh",
    "Tam Hiệp", "Tiên Phong", "Chương Dương", "Sơn Đồng", "Lại Yên", "An Khánh",
)  # fmt: skip
# District names for a city of several districts (numbered beyond this list).
DISTRICT_NAMES: tuple[str, ...] = (
    "Phúc Lâm", "Tân Sơn", "Sóc Sơn", "Thanh Hà", "Hồng Lĩnh", "An Phú", "Bình Xuyên",
    "Kim Thành", "Yên Hưng", "Đại Từ", "Hòa Vang", "Phù Yên", "Quế Sơn", "Thạch Hà",
    "Vĩnh Tường", "Lập Thạch", "Mỹ Hào", "Tiên Lữ", "Gia Bình", "Lương Tài", "Thuận Thành",
    "Văn Lâm", "Khoái Châu", "Ân Thi", "Kim Động", "Phù Cừ", "Yên Mỹ", "Văn Giang",
    "Thanh Miện", "Ninh Giang", "Cẩm Giàng", "Bình Giang", "Tứ Kỳ", "Gia Lộc", "Nam Sách",
)  # fmt: skip
# Villages (thôn) of a commune: a commune picks distinct ones; each reads "thôn <name>".
VILLAGE_NAMES: tuple[str, ...] = (
    "Đông", "Đoài", "Thượng", "Hạ", "Trung", "Bắc", "Nam", "Tây", "Cựu", "Tân", "Phú",
    "An Thịnh", "Hòa Lạc", "Yên Nội", "Yên Thái", "Ngọc Tảo", "Văn Khê", "Đồng Lạc",
    "Bãi Tháp", "Thụy Ứng", "Cổ Ngõa", "Hạ Trì", "Thượng Trì", "Phù Sa", "Bồng Lai",
    "Quế Lâm", "Vĩnh Kỳ", "Kim Hoàng", "Lập Thành", "Đại Phu",
)  # fmt: skip


def family_name(rng: random.Random) -> str:
    """A family name drawn by its weight."""
    return FAMILY_NAMES[
        bisect.bisect_right(_FAMILY_CUMULATIVE, rng.randrange(_FAMILY_CUMULATIVE[-1]))
    ]


def full_name(rng: random.Random) -> str:
    """ "Family Middle Given", the middle and given names matching one sex."""
    family = family_name(rng)
    if rng.random() < 0.5:
        return f"{family} {rng.choice(FEMALE_MIDDLE)} {rng.choice(FEMALE_GIVEN)}"
    return f"{family} {rng.choice(MALE_MIDDLE)} {rng.choice(MALE_GIVEN)}"
