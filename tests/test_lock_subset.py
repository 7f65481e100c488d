"""`make run` and `make demo` install only what running needs: scripts/lock-subset cuts the lock
to the packages reachable from pyproject.toml's dependencies (and the redis extra), hashes kept."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    path = ROOT / "scripts" / "lock-subset"
    loader = importlib.machinery.SourceFileLoader("lock_subset", str(path))
    spec = importlib.util.spec_from_loader("lock_subset", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_lock_subset_keeps_what_running_needs_and_leaves_the_test_tools() -> None:
    script = _script()
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    out = script.subset(lock, script.roots(ROOT / "pyproject.toml"))
    names = {name for name, _lines, _via in script.blocks(out)}
    assert {"aiogram", "sqlalchemy", "greenlet", "ortools", "pandas", "redis"} <= names
    assert not names & {"playwright", "mypy", "ruff", "pytest", "hypothesis", "time-machine"}
    # Every kept package is still pinned with its hashes (pip --require-hashes insists).
    for name, lines, _via in script.blocks(out):
        assert "==" in lines[0], name
        assert any("--hash=sha256:" in line for line in lines), name


def test_lock_subset_follows_the_via_lines() -> None:
    script = _script()
    lock = (
        "a==1 \\\n    --hash=sha256:aa\n    # via chibo-bot (pyproject.toml)\n"
        "b==1 \\\n    --hash=sha256:bb\n    # via\n    #   a\n    #   t\n"
        "t==1 \\\n    --hash=sha256:tt\n    # via chibo-bot (pyproject.toml)\n"
        "u==1 \\\n    --hash=sha256:uu\n    # via t\n"
    )
    names = [name for name, _lines, _via in script.blocks(script.subset(lock, {"a"}))]
    assert names == ["a", "b"]
