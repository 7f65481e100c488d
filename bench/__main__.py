"""Run benchmarks: `python -m bench` (all), `python -m bench import --quick` (one, with its
own arguments). Each `bench/bench_<name>.py` module exposes `main(argv) -> int | None`."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from bench.common import CannotRun


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


EXIT_CANNOT_RUN = 3


def run(name: str, argv: list[str]) -> int:
    """One benchmark; a missing prerequisite is said in one line and exits non-zero."""
    module = importlib.import_module(f"bench.bench_{name}")
    print(f"== bench {name}", flush=True)
    try:
        return int(module.main(argv) or 0)
    except CannotRun as exc:
        print(f"bench {name} cannot run: {exc}", flush=True)
        return EXIT_CANNOT_RUN
    except Exception:  # one broken benchmark does not hide the others' figures
        traceback.print_exc()
        print(f"bench {name} failed (above)", flush=True)
        return 1


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [{'|'.join(names)}] [ARGS...]")
        return 0
    if argv:
        if argv[0] not in names:
            print(f"unknown benchmark {argv[0]!r}; available: {', '.join(names)}")
            return 2
        return run(argv[0], argv[1:])
    failed = 0
    for name in names:
        failed |= run(name, [])  # each with its defaults; pass arguments by naming one
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
