"""The access tests' world: the small org of `tests/orgdata.py` in the bot's database, its
people known to the sandbox, and a link code asked for in private."""

from __future__ import annotations

import re

from storage.models import TelegramUser
from tests import orgdata as o
from tests.e2e.harness import BotEnv

GROUP = -100100
CODE_RE = re.compile(r"\b([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})\b")
NAMES = {
    o.SEC1: "Bí",
    o.DEP1: "Phó",
    o.MEM1: "Viên",
    o.SEC2: "Giáo",
    o.SEC3: "Ba",
    o.WG_LEADER: "Tổ",
    o.ADMIN: "Quản",
    o.STRANGER: "Lạ",
}


async def org_world(env: BotEnv) -> o.Org:
    org = await o.build_org(env.app.engine)
    for uid, name in NAMES.items():
        env.user(uid, name, "vi", started=True)
    # Seen before: two simultaneous first updates from one person (the bot added to a group
    # sends my_chat_member and a service message at once) race in UserMiddleware's insert on
    # PostgreSQL (reported to the lead); these tests are about access, not that race.
    async with env.app.session_factory() as s, s.begin():
        s.add_all(TelegramUser(id=uid, first_name=name) for uid, name in NAMES.items())
    return org


async def link_code(env: BotEnv, who: int, args: str = "") -> str:
    """A one-time code asked for with /linkcode in private."""
    reply = await env.ask(who, f"/linkcode {args}".strip())
    match = CODE_RE.search(reply["text"])
    assert match, reply["text"]
    await env.settle()
    return match.group(1)
