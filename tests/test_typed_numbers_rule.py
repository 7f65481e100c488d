"""Trust, class 7, by construction: every number a person types is read by `bot.inputs` (ASCII
digits only). Python's `\\d`, `str.isdecimal()` and `str.isdigit()` take '１２' and '١٢' for
digits, so none of them may read people's input anywhere in the handlers or the services;
the few modules that read something else are named here with the reason."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_PEOPLES_INPUT = {
    "bot/inputs.py": "the one parser",
    "bot/settings.py": "the bot token's shape, from the environment",
    "bot/logs.py": "redaction patterns: matching more digits is safer there",
    "bot/services/org_import/read.py": "spreadsheet cells of an import, validated as a file",
}
UNICODE_DIGITS = re.compile(r"\\d|\.isdecimal\(|\.isdigit\(|\.isnumeric\(")


def test_class7_no_module_reads_typed_numbers_with_unicode_digits() -> None:
    found = set()
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in NOT_PEOPLES_INPUT:
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                code = line.split("#", 1)[0]
                if UNICODE_DIGITS.search(code):
                    found.add(rel)
    assert found == set(), found
