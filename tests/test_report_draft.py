"""The /report wizard's draft rules, pure: no database, no Telegram."""

from __future__ import annotations

import pytest

from bot.services.access.policy import Refused
from bot.services.meetings import AbsentEntry, ReportInput
from bot.services.meetings.report_steps import (
    Act,
    Draft,
    Edit,
    MinutesKind,
    Mode,
    Press,
    Step,
    Toggle,
    Typed,
    Upload,
    apply,
    load_draft,
    new_draft,
    ready,
)

MEMBERS = (11, 12, 13, 14, 15)


def _draft(**kw: object) -> Draft:
    prefill = ReportInput(present_count=2, absent=(AbsentEntry(13, "sick", "", True),))
    return new_draft(7, prefill, len(MEMBERS)).model_copy(update=kw)


def _key(err: pytest.ExceptionInfo[Refused]) -> str:
    return err.value.key


def test_a_draft_survives_its_storage_as_json() -> None:
    draft = _draft(step=Step.MINUTES, file_id="F", file_kind=MinutesKind.PDF, topics=["a"])
    assert load_draft(draft.dump()) == draft
    assert draft.dump()["absent"] == {"13": {"code": "sick", "text": "", "excused": True}}


def test_a_draft_gone_or_from_an_older_version_is_expired_not_dropped() -> None:
    for data in ({}, {"mid": 7, "absent": {"13": [None, "", True]}}):  # the positional format
        with pytest.raises(Refused) as err:
            load_draft(data)
        assert _key(err) == "kit.expired"
    with pytest.raises(Refused) as err:
        load_draft(_draft().dump(), meeting_id=8)
    assert _key(err) == "mrep.stale"


def test_present_count_is_clamped_to_who_can_be_there() -> None:
    d = apply(_draft(step=Step.PRESENT, present=0), Press(Act.PRESENT_DEC), MEMBERS)
    assert d.present == 0
    d = apply(d, Press(Act.PRESENT_ALL), MEMBERS)
    assert d.present == 4  # 5 members, 1 absent
    assert apply(d, Press(Act.PRESENT_INC), MEMBERS).present == 4


def test_absence_toggles_present_excused_unexcused_present_and_shrinks_present() -> None:
    d = _draft(step=Step.ABSENT, present=4)
    d = apply(d, Toggle(11), MEMBERS)
    assert d.absent[11].excused and d.present == 3
    d = apply(d, Toggle(11), MEMBERS)
    assert not d.absent[11].excused
    d = apply(d, Toggle(11), MEMBERS)
    assert 11 not in d.absent and d.present == 3
    with pytest.raises(Refused) as err:
        apply(d, Toggle(99), MEMBERS)  # not a member of the branch: forged
    assert _key(err) == "mrep.stale"


def test_a_meeting_not_held_skips_present_and_absent() -> None:
    d = apply(_draft(), Press(Act.HELD_NO), MEMBERS)
    assert d.step is Step.MINUTES and not d.held
    assert d.to_input().absent == ()
    d = apply(d.model_copy(update={"step": Step.CONFIRM}), Edit(Step.ABSENT), MEMBERS)
    assert d.step is Step.HELD
    d = apply(_draft(), Press(Act.HELD_YES), MEMBERS)
    assert d.step is Step.PRESENT


def test_after_the_summary_every_edit_returns_to_it() -> None:
    d = _draft(step=Step.PROPOSALS)
    d = apply(d, Press(Act.NEXT), MEMBERS)
    assert d.step is Step.CONFIRM and d.walked
    d = apply(d, Edit(Step.PRESENT), MEMBERS)
    assert apply(d, Press(Act.NEXT), MEMBERS).step is Step.CONFIRM


def test_a_button_of_another_step_is_stale() -> None:
    for move in (Press(Act.PRESENT_INC), Press(Act.MINUTES_KEPT), Press(Act.SEND)):
        with pytest.raises(Refused) as err:
            apply(_draft(step=Step.HELD), move, MEMBERS)
        assert _key(err) == "mrep.stale"
    with pytest.raises(Refused):
        ready(_draft(step=Step.TOPICS))  # Send only from the summary


def test_typed_present_count_accepts_ascii_digits_only() -> None:
    d = _draft(step=Step.PRESENT)
    assert apply(d, Typed("3"), MEMBERS).present == 3
    for bad in ("²", "٣", "5", "-1", "x"):  # '5' is more than the 4 who can be there
        with pytest.raises(Refused) as err:
            apply(d, Typed(bad), MEMBERS)
        assert _key(err) == "mrep.w.present_bad"


def test_typed_texts_and_files() -> None:
    d = apply(_draft(step=Step.TOPICS), Typed("• Giao thông\n\n- Điện"), MEMBERS)
    assert d.topics == ["Giao thông", "Điện"] and d.step is Step.PROPOSALS
    with pytest.raises(Refused) as err:
        apply(_draft(step=Step.RESOLUTION), Typed("x" * 3001), MEMBERS)
    assert _key(err) == "meetings.error.resolution_too_long"
    d = apply(_draft(step=Step.MINUTES), Upload("F", MinutesKind.PHOTO), MEMBERS)
    assert (d.minutes, d.file_id, d.file_kind, d.step) == (True, "F", "photo", Step.RESOLUTION)
    with pytest.raises(Refused) as err:
        apply(_draft(step=Step.MINUTES), Upload("F", None), MEMBERS)
    assert _key(err) == "meetings.error.bad_minutes_file"


def test_a_correction_opens_at_the_summary() -> None:
    d = new_draft(7, ReportInput(present_count=3), 5, last_version=2)
    assert (d.mode, d.step, d.walked, d.last_version) == (Mode.CORRECT, Step.CONFIRM, True, 2)
    assert ready(d).present_count == 3
