"""Issue 21, class 1: the quick form reads what a secretary writes ("7 giờ tối", "19g30",
"chuyên đề") and flags odd hours; nothing in it schedules (the check screen asks first)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.services.meetings import MeetingError, MeetingKind, parse_quick_form
from bot.services.meetings.quickform import odd_hour, parse_time
from bot.services.vn_calendar import VN_TZ

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 11:00 in Hà Nội, Monday 23/11/2026


def _local(form_text: str) -> tuple[str, str | None, MeetingKind]:
    form = parse_quick_form(form_text, NOW)
    return f"{form.starts_at.astimezone(VN_TZ):%d/%m %H:%M}", form.place, form.kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The defect: "tối" was taken as the place.
        ("15/12 19:30 tối", ("15/12 19:30", None, MeetingKind.REGULAR)),
        ("15/12 7 giờ tối", ("15/12 19:00", None, MeetingKind.REGULAR)),
        ("15/12 7h tối Nhà văn hóa", ("15/12 19:00", "Nhà văn hóa", MeetingKind.REGULAR)),
        ("15/12 19g30 Hội trường", ("15/12 19:30", "Hội trường", MeetingKind.REGULAR)),
        ("15/12 7 giờ 30 tối", ("15/12 19:30", None, MeetingKind.REGULAR)),
        ("15/12 7 giờ rưỡi sáng", ("15/12 07:30", None, MeetingKind.REGULAR)),
        ("15/12 2 giờ chiều Sân đình", ("15/12 14:00", "Sân đình", MeetingKind.REGULAR)),
        ("ngày 15/12 lúc 19h tại Nhà văn hóa", ("15/12 19:00", "Nhà văn hóa", MeetingKind.REGULAR)),
        ("chuyên đề 18/12 14h Hội trường", ("18/12 14:00", "Hội trường", MeetingKind.THEMATIC)),
        ("Sinh hoạt chuyên đề 18/12 14h", ("18/12 14:00", None, MeetingKind.THEMATIC)),
        ("18/12 19:30 chuyên đề", ("18/12 19:30", None, MeetingKind.THEMATIC)),
        ("đột xuất 18/12 19:30", ("18/12 19:30", None, MeetingKind.EXTRAORDINARY)),
        # Decomposed Vietnamese (some phone keyboards) reads the same.
        ("15/12 7 gio\u031b\u0300 to\u0302\u0301i", ("15/12 19:00", None, MeetingKind.REGULAR)),
    ],
)
def test_class1_quick_form_reads_vietnamese_time_words_and_kinds(
    text: str, expected: tuple[str, str | None, MeetingKind]
) -> None:
    assert _local(text) == expected


def test_class1_a_part_of_the_day_that_contradicts_the_hour_is_refused() -> None:
    with pytest.raises(MeetingError) as info:
        parse_quick_form("15/12 19h sáng", NOW)
    assert info.value.key == "mtg.error.time_part"


def test_class1_wizard_time_step_reads_the_same_words() -> None:
    assert parse_time("7 giờ tối") == time(19, 0)
    assert parse_time("19g30") == time(19, 30)
    assert parse_time("12 giờ đêm") == time(0, 0)


@pytest.mark.parametrize(
    ("at", "odd"),
    [
        (time(3), True),
        (time(5, 59), True),
        (time(6), False),
        (time(22), False),
        (time(22, 1), True),
    ],
)
def test_class1_odd_hours_are_questioned(at: time, odd: bool) -> None:
    assert odd_hour(at) is odd
