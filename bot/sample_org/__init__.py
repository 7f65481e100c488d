"""The project's own sample organisation: invented people in a realistic shape, written as the
CSV files `python -m bot import-org` reads, for demos, tests and benchmarks.

`python -m bot sample-org OUT [--districts N] [--seed S] [--shape district]`; the same seed
gives byte-identical files. Shapes are registered in `SHAPES` by name: `commune` and `province`
are the 2026 shapes (no district level, `modern.py`), `district` is the older shape (a district
committee over communes and towns).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.sample_org import district, modern
from bot.sample_org.org import SampleOrg

# name -> builder(seed, scale): `scale` is the number of top-level committees (districts for
# the district shape).
Builder = Callable[[int, int], SampleOrg]
SHAPES: dict[str, Builder] = {
    # 2026: a commune committee at the top (about 50 branches; `scale` communes side by side).
    "commune": lambda seed, scale: modern.build_commune(seed=seed, communes=scale),
    # 2026: a province over two communes and a ward (`scale` provinces).
    "province": lambda seed, scale: modern.build_province(seed=seed, provinces=scale),
    "district": lambda seed, scale: district.build(seed=seed, districts=scale),
}
DEFAULT_SHAPE = "district"

__all__ = ["DEFAULT_SHAPE", "SHAPES", "SampleOrg", "build_sample", "write_sample"]


def build_sample(shape: str = DEFAULT_SHAPE, districts: int = 1, seed: int = 0) -> SampleOrg:
    """The organisation's rows in memory."""
    try:
        builder = SHAPES[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}") from None
    return builder(seed, districts)


def write_sample(
    out_dir: Path, shape: str = DEFAULT_SHAPE, districts: int = 1, seed: int = 0
) -> dict[str, int]:
    """Write the sample's CSV files into `out_dir` (made if missing); rows per table."""
    org = build_sample(shape, districts, seed)
    org.write(Path(out_dir))
    return org.counts()
