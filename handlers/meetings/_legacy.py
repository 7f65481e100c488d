"""TRANSITIONAL (branch helper-m2 only; delete at merge): the scheduling handlers still live
in the module `handlers/meetings.py`, which this package shadows. Load it under another name
so its router and callback data stay reachable; a no-op once that file is gone."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

LEGACY = Path(__file__).resolve().parent.parent / "meetings.py"
NAME = "handlers._meetings_schedule"


def module() -> ModuleType | None:
    if NAME in sys.modules:
        return sys.modules[NAME]
    if not LEGACY.exists():
        return None
    spec = importlib.util.spec_from_file_location(NAME, LEGACY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = mod
    spec.loader.exec_module(mod)
    return mod


def names() -> dict[str, Any]:
    mod = module()
    if mod is None:
        return {}
    return {k: v for k, v in vars(mod).items() if not k.startswith("__")}
