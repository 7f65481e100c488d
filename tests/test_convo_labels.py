"""Issue 21, class 10: button labels are shortened at word boundaries, the distinguishing part
(the date) kept whole and first; one helper in the handler kit."""

from __future__ import annotations

from handlers.kit import button_label, short


def test_class10_labels_are_cut_at_a_word_boundary() -> None:
    cut = short("Hướng dẫn số 15-HD/HU về việc tổ chức sinh hoạt chi bộ", 24)
    assert cut == "Hướng dẫn số 15-HD/HU…"
    assert short("Chi bộ thôn Một", 24) == "Chi bộ thôn Một"


def test_class10_the_date_comes_first_and_stays_whole() -> None:
    when = "Thứ Năm, 03/12/2026 lúc 19:30"
    label = button_label(when, "Sinh hoạt chi bộ thường kỳ (đã lên lịch)", limit=56)
    assert label.startswith(when + " · ")
    assert label.endswith("…") and len(label) <= 56
    assert "(đã lê" not in label  # never mid-word
