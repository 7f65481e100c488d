"""Truth rule "escalations reach someone": with no stored committee admin who can be told, the
bootstrap admins (ADMIN_IDS) hear of it, as of every other admin notice; and a report owed
longer than the sweep's usual window when the bot first sees it (after days stopped) is still
escalated, once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.nudges import sweep
from storage.models.nudges import EscalationReason
from tests.helpers import local
from tests.nudge_world import NudgeWorld, evening, nudge_world
from tests.orgdata import ADMIN, ADMIN_OTHER


async def _sweep(nw: NudgeWorld, fallback: tuple[int, ...]) -> None:
    async with nw.factory() as s, s.begin():
        await sweep(s, nw.ctx, fallback_admins=fallback)


async def test_escalations_reach_someone_the_bootstrap_admin_when_no_committee_admin_can_be_told(
    engine: AsyncEngine,
) -> None:
    """District T02's only stored admin never opened the bot: ADMIN_IDS stand in."""
    nw = await nudge_world(engine)
    other = await nw.meeting(nw.org.other_branch, evening(2026, 11, 25))
    nw.at(2026, 11, 28, 19, 30)  # 72 h: escalated
    await _sweep(nw, (ADMIN,))
    reasons = {e.key: (e.reason, e.chat_id) for e in await nw.events("escalation")}
    assert reasons[f"report:{other}"] == (EscalationReason.IGNORED, ADMIN)
    [told] = await nw.nudges(ADMIN)
    assert "Chi bộ thôn Khác" in (told.text or "")
    assert not await nw.nudges(ADMIN_OTHER)


async def test_escalations_reach_someone_after_days_stopped_still_escalated_once(
    engine: AsyncEngine,
) -> None:
    """The meeting was on 25/11; the bot was stopped until 03/12, past 72 h + 2 days."""
    nw = await nudge_world(engine)
    mid = await nw.meeting(nw.org.b1, evening(2026, 11, 25))
    nw.at(2026, 12, 3, 9, 0)
    async with nw.factory() as s, s.begin():  # the last sweep before the stop: 24/11
        result = await sweep(s, nw.ctx, last_run=local(2026, 11, 24, 9, 0))
    assert result.escalations == 1
    [esc] = [e for e in await nw.events("escalation") if e.key == f"report:{mid}"]
    assert esc.reason == EscalationReason.IGNORED
    nw.at(2026, 12, 4, 9, 0)
    assert (await nw.sweep()).escalations == 0  # once
