"""/nudges through the sandbox: the figures for an admin (refused to others), a person switched
off and on again (another district's member unknown), a policy and the waking hours tuned."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import NudgeOptout, NudgeSetting
from tests import orgdata as o
from tests.e2e.access import org_world
from tests.e2e.harness import BotEnv


def _said(env: BotEnv, key: str, **params: object) -> str:
    return env.app.i18n.t(key, "vi", **params)


async def test_nudges_command(bot_env: BotEnv) -> None:
    env = bot_env
    org = await org_world(env)
    refused = await env.ask(o.SEC1, "/nudges")
    assert _said(env, "policy.needs_admin") in refused["text"]
    figures = await env.ask(o.ADMIN, "/nudges 11/2026")
    assert "Huyện ủy Thử Nghiệm" in figures["text"] and "11/2026" in figures["text"]
    bad = await env.ask(o.ADMIN, "/nudges 13/2026")
    assert _said(env, "nudge.figures.bad_period") in bad["text"]
    off = await env.ask(o.ADMIN, "/nudges off M1")
    assert off["text"].startswith("Đã tắt nhắc việc cho Nguyễn Văn Bí")
    again = await env.ask(o.ADMIN, "/nudges off M1")
    assert "đã được tắt nhắc việc từ trước" in again["text"]
    other = await env.ask(o.ADMIN, "/nudges off X1")
    assert _said(env, "nudge.optout.unknown", code="X1") in other["text"]
    await env.settle()
    async with env.app.session_factory() as s:
        rows = list(await s.scalars(select(NudgeOptout)))
    assert [(r.district_id, r.telegram_id) for r in rows] == [(org.district, o.SEC1)]
    on = await env.ask(o.ADMIN, "/nudges on M1")
    assert on["text"].startswith("Đã bật lại nhắc việc")
    tuned = await env.ask(o.ADMIN, "/nudges set meeting_report 12 -")
    assert "12 giờ" in tuned["text"] and "báo cấp trên: không" in tuned["text"]
    switched = await env.ask(o.ADMIN, "/nudges set visit_report off")
    assert switched["text"] == "Đã tắt “Chưa báo cáo dự sinh hoạt”."
    unknown = await env.ask(o.ADMIN, "/nudges set reports 12")
    assert "meeting_report" in unknown["text"]
    hours = await env.ask(o.ADMIN, "/nudges hours 8 20")
    assert "8 giờ đến 20 giờ" in hours["text"]
    await env.settle()
    async with env.app.session_factory() as s:
        rows2 = list(await s.scalars(select(NudgeSetting).order_by(NudgeSetting.policy)))
    assert [(r.policy, r.enabled, r.hours, r.escalate_hours) for r in rows2] == [
        ("meeting_report", True, 12, None),
        ("visit_report", False, 48, 120),
        ("waking", True, 8, 20),
    ]
    assert {r.district_id for r in rows2} == {org.district}
