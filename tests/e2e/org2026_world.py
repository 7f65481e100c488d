"""The 2026 organisations in the bot's database: the sample `commune` (a commune committee at
the top, about 50 branches, no level above it) and the sample `province` (a province over two
communes and a ward), each imported from the generator's CSV files, exactly as an operator
would with `python -m bot sample-org` then `import-org`.

As in the roster world: the working groups' members get Telegram accounts, each group's chat is
bound, the plan job's work as of `START` is done, and the populated database is a template each
test copies (a file copy on SQLite; on PostgreSQL a database of the pool reset to it, see
`tests/pgpool.py`).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from pathlib import Path

from bot.sample_org import write_sample
from tests.conftest import _Templates, pg_database, sqlite_database
from tests.e2e.rosters_world import _populate as populate_like_dan_phuong

SHAPES = ("commune", "province")


async def _populate(url: str, shape: str) -> None:
    """A generated organisation of `shape`, populated as dan-phuong is for the roster worlds."""
    with tempfile.TemporaryDirectory() as tmp:
        write_sample(Path(tmp), shape, 1, 0)
        await populate_like_dan_phuong(url, Path(tmp))


class Org2026:
    """The populated template of each backend and shape, made on first use."""

    def __init__(self, templates: _Templates) -> None:
        self.templates = templates

    def sqlite_database(self, shape: str) -> contextlib.AbstractContextManager[str]:
        """A SQLite database holding the `shape` organisation, for one test."""
        build = functools.partial(_populate, shape=shape)
        return sqlite_database(
            self.templates, self.templates.sqlite_world(f"org2026:{shape}", build)
        )

    def pg_database(self, shape: str) -> contextlib.AbstractContextManager[str]:
        """A PostgreSQL database holding the `shape` organisation, for one test."""
        build = functools.partial(_populate, shape=shape)
        return pg_database(self.templates, f"org2026:{shape}", build)
