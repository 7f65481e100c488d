"""`python -m bot demo`: try the bot in a browser, alone, with a clock.

One process runs the local Bot API stand-in (`sandbox`), its demo page and the production app
polling it, on an SQLite file in `data/demo/`. So the page's clock control moves the bot's clock
(`bot.clock.shift_by`) and the stand-in's together, and runs every scheduler job at once after a
move, as they would run at that time.

On the first start the project's sample organisation is imported (one commune and any committee
over it, to start in seconds, with the committee's working group: its members visit the
branches, so the visiting roster can be tried), every member of the commune gets a Telegram
account in the stand-in, and each branch's group and the commune committee's group are made and
linked with the link service, as `/linkcode` and `/link` would. The stand-in's world is kept in
`world.json` beside the database, so the groups survive a restart; if that file is gone while
the database still holds links, the groups are made again (empty) and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock as bot_clock
from bot.app import App, create_app, poll, prepare_database
from bot.i18n import CatalogI18n
from bot.sample_org import SHAPES, write_sample
from bot.scheduler import JobContext, JobRegistry, SchedulerJobs, run_job
from bot.services.access.linking import ChatInfo, issue_code, link_chat
from bot.services.access.policy import Target, load_actor
from bot.services.org_import import import_org
from bot.services.vn_calendar import VN_TZ
from bot.settings import load_settings
from sandbox import Sandbox, persist
from sandbox.demo import add_demo
from sandbox.server import create_app as create_sandbox_app
from storage.models import Branch, ChatBinding, CommitteeAdmin, Member, TelegramUser, Unit
from storage.models.org import UnitKind

log = logging.getLogger("bot.app.demo")

TOKEN = "7000000001:DEMO"
DEFAULT_DIR = Path("data/demo")
CHAT_BASE = -1_002_000_000  # a branch's group: CHAT_BASE - branch id
UNIT_CHAT = -1_001_900_000  # the commune committee's group: UNIT_CHAT - unit id
ADMIN_ID = 7_100_000_001  # the commune's administrator (cán bộ quản trị xã)
ADMIN_NAME = "Đỗ Thị Quản Trị"
BOT_NAME = "Trợ lý chi bộ"  # the account's display name, as the operator would set it
ROLES = {"secretary": "Bí thư chi bộ", "deputy_secretary": "Phó bí thư", "member": "Đảng viên"}
ROLE_ORDER = {"admin": 0, "secretary": 1, "deputy_secretary": 2, "member": 3}


# ---- the sample organisation, cut to one commune ---------------------------------------------


def write_commune_sample(out: Path, seed: int = 0) -> None:
    """The sample organisation's CSVs cut to its first commune (and the district committee over
    it): importing a whole district takes most of a minute on a small machine."""
    shape = "commune" if "commune" in SHAPES else "district"
    full = out / "full"
    write_sample(full, shape=shape, seed=seed)
    units = _rows(full / "units.csv")
    communes = [u for u in units if u["kind"] == "commune"]
    keep_units = {u["code"] for u in units if not u["parent_code"]}
    if communes:
        keep_units.add(communes[0]["code"])
    parents = {u["code"]: u["parent_code"] for u in units}
    while True:  # the chosen commune's ancestors too, whatever the shape's depth
        more = {parents[c] for c in keep_units if parents.get(c)} - keep_units
        if not more:
            break
        keep_units |= more
    branches = [b for b in _rows(full / "branches.csv") if b["unit_code"] in keep_units]
    keep_branches = {b["code"] for b in branches}
    members = [m for m in _rows(full / "members.csv") if m["branch_code"] in keep_branches]
    _write(out / "units.csv", [u for u in units if u["code"] in keep_units], full / "units.csv")
    _write(out / "branches.csv", branches, full / "branches.csv")
    _write(out / "members.csv", members, full / "members.csv")
    _write_working_groups(full, out, keep_units, {m["code"] for m in members})


def _write_working_groups(full: Path, out: Path, units: set[str], members: set[str]) -> None:
    """The kept committees' working groups (a 2026 commune's: its committee members visiting
    its branches), cut to the kept units and members, so the demo shows the visiting roster."""
    groups_csv, members_csv = full / "working_groups.csv", full / "working_group_members.csv"
    if not groups_csv.exists() or not members_csv.exists():
        return
    kept = [
        (g, [r for r in _rows(members_csv) if r["working_group_code"] == g["code"]])
        for g in _rows(groups_csv)
        if g["committee_code"] in units
    ]
    groups: list[dict[str, str]] = []
    group_members: list[dict[str, str]] = []
    for group, rows in kept:
        people = [r for r in rows if r["member_code"] in members]
        covered = [c for c in group["unit_codes"].split(";") if c in units]
        if not people or not covered:
            continue
        leader = group["leader_code"]
        if leader not in {r["member_code"] for r in people}:
            leader = people[0]["member_code"]
        groups.append({**group, "leader_code": leader, "unit_codes": ";".join(covered)})
        group_members.extend(people)
    _write(out / "working_groups.csv", groups, groups_csv)
    _write(out / "working_group_members.csv", group_members, members_csv)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]], like: Path) -> None:
    with like.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


# ---- the people and their groups ----------------------------------------------------------------


@dataclass
class Person:
    user_id: int
    name: str
    role: str
    unit: str
    phone: str | None = None

    def api(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "role": ROLES.get(self.role, "Cán bộ quản trị xã"),
            "unit": self.unit,
            "phone": self.phone,
        }


@dataclass
class Org:
    """The commune the demo is about: its people (with Telegram accounts) and its groups."""

    commune: Unit
    people: list[Person]
    branches: list[tuple[Branch, list[Person]]]


async def load_org(session: AsyncSession) -> Org | None:
    commune = await session.scalar(
        select(Unit).where(Unit.kind == UnitKind.COMMUNE).order_by(Unit.id).limit(1)
    )
    if commune is None:
        commune = await session.scalar(
            select(Unit).where(Unit.parent_id.is_not(None)).order_by(Unit.id).limit(1)
        )
    if commune is None:
        return None
    branches = list(
        await session.scalars(
            select(Branch).where(Branch.unit_id == commune.id).order_by(Branch.code)
        )
    )
    people: list[Person] = [Person(ADMIN_ID, ADMIN_NAME, "admin", commune.name)]
    grouped: list[tuple[Branch, list[Person]]] = []
    for branch in branches:
        rows = await session.scalars(
            select(Member)
            .where(Member.branch_id == branch.id, Member.telegram_id.is_not(None), Member.active)
            .order_by(Member.code)
        )
        mine = [
            Person(int(m.telegram_id or 0), m.full_name, m.role, branch.name, m.phone) for m in rows
        ]
        grouped.append((branch, mine))
        people.extend(mine)
    people.sort(key=lambda p: (ROLE_ORDER.get(p.role, 9), p.unit, p.name))
    return Org(commune, people, grouped)


def _split_name(full: str) -> tuple[str, str | None]:
    """Telegram's first and last name from a Vietnamese full name (family name first): the
    given name is what a person's account usually shows first."""
    parts = full.split()
    if len(parts) < 2:
        return full, None
    return parts[-1], " ".join(parts[:-1])


def seat_people(world: Any, org: Org) -> None:
    """Everyone's Telegram account (each has pressed Start) and the groups, the bot an admin."""
    for p in org.people:
        if p.user_id not in world.users:
            first, last = _split_name(p.name)
            world.add_user(p.user_id, first, "vi", last_name=last, started=True)
    secretaries: dict[int, str] = {}
    for branch, people in org.branches:
        if not people:
            continue
        members = {p.user_id: "member" for p in people}
        lead = next((p for p in people if p.role == "secretary"), people[0])
        members[lead.user_id] = "creator"
        secretaries[lead.user_id] = "member"
        world.create_group(CHAT_BASE - branch.id, branch.name, members, bot_status="administrator")
    secretaries[ADMIN_ID] = "creator"
    world.create_group(
        UNIT_CHAT - org.commune.id, org.commune.name, secretaries, bot_status="administrator"
    )


async def link_groups(session: AsyncSession, app: App, org: Org) -> int:
    """Bind each group as `/linkcode` then `/link CODE` would: a code issued to the
    secretary (the administrator for the commune's group), used in the group."""
    now = app.clock.now()
    targets: list[tuple[int, str, int, str, int]] = []
    for branch, people in org.branches:
        lead = next((p for p in people if p.role == "secretary"), None)
        if lead is not None:
            targets.append((CHAT_BASE - branch.id, branch.name, lead.user_id, "branch", branch.id))
    # The commune's own group: a unit under a district, or the committee at the top (2026).
    kind = Target.unit(org.commune).type.value
    targets.append((UNIT_CHAT - org.commune.id, org.commune.name, ADMIN_ID, kind, org.commune.id))

    async def is_admin() -> bool:
        return True

    linked = 0
    for chat_id, title, who, target_type, target_id in targets:
        # The commune's own group is linked by an operator (ADMIN_IDS), as in a real start.
        actor = await load_actor(session, who, (ADMIN_ID,) if who == ADMIN_ID else ())
        issued = await issue_code(session, actor, target_type, target_id, now)
        await link_chat(
            session,
            code=issued.code,
            chat=ChatInfo(chat_id, "supergroup", title),
            sender=actor,
            chat_admin=is_admin,
            now=now,
            i18n=app.i18n,
        )
        linked += 1
    return linked


async def populate(app: App, seed: int = 0) -> None:
    """First start: the sample commune imported, its people's accounts and the commune's admin
    known to the bot."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_commune_sample(folder, seed=seed)
        async with app.session_factory() as s, s.begin():
            outcome = await import_org(s, folder)
            if outcome.errors:
                raise RuntimeError(f"the sample organisation did not import: {outcome.errors}")
    async with app.session_factory() as s, s.begin():
        org = await load_org(s)
        assert org is not None
        district_id = org.commune.district_id or org.commune.parent_id or org.commune.id
        # A commune at the top (the 2026 shape) is the committee the bot serves: its admin acts
        # for all of it (rosters, coverage, admins), not only for its broadcasts.
        unit_id = None if district_id == org.commune.id else org.commune.id
        s.add(CommitteeAdmin(district_id=district_id, unit_id=unit_id, telegram_id=ADMIN_ID))
        for p in org.people:
            first, last = _split_name(p.name)
            s.add(TelegramUser(id=p.user_id, first_name=first, last_name=last))


# ---- the clock -----------------------------------------------------------------------------------


def when_text(i18n: CatalogI18n, at: datetime) -> str:
    """'Thứ Năm, 10/12/2026 lúc 17:00', from the catalogs."""
    local = at.astimezone(VN_TZ)
    return i18n.t(
        "people.when",
        "vi",
        weekday=i18n.t(f"people.weekday.{local.weekday()}", "vi"),
        date=f"{local:%d/%m/%Y}",
        time=f"{local:%H:%M}",
    )


def parse_local(text: str) -> datetime:
    """A `datetime-local` input's value ('2026-12-10T17:00'), Vietnam's time."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date and time: {text!r}") from None
    return naive.replace(tzinfo=VN_TZ) if naive.tzinfo is None else naive


@dataclass
class DemoHost:
    """What the page asks of the bot's side: who people are, what time it is, moving it."""

    world: Any
    app: App | None = None  # set once the stand-in listens (the bot needs its address)
    org: Org | None = None
    jobs_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def people(self) -> list[dict[str, Any]]:
        return [p.api() for p in self.org.people] if self.org else []

    def clock_text(self) -> str:
        if self.app is None:
            return ""
        return when_text(self.app.i18n, self.app.clock.now())

    async def move_clock(self, action: str, at: str | None) -> None:
        if self.app is None:
            raise ValueError("the bot is not running yet")
        if action == "hour":
            bot_clock.shift_by(timedelta(hours=1))
        elif action == "day":
            bot_clock.shift_by(timedelta(days=1))
        elif action == "set":
            if not at:
                raise ValueError("a date and time are needed")
            bot_clock.shift_to(parse_local(at))
        else:  # "now": back to the real time (the test's own clock in tests)
            bot_clock.shift_by(-bot_clock.offset())
        self.world.world_state.wall_offset = bot_clock.offset().total_seconds()
        log.warning(
            "clock shifted: it reads %s (demo clock control, local Bot API only)",
            self.app.clock.now().isoformat(timespec="minutes"),
        )
        await self.run_jobs()

    async def run_jobs(self) -> None:
        """Every scheduler job once, now: what comes due at the new time is done at once."""
        assert self.app is not None
        registry: JobRegistry = self.app.dp["jobs"]
        ctx = _job_context(self.app)
        async with self.jobs_lock:
            for spec in registry.specs.values():
                await run_job(spec, ctx, registry.holder)
        self.world.signal.notify()


def _job_context(app: App) -> JobContext:
    component = next(c for c in app.components if isinstance(c, SchedulerJobs))
    return component.ctx


# ---- running it ---------------------------------------------------------------------------


@dataclass
class DemoRun:
    url: str
    base_url: str
    app: App
    world: Any
    host: DemoHost

    async def settle(self) -> None:
        """Every update fetched and handled (for scripts and tests acting through the page)."""
        await self.world.wait_until_idle(10)
        await self.app.dp["in_flight"].wait_idle(10)


@contextlib.asynccontextmanager
async def running_demo(
    data_dir: Path = DEFAULT_DIR, port: int = 8080, host: str = "127.0.0.1", seed: int = 0
) -> AsyncIterator[DemoRun]:
    """The stand-in with its page and the bot polling it, until the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    world_file = data_dir / "world.json"
    sandbox = Sandbox(default_token=TOKEN, bot_username="TroLyChiBoBot")
    world = sandbox.world(TOKEN)
    web_app = create_sandbox_app(sandbox)
    demo_host = DemoHost(world)
    add_demo(web_app, sandbox, demo_host, TOKEN)
    runner = web.AppRunner(web_app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    actual = runner.addresses[0][1]
    base_url = f"http://{host}:{actual}"
    saver: asyncio.Task[None] | None = None
    poller: asyncio.Task[None] | None = None
    try:
        settings = load_settings(
            {
                "BOT_TOKEN": TOKEN,
                "DATABASE_URL": f"sqlite+aiosqlite:///{(data_dir / 'bot.db').resolve()}",
                "TELEGRAM_API_URL": base_url,
                "LOG_LEVEL": "INFO",
            }
        )
        app = create_app(settings)
        await prepare_database(app, migrate=True)
        demo_host.app = app
        await _prepare_world(app, world, world_file, seed)
        world.world_state.bot_user["first_name"] = BOT_NAME
        async with app.session_factory() as s:
            demo_host.org = await load_org(s)
        offset = world.world_state.wall_offset
        if offset:
            bot_clock.shift_by(timedelta(seconds=offset) - bot_clock.offset())
            log.warning("clock shifted: it reads %s (kept from the last run)", app.clock.now())
        saver = asyncio.create_task(persist.autosave(world, world_file))
        poller = asyncio.create_task(poll(app, handle_signals=False))
        yield DemoRun(f"{base_url}/demo", base_url, app, world, demo_host)
    finally:
        if poller is not None:
            with contextlib.suppress(Exception):
                await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(poller, 35)
        if saver is not None:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
        bot_clock.shift_by(-bot_clock.offset())
        await runner.cleanup()


async def _prepare_world(app: App, world: Any, world_file: Path, seed: int) -> None:
    async with app.session_factory() as s:
        imported = await s.scalar(select(func.count()).select_from(Unit))
        bound = await s.scalar(select(func.count()).select_from(ChatBinding))
    if not imported:
        log.info("first start: importing the sample organisation")
        await populate(app, seed)
    saved = persist.read(world_file)
    if saved is not None:
        try:
            persist.load(world, saved)
            log.info("the stand-in's world is back from %s", world_file)
            return
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("the saved world %s does not fit (%s)", world_file, exc)
    async with app.session_factory() as s:
        org = await load_org(s)
    if org is None:
        return
    seat_people(world, org)
    if bound:
        log.warning(
            "the stand-in's earlier chats are gone (%s missing): the groups were made again, "
            "empty, with the same links",
            world_file,
        )
        return
    async with app.session_factory() as s, s.begin():
        linked = await link_groups(s, app, org)
    log.info("linked %d groups of %s", linked, org.commune.name)
    persist.save(world, world_file)


async def serve(data_dir: Path, port: int, host: str) -> None:
    async with running_demo(data_dir, port, host) as run:
        print(run.url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
