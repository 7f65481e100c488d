"""Vietnamese dates, holidays and the quick-form parser (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.inputs import latest_date
from bot.services.meetings import MeetingError, format_quick_form, parse_quick_form, rule_slot
from bot.services.meetings.quickform import parse_date, parse_time
from bot.services.vn_calendar import (
    VN_TZ,
    add_months,
    format_date,
    format_datetime,
    holiday_name,
    is_holiday,
    local_to_utc,
    month_bounds,
    quarter_bounds,
    quarter_of,
    rule_date,
    shift_within_month,
)

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 11:00 in Hà Nội, Monday 23/11/2026


def test_vietnamese_and_english_formats() -> None:
    at = datetime(2026, 12, 3, 12, 30, tzinfo=UTC)  # 19:30 local
    assert format_datetime(at, "vi") == "Thứ Năm, 03/12/2026 lúc 19:30"
    assert format_datetime(at, "en") == "Thursday, 03/12/2026 at 19:30"
    assert format_date(date(2026, 12, 6), "vi") == "Chủ Nhật, 06/12/2026"


def test_local_midnight_crosses_the_utc_date() -> None:
    # 06:00 local is 23:00 UTC the day before: the shown date is the local one.
    at = local_to_utc(date(2026, 12, 3), time(6, 0))
    assert at == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert format_datetime(at, "vi") == "Thứ Năm, 03/12/2026 lúc 06:00"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        format_datetime(datetime(2026, 12, 3, 19, 30))


def test_tet_moves_to_the_next_working_day() -> None:
    # Tết Đinh Mùi: 04/02-10/02/2027 are days off.
    assert is_holiday(date(2027, 2, 6))
    assert "Tết" in (holiday_name(date(2027, 2, 6), "vi") or "")
    slot = rule_slot(6, 2027, 2)
    assert slot.shifted and slot.day == date(2027, 2, 11)
    assert "Tết" in (slot.shift_reason or "")
    assert not rule_slot(5, 2026, 12).shifted  # an ordinary Saturday stays put


def test_day_past_month_end_is_the_last_day() -> None:
    assert rule_date(2026, 2, 31) == date(2026, 2, 28)
    assert rule_date(2028, 2, 30) == date(2028, 2, 29)
    assert rule_date(2026, 4, 31) == date(2026, 4, 30)


def test_month_and_quarter_helpers() -> None:
    assert add_months(2026, 11, 3) == (2027, 2)
    assert add_months(2026, 1, -1) == (2025, 12)
    start, end = month_bounds(2026, 12)
    assert start == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert [quarter_of(m) for m in (1, 3, 4, 12)] == [1, 1, 2, 4]
    q_start, q_end = quarter_bounds(2027, 1)
    assert q_start.astimezone(VN_TZ).date() == date(2027, 1, 1)
    assert q_end.astimezone(VN_TZ).date() == date(2027, 4, 1)


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)))
def test_shift_stays_in_the_month_and_never_on_a_holiday(d: date) -> None:
    shifted = shift_within_month(d)
    assert (shifted.year, shifted.month) == (d.year, d.month)
    assert not is_holiday(shifted)
    if not is_holiday(d):
        assert shifted == d
    elif shifted < d:
        # Backwards only when every day from d to the month's end is a holiday.
        day = d
        while day.month == d.month:
            assert is_holiday(day)
            day += timedelta(days=1)


# Quick form ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "local", "place"),
    [
        ("03/12 19:30 Nhà văn hóa thôn 3", datetime(2026, 12, 3, 19, 30), "Nhà văn hóa thôn 3"),
        ("3/12/2026 19h30 Hội trường", datetime(2026, 12, 3, 19, 30), "Hội trường"),
        ("03.12.26 7h Sân đình", datetime(2026, 12, 3, 7, 0), "Sân đình"),
        ("24/11 08:00", datetime(2026, 11, 24, 8, 0), None),
        # January typed in November means next January.
        ("05/01 19:30 Nhà văn hóa", datetime(2027, 1, 5, 19, 30), "Nhà văn hóa"),
    ],
)
def test_quick_form_reads_the_usual_ways(text: str, local: datetime, place: str | None) -> None:
    form = parse_quick_form(text, NOW)
    assert form.starts_at == local.replace(tzinfo=VN_TZ).astimezone(UTC)
    assert form.place == place


@pytest.mark.parametrize(
    ("text", "key", "params"),
    [
        ("30/02 19:30 Nhà văn hóa", "meetings.error.bad_date", {"date": "30/02"}),
        ("03/12 25:00 Nhà văn hóa", "meetings.error.bad_time", {"time": "25:00"}),
        ("03/12 19:75", "meetings.error.bad_time", {"time": "19:75"}),
        ("hôm nay 19:30", "meetings.error.form_unparsable", {}),
        ("03/12", "meetings.error.form_unparsable", {}),
        ("", "meetings.error.form_unparsable", {}),
        ("20/11 19:30 Nhà văn hóa", "meetings.error.in_past", {}),
        ("23/11 10:59 Nhà văn hóa", "meetings.error.in_past", {}),
        ("03/12/2025 19:30", "meetings.error.in_past", {}),
    ],
)
def test_quick_form_errors_name_the_problem(text: str, key: str, params: dict[str, str]) -> None:
    with pytest.raises(MeetingError) as info:
        parse_quick_form(text, NOW)
    assert info.value.key == key
    assert info.value.params == params


def test_quick_form_place_over_the_limit() -> None:
    with pytest.raises(MeetingError) as info:
        parse_quick_form("03/12 19:30 " + "x" * 257, NOW)
    assert info.value.key == "meetings.error.place_too_long"
    assert info.value.params["max"] == 256


def test_wizard_steps() -> None:
    assert parse_date("03/12", NOW) == date(2026, 12, 3)
    assert parse_time("19h30") == time(19, 30)
    assert parse_time("7h") == time(7, 0)
    with pytest.raises(MeetingError):
        parse_time("24:00")
    with pytest.raises(MeetingError):
        parse_date("31/04", NOW)


_place = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" ,-"), max_size=60
).map(lambda s: " ".join(s.split()))


@given(
    # Up to the last day `bot.inputs.date_in_window` allows (beyond it the parser refuses).
    st.datetimes(
        min_value=datetime(2026, 11, 24),
        max_value=datetime.combine(latest_date(NOW.date()), time(23, 59)),
    ).map(lambda d: d.replace(second=0, microsecond=0)),
    _place,
)
def test_format_round_trips_through_the_parser(local: datetime, place: str) -> None:
    starts_at = local.replace(tzinfo=VN_TZ).astimezone(UTC)
    form = parse_quick_form(format_quick_form(starts_at, place), NOW)
    assert form.starts_at == starts_at
    assert form.place == (place or None)
