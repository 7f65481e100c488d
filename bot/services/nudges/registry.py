"""The providers of every policy, and the questions asked of them by policy or by key.

Apart from `obligations.py` (what an obligation and a provider are), which the providers
import: this module imports the providers, so the two never import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct
from bot.services.nudges.obligations import Obligation, Provider, Status, Window
from bot.services.nudges.providers import (
    MeetingReport,
    MeetingUnscheduled,
    VisitReport,
    VisitUnconfirmed,
)
from bot.services.nudges.providers_fb import BroadcastAck, FeedbackDue
from bot.services.vn_calendar import VN_TZ
from storage.models.nudges import NudgePolicy


def registry() -> dict[NudgePolicy, Provider]:
    providers: list[Provider] = [
        MeetingUnscheduled(),
        MeetingReport(),
        VisitUnconfirmed(),
        VisitReport(),
        FeedbackDue(),
        BroadcastAck(),
    ]
    return {p.policy: p for p in providers}


PROVIDERS = registry()
BY_PREFIX = {p.prefix: p for p in PROVIDERS.values()}
# The key a pressed action button names (feedback: the item at whatever level it waits).
ACT_PREFIX = {
    NudgeAct.SCHEDULE: "sched",
    NudgeAct.REPORT: "report",
    NudgeAct.VISIT_REPORT: "vreport",
    NudgeAct.ANSWER: "fb",
    NudgeAct.ACK: "ack",
}


def press_key(act: NudgeAct, row_id: int, chat_id: int = 0) -> str:
    return f"{ACT_PREFIX[act]}:{row_id}" + (f":{chat_id}" if act is NudgeAct.ACK else "")


async def statuses(
    session: AsyncSession, keys: Iterable[str], now: datetime, tz: ZoneInfo = VN_TZ
) -> dict[str, Status]:
    """Each key's status now (local days read in `tz`); a key no provider knows is lapsed."""
    by_prefix: dict[str, list[str]] = {}
    for key in set(keys):
        by_prefix.setdefault(key.split(":")[0], []).append(key)
    out: dict[str, Status] = {}
    for prefix, mine in by_prefix.items():
        provider = BY_PREFIX.get(prefix)
        if provider is None:
            out.update(dict.fromkeys(mine, Status.LAPSED))
            continue
        found = await provider.status(session, sorted(mine), now, tz)
        out.update({k: found.get(k, Status.LAPSED) for k in mine})
    return out


async def candidates(
    session: AsyncSession,
    policy: NudgePolicy,
    window: Window,
    district_id: int | None = None,
) -> list[Obligation]:
    return await PROVIDERS[policy].candidates(session, window, district_id)
