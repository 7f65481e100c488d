"""The 2026 organisations in the bot's database: the sample `commune` (a commune committee at
the top, about 50 branches, no level above it) and the sample `province` (a province over two
communes and a ward), each imported from the generator's CSV files, exactly as an operator
would with `python -m bot sample-org` then `import-org`.

As in the roster world: the working groups' members get Telegram accounts, each group's chat is
bound, the plan job's work as of `START` is done, and the populated database is a template each
test clones (a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.i18n import create_i18n
from bot.sample_org import write_sample
from bot.services.meetings import Notices, generate_plan
from bot.services.meetings.context import MeetingContext
from bot.services.org_import import import_org
from storage.db import create_engine
from storage.models import ChatBinding, Member, TelegramUser, WorkingGroup, WorkingGroupMember
from storage.models.outbox import OutboxEntry
from tests.conftest import _pg_admin_execute, _Templates
from tests.e2e.rosters_world import CHAT_BASE, START, TG_BASE
from tests.helpers import FakeClock

SHAPES = ("commune", "province")


async def _populate(url: str, shape: str) -> None:
    engine = create_engine(url)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        with tempfile.TemporaryDirectory() as tmp:
            write_sample(Path(tmp), shape, 1, 0)
            async with factory() as s, s.begin():
                outcome = await import_org(s, Path(tmp))
                assert outcome.errors == [], outcome.errors
        async with factory() as s, s.begin():
            seated = select(WorkingGroupMember.member_id)
            for m in await s.scalars(select(Member).where(Member.id.in_(seated))):
                m.telegram_id = TG_BASE + m.id
                s.add(TelegramUser(id=m.telegram_id, first_name=m.full_name.split()[-1]))
            groups = await s.scalars(select(WorkingGroup).order_by(WorkingGroup.code))
            for i, g in enumerate(groups, start=1):
                s.add(
                    ChatBinding(
                        chat_id=CHAT_BASE - i,
                        chat_title=g.name,
                        target_type="working_group",
                        target_id=g.id,
                        district_id=g.district_id,
                    )
                )
        clock = FakeClock(START)
        async with factory() as s, s.begin():
            await generate_plan(s, clock)
        async with factory() as s, s.begin():
            await Notices(s, MeetingContext(clock, create_i18n("vi"))).shift_notices()
            await s.execute(delete(OutboxEntry))
    finally:
        await engine.dispose()


class Org2026:
    """The populated template of each backend and shape, made on first use."""

    def __init__(self, templates: _Templates) -> None:
        self.templates = templates
        self.sqlite: dict[str, Path] = {}
        self.pg: dict[str, str] = {}

    def sqlite_url(self, shape: str, tmp_path: Path) -> str:
        if shape not in self.sqlite:
            path = self.templates.tmp_root / f"org2026-{shape}.db"
            shutil.copyfile(self.templates.sqlite(), path)
            asyncio.run(_populate(f"sqlite+aiosqlite:///{path}", shape))
            self.sqlite[shape] = path
        copy = tmp_path / "bot.db"
        shutil.copyfile(self.sqlite[shape], copy)
        return f"sqlite+aiosqlite:///{copy}"

    def pg_database(self, shape: str) -> str:
        from tests.conftest import _pg_url

        if shape not in self.pg:
            name = self.templates.new_pg_database()
            asyncio.run(_populate(_pg_url(name), shape))
            self.pg[shape] = name
        clone = f"t_{self.templates.run_id}_{uuid.uuid4().hex[:10]}"
        asyncio.run(_pg_admin_execute(f'CREATE DATABASE "{clone}" TEMPLATE "{self.pg[shape]}"'))
        self.templates.pg_databases.append(clone)
        return clone
