"""Class 17 of the conversations issue (one format per kind): the texts that carried a day or a
moment written by hand ("hạn 10/12/2026 lúc 17:00", "bắt đầu lúc 03/12/2026 19:30") read as
the house writes them, with the weekday, in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from bot.i18n import create_i18n
from bot.services.nudges.messages import EscalationItem, NudgeItem, escalation_text, nudge_text
from bot.services.nudges.obligations import Action, Obligation, Owner
from bot.services.vn_calendar import VN_TZ, ReadableDay, ReadableMoment, format_date
from storage.models.nudges import EscalationReason, NudgePolicy, NudgeStep

I18N = create_i18n("vi")
DEADLINE = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # Thứ Năm, 10/12/2026 lúc 17:00


def _due() -> Obligation:
    return Obligation(
        kind=NudgePolicy.FEEDBACK_DUE,
        key="fb:1",
        district_id=1,
        unit_id=None,
        branch_id=1,
        owners=(Owner(1, "Phan Hữu Giang"),),
        moment=DEADLINE,
        params={
            "number": "KN-2026-0001",
            "branch": "Chi bộ Thôn 1",
            "level": "Đảng ủy xã",
            "date": "10/12/2026",
            "time": "17:00",
        },
        action=Action("nudge.btn.answer", "x"),
    )


def test_class17_a_nudge_line_writes_the_deadline_with_its_weekday() -> None:
    item = NudgeItem(_due(), NudgeStep.NUDGE1)
    vi = nudge_text(I18N, "vi", [item])
    en = nudge_text(I18N, "en", [item])
    assert "trước Thứ Năm, 10/12/2026 lúc 17:00" in vi
    assert "10/12/2026 lúc 17:00" in vi and not re.search(r"trước \d\d/", vi)
    assert "Thursday, 10/12/2026" in en


def test_class17_an_escalation_says_since_when_with_the_weekday() -> None:
    item = EscalationItem(_due(), EscalationReason.IGNORED, 2, "Phan Hữu Giang")
    text = escalation_text(I18N, "vi", [item], VN_TZ)
    expected = I18N.t(
        "nudge.esc.who", "vi", who="Phan Hữu Giang", since=format_date(date(2026, 12, 10)), n=2
    )
    assert expected in text and "Thứ Năm, 10/12/2026" in expected


def test_class17_refusals_carry_days_and_moments_read_in_the_persons_language() -> None:
    day, moment = ReadableDay(date(2026, 12, 10)), ReadableMoment(DEADLINE)
    assert (day.label("vi"), day.label("en")) == ("Thứ Năm, 10/12/2026", "Thursday, 10/12/2026")
    assert moment.label("vi") == "Thứ Năm, 10/12/2026 lúc 17:00"
    assert str(moment) == moment.label("vi")  # the operator's line (CLI)


# Where a day is still written by hand in code for people, and why it may be. A new one fails
# this test: write the day with `format_date` / `format_datetime`, or a Readable in a refusal.
HAND_WRITTEN_DAYS = {
    "bot/services/nudges/providers.py": "data: messages.py writes it with its weekday",
    "bot/services/nudges/providers_fb.py": "data: messages.py writes it with its weekday",
    "bot/services/broadcasts/report.py": "a workbook's title row",
    "bot/app/demo.py": "the demo page's own clock line",
    "bot/app/demo_browser.py": "fills the demo page's date input (a browser test helper)",
    "bot/services/meetings/quickform.py": "the quick form's own syntax, shown to be typed back",
    "bot/services/rosters/visits.py": "a queued notice's stored field (the leader's report line)",
}


def test_class17_no_new_hand_written_day_in_texts_for_people() -> None:
    root = Path(__file__).resolve().parents[1]
    found = {
        str(p.relative_to(root))
        for folder in ("bot", "handlers")
        for p in (root / folder).rglob("*.py")
        if "%d/%m/%Y" in p.read_text(encoding="utf-8")
    }
    found.discard("bot/services/vn_calendar.py")  # the formatters themselves
    assert found <= set(HAND_WRITTEN_DAYS), sorted(found - set(HAND_WRITTEN_DAYS))
