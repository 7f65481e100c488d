"""What the secretary reads after a change."""

from __future__ import annotations

from bot.services import meetings as svc
from bot.services.context import ServiceContext
from handlers.kit import locale, t

SUMMARY_ROOM = 3500  # the secretary's summary leaves room for the lines around it


def summary(ctx: ServiceContext, meeting: svc.Meeting, branch: svc.Branch) -> str:
    return svc.meeting_body(ctx.i18n, locale(), meeting, branch, tz=ctx.tz, room=SUMMARY_ROOM)


def told_line(told: svc.Told) -> str:
    """Who hears of it: how many chats, or that the branch has no group to tell."""
    if not told.group_linked:
        return t("mtg.told.no_group")
    return t("mtg.told.count", n=told.chats)


def scheduled_text(ctx: ServiceContext, result: svc.ScheduleResult) -> str:
    lines = [t("mtg.sched.done"), summary(ctx, result.meeting, result.branch)]
    if result.meeting.kind == svc.MeetingKind.THEMATIC and result.thematic_in_quarter:
        lines.append(t("mtg.sched.thematic_again", n=result.thematic_in_quarter))
    lines.append(told_line(result.told))
    return "\n\n".join(lines)


def changed_text(ctx: ServiceContext, change: svc.Change, done_key: str) -> str:
    """After a reschedule or a cancel."""
    return "\n\n".join(
        [t(done_key), summary(ctx, change.meeting, change.branch), told_line(change.told)]
    )
