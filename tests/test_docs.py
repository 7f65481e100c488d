"""The README and docs/ read as a manual: no changelog traces, nothing outside the repository.

Issue numbers and commit ids mean nothing to an operator and go stale; a path outside the
repository (a sibling folder, a machine's own path) works on one machine only. Each check
names the file and line, so the fix is obvious.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

ISSUE = re.compile(r"\bissues?\s+#?[0-9]+|\(issue", re.I)
# A work session's step ("stop 3", "after stop 12"): a changelog trace too.
STOP = re.compile(r"\bstops?\s+#?[0-9]+\b", re.I)
# A commit id in parentheses: "(8aaa931)", "before (3403a74)". Lower-case hex, 7 to 40 digits,
# with at least one letter, so "(2026)" or "(1000000)" is not taken for one.
COMMIT = re.compile(r"\((?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\)")
# An absolute path of some machine, not a URL ("https://…/work/" has a host before it).
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:work|home|tmp|root|mnt|srv|opt|Users)/")
PARENT = re.compile(r"(?:\.\./)+[\w./-]*")


def _lines(path: Path) -> list[tuple[str, str]]:
    rel = path.relative_to(ROOT).as_posix()
    return [
        (f"{rel}:{n}", line)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


def _outside(path: Path, token: str) -> bool:
    target = (path.parent / token).resolve()
    return not target.is_relative_to(ROOT)


def test_docs_exist() -> None:
    for name in ("README.md", "docs/architecture.md", "docs/benchmarks.md"):
        assert (ROOT / name).is_file(), name


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_name_no_issue_numbers_or_commit_ids(path: Path) -> None:
    found = [
        f"{where}: {m.group(0)}"
        for where, line in _lines(path)
        for m in (*ISSUE.finditer(line), *COMMIT.finditer(line), *STOP.finditer(line))
    ]
    assert not found, "changelog traces in a manual:\n" + "\n".join(found)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_point_at_nothing_outside_the_repository(path: Path) -> None:
    found = [
        f"{where}: {m.group(0)}" for where, line in _lines(path) for m in ABSOLUTE.finditer(line)
    ]
    found += [
        f"{where}: {m.group(0)}"
        for where, line in _lines(path)
        for m in PARENT.finditer(line)
        if _outside(path, m.group(0))
    ]
    assert not found, "paths outside the repository:\n" + "\n".join(found)


# Spelled in parts: the repository itself names no path outside it.
SIBLING = "see " + ".." + "/shared/STYLE.md"


@pytest.mark.parametrize(
    "text",
    ["## Visiting rosters (issue 12)", "before (8aaa931)", "as of stop 4", SIBLING, "/work/main"],
)
def test_the_checks_catch_what_they_are_for(text: str) -> None:
    here = ROOT / "README.md"
    hit = (
        ISSUE.search(text)
        or COMMIT.search(text)
        or STOP.search(text)
        or ABSOLUTE.search(text)
        or any(_outside(here, m.group(0)) for m in PARENT.finditer(text))
    )
    assert hit, text


@pytest.mark.parametrize(
    "text", ["(2026)", "`3FA2C01B`", "[README](../README.md)", "https://t.me/BotFather"]
)
def test_the_checks_leave_ordinary_text_alone(text: str) -> None:
    here = ROOT / "docs" / "architecture.md"
    assert not ISSUE.search(text)
    assert not STOP.search(text)
    assert not COMMIT.search(text)
    assert not ABSOLUTE.search(text)
    assert not any(_outside(here, m.group(0)) for m in PARENT.finditer(text))


ROUTE_ROW = re.compile(r"^\| `(GET|POST|DELETE)` \| `(/sandbox/[^`]+)` \|", re.M)
ROUTE_NAMED = re.compile(r"`(GET|POST|DELETE) (/sandbox/[^`]+)`")


def test_readme_tables_the_sandbox_control_api_as_the_code_routes_it() -> None:
    from sandbox.server import control_routes

    routes = set(control_routes())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tabled = ROUTE_ROW.findall(readme)
    assert len(tabled) == len(set(tabled)), "a control endpoint is listed twice"
    assert set(tabled) == routes, (
        f"in the code, not in README's table: {sorted(routes - set(tabled))}; "
        f"in the table, not in the code: {sorted(set(tabled) - routes)}"
    )
    detailed = set(ROUTE_NAMED.findall((ROOT / "sandbox" / "README.md").read_text("utf-8")))
    assert routes <= detailed, f"sandbox/README.md misses {sorted(routes - detailed)}"
