"""Organisation import speed: `python -m bot import-org` on the sample district (the
generator's default, ~7,000 members, limit 10 s) and a 30-district city of it (~209,000
members, limit 180 s), on SQLite and PostgreSQL, each into a fresh database, then a no-op
re-import. The clock is fixed (`bench.common.BENCH_AT`).

Baseline measured in the same run: a plain `csv.reader` pass over the same files, so the
ratio says what validation and the database cost on top of just reading the text.

    python -m bench import [--quick] [--backend sqlite|postgresql|both] [--districts N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.common import fixed_clock, require_postgresql, sample_city, sample_district
from bot.services.org_import import apply_org, load_and_validate
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LIMITS = {"district": 10.0, "city": 180.0}


@dataclass
class Result:
    dataset: str
    backend: str
    run: str
    rows: int
    seconds: float
    baseline: float
    limit: float

    @property
    def ok(self) -> bool:
        return self.seconds < self.limit


def warm_up() -> None:
    """apply_org imports the rosters' planning (and aiogram with it) on first use: seconds on
    a busy machine that would land in the first timed import only. Imported here, untimed."""
    importlib.import_module("bot.services.rosters.planning")


def csv_baseline(folder: Path) -> tuple[int, float]:
    """Rows and seconds for just parsing the CSV files with the standard library."""
    started = time.perf_counter()
    rows = 0
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fp:
            rows += sum(1 for _ in csv.reader(fp)) - 1
    return rows, time.perf_counter() - started


async def timed_import(url: str, folder: Path) -> tuple[float, int]:
    """Seconds for validate + upsert + commit (the schema is migrated beforehand, untimed)."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        factory = create_session_factory(engine)
        started = time.perf_counter()
        data, errors = load_and_validate(folder)
        if errors:
            raise SystemExit(f"{folder}: {len(errors)} bad rows, first: {errors[0]}")
        async with factory() as session, session.begin():
            report = await apply_org(session, data)
        return time.perf_counter() - started, report.changed
    finally:
        await engine.dispose()


def _pg_admin_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    return base or PG_DEFAULT


async def _pg_admin(statement: str) -> None:
    import asyncpg

    url = make_url(_pg_admin_url())
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database="postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def bench_dataset(
    name: str, folder: Path, backend: str, tmp: Path, rows: int, baseline: float
) -> list[Result]:
    limit = LIMITS[name]
    pg_name = ""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
    else:
        pg_name = f"bench_import_{uuid.uuid4().hex[:10]}"
        await _pg_admin(f'CREATE DATABASE "{pg_name}"')
        url = make_url(_pg_admin_url()).set(database=pg_name).render_as_string(False)
    try:
        first, changed = await timed_import(url, folder)
        again, changed_again = await timed_import(url, folder)
        if changed_again:
            raise SystemExit(f"re-import of {name} changed {changed_again} rows; expected 0")
    finally:
        if pg_name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return [
        Result(name, backend, "import", rows, first, baseline, limit),
        Result(name, backend, "re-import", rows, again, baseline, limit),
    ]


def print_table(results: list[Result]) -> None:
    header = (
        f"{'dataset':<11}{'backend':<11}{'run':<10}{'rows':>9}{'seconds':>9}{'rows/s':>10}"
        f"{'csv s':>8}{'x csv':>8}{'limit s':>9}  result"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.dataset:<11}{r.backend:<11}{r.run:<10}{r.rows:>9,}{r.seconds:>9.2f}"
            f"{r.rows / r.seconds:>10,.0f}{r.baseline:>8.2f}{r.seconds / r.baseline:>8.0f}"
            f"{r.limit:>9.0f}  {'PASS' if r.ok else 'FAIL'}",
            flush=True,
        )


async def run(
    sets: list[tuple[str, Path, int, float]], backends: list[str], tmp: Path
) -> list[Result]:
    results: list[Result] = []
    for name, folder, rows, baseline in sets:
        for backend in backends:
            results += await bench_dataset(name, folder, backend, tmp, rows, baseline)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 30-district city set")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--districts", type=int, default=30, help="districts in the city set")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends:
        require_postgresql()
    warm_up()
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp_name, fixed_clock():
        tmp = Path(tmp_name)
        folders = [("district", sample_district(tmp / "district"))]
        if not args.quick:
            folders.append(("city", sample_city(tmp / "city", args.districts)))
        sets = []
        for name, folder in folders:
            rows, baseline = csv_baseline(folder)
            print(f"{name}: {rows:,} rows; plain csv parse (baseline) {baseline:.3f}s", flush=True)
            sets.append((name, folder, rows, baseline))
        results = asyncio.run(run(sets, backends, tmp))
    print()
    print_table(results)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
