"""/feedback_stats [period]: a committee admin's feedback figures, per district they administer,
with a button that sends the period's items as an .xlsx file.

The figures and the rows come from the services (`bot.services.feedback.stats` / `.export`);
this module only words them. The download button names the district and the period: both are
re-checked when it is pressed (callback data can be forged).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback import export as xlsx
from bot.services.feedback import stats as svc
from bot.services.feedback.inbox import category_label
from bot.services.vn_calendar import format_quarter, to_local
from handlers.kit import READS, Chats, Id, Small, day_text, feature_router, locale, t

stats_router = feature_router(__name__, Chats.PRIVATE)

TEXT_LIMIT = 4096
ROWS_MAX = 30  # per breakdown; the file has everything


class StatsFileCb(CallbackData, prefix="fbrs"):
    """The .xlsx of a district's period (q, m: 0 when not a quarter / month)."""

    d: Id
    y: Small
    q: Small = 0
    m: Small = 0


def period_label(period: svc.Period) -> str:
    if period.month is not None:
        return t("fbr.period.month", month=period.month, year=period.year)
    if period.quarter is not None:
        return format_quarter(period.year, period.quarter, locale())
    return t("fbr.period.year", year=period.year)


def duration(value: timedelta | None) -> str:
    if value is None:
        return t("fbr.stats.median_none")
    hours = round(value.total_seconds() / 3600)
    return t("fbr.stats.duration", days=hours // 24, hours=hours % 24)


def _as_of(moment: datetime, end: datetime, tz: ZoneInfo) -> str:
    # The period's end is the next period's first midnight: its last day is the day before.
    last = moment - timedelta(seconds=1) if moment == end else moment
    return day_text(to_local(last, tz).date())


def _row(name: str, f: svc.Figures) -> str:
    return t(
        "fbr.stats.row",
        name=escape(name),
        received=f.received,
        answered=f.answered,
        on_time=f.on_time,
        open=f.open,
    )


def _breakdown(title_key: str, rows: list[str]) -> list[str]:
    if not rows:
        return []
    out = ["", t(title_key), *rows[:ROWS_MAX]]
    if len(rows) > ROWS_MAX:
        out.append(t("fbr.stats.more", n=len(rows) - ROWS_MAX))
    return out


def stats_text(d: svc.DistrictStats, period: svc.Period, tz: ZoneInfo) -> str:
    s, total = d.stats, d.stats.total
    lines = [
        t("fbr.stats.head", district=escape(d.name), period=period_label(period)),
        "",
        t("fbr.stats.received", n=total.received),
        t("fbr.stats.answered", n=total.answered, on_time=total.on_time, late=total.late),
        t("fbr.stats.open", n=total.open, as_of=_as_of(s.as_of, s.end, tz)),
        t("fbr.stats.reopened", n=total.reopened),
        t("fbr.stats.median", value=duration(s.median_answer)),
    ]
    categories = [
        _row(category_label(c.code, {c.code: c.name}, locale()), c.figures) for c in s.by_category
    ]
    lines += _breakdown("fbr.stats.by_category", categories)
    lines += _breakdown("fbr.stats.by_unit", [_row(u.name, u.figures) for u in s.by_unit])
    text = "\n".join(lines)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _download(d: svc.DistrictStats, period: svc.Period) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=t("fbr.stats.download"),
        callback_data=StatsFileCb(
            d=d.district_id, y=period.year, q=period.quarter or 0, m=period.month or 0
        ),
    )
    return kb.as_markup()


@stats_router.message(Command("feedback_stats"), flags=READS)
async def cmd_feedback_stats(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    period, districts = await svc.stats_for(session, ctx, actor, command.args or "")
    if not districts:
        await message.answer(t("fbr.stats.no_districts"))
        return
    for d in districts:
        await message.answer(stats_text(d, period, ctx.tz), reply_markup=_download(d, period))


def export_labels(district: str, period: svc.Period) -> xlsx.ExportLabels:
    # Statuses read as in /inbox (fbr.status.*); the sheet's other words are its own.
    words = {w: t(f"fbr.{w}" if w.startswith("status.") else f"fbr.x.{w}") for w in xlsx.WORDS}
    return xlsx.ExportLabels(
        title=t("fbr.x.title", district=district, period=period_label(period)),
        headers={c: t(f"fbr.x.col.{c}") for c in xlsx.COLUMNS},
        words=words,
        sheet=t("fbr.x.sheet"),
    )


@stats_router.callback_query(StatsFileCb.filter(), flags=READS)
async def on_download(
    query: CallbackQuery,
    callback_data: StatsFileCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    ctx, cb = ctx, callback_data
    period = svc.Period(cb.y, cb.q or None, cb.m or None)  # a forged one: fbr.bad_period
    district, rows = await xlsx.export_for(session, ctx, actor, cb.d, period, locale())
    data = xlsx.items_workbook(export_labels(district.name, period), rows, tz=ctx.tz)
    document = BufferedInputFile(data, filename=xlsx.export_filename(district.code, period))
    caption = t(
        "fbr.stats.file_caption",
        district=escape(district.name),
        period=period_label(period),
        n=len(rows),
    )
    await query.answer()
    await bot.send_document(query.from_user.id, document, caption=caption)
