"""The command line speaks the operator's language: DEFAULT_LANGUAGE or `--lang`, Vietnamese
by default like the bot, with a progress bar on long steps."""

from __future__ import annotations

import io

import pytest

from bot.app.cli import build_parser
from bot.cli_text import Say, StderrProgress, cli_locale, number
from bot.services.rosters.cli_report import text_report


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_class19_cli_language_follows_lang_then_default_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEFAULT_LANGUAGE", raising=False)
    assert cli_locale() == "vi"
    monkeypatch.setenv("DEFAULT_LANGUAGE", "en")
    assert cli_locale() == "en"
    assert cli_locale("vi") == "vi"
    args = build_parser().parse_args(["roster", "plan", "--quarter", "2027-Q1", "--lang", "en"])
    assert args.lang == "en"
    args = build_parser().parse_args(["--lang", "vi", "import-org", "x"])
    assert args.lang == "vi"


def test_class19_cli_language_numbers_are_grouped_the_languages_way() -> None:
    assert (number(7467, "vi"), number(7467, "en")) == ("7.467", "7,467")
    assert (number(1.5, "vi"), number(1.5, "en")) == ("1,5", "1.5")
    assert Say("vi")("op.import.read", file="members.csv", rows=7122) == (
        "đã đọc members.csv: 7.122 dòng"
    )


def test_class19_cli_language_progress_bar_on_a_terminal() -> None:
    out = _Terminal()
    progress = StderrProgress(out, Say("vi"))
    progress.step("op.import.adding", 5000, 10000, table="members")
    progress.phase("op.import.committing")
    text = out.getvalue()
    assert "đang thêm đảng viên: [##########----------] 50%" in text
    assert text.rstrip().endswith(Say("vi")("op.import.committing"))


def test_class19_cli_language_roster_plan_reads_in_vietnamese() -> None:
    report = {
        "quarter": "2027-Q1",
        "groups": [
            {
                "code": "D01WG1",
                "status": "OPTIMAL",
                "covered": 15,
                "due": 16,
                "max_load": 3,
                "published": False,
                "assignments": [],
                "uncovered": [{"branch": "D01U01B01", "reason": "…"}],
            }
        ],
    }
    say = Say("vi")
    lines = text_report(report, say)
    assert lines[0] == say("op.roster.title", quarter="quý I/2027")
    assert say("op.roster.state.draft") in lines[1] and "15/16" in lines[1]
    assert lines[2] == say("op.roster.uncovered", branch="D01U01B01", reason="…")
