"""/broadcasts: the recent broadcasts with their figures, each opening to the table by unit and
who has not acknowledged, and "Tải Excel" for the whole record as a .xlsx file.

Read-only screens (`READS`); the file is made by the service and sent back at once (it is the
person's own answer, not a notice).
"""

from __future__ import annotations

from html import escape

from aiogram import Bot
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcasts as svc
from bot.services.access.policy import Actor, Refused
from bot.services.context import ServiceContext
from handlers.broadcasts.callbacks import HistAct, HistCb
from handlers.kit import READS, Chats, feature_router, locale, pager, short, show, t, when

router = feature_router(__name__, Chats.PRIVATE)
PAGE = svc.DEFAULT_CONFIG.page_size
NAME_WIDTH = 16
SILENT_SHOWN = 25
TEXT_MAX = 4000


async def _list(
    session: AsyncSession, actor: Actor, ctx: ServiceContext, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    rows = await svc.recent(session, actor, page)
    if not rows and page == 0:
        return t("bcui.history.none"), InlineKeyboardMarkup(inline_keyboard=[])
    kb = InlineKeyboardBuilder()
    for s in rows:
        label = t(
            "bcui.history.row",
            date=s.moment.astimezone(ctx.tz).strftime("%d/%m"),
            excerpt=short(s.excerpt or t(f"bcui.kind.{s.kind}"), 24),
            sent=s.sent,
            queued=s.queued,
            acked=s.acknowledged,
        )
        kb.button(text=short(label, 64), callback_data=HistCb(a=HistAct.OPEN, b=s.id, p=page))
    pages = page + 2 if len(rows) == PAGE else page + 1  # one more while the page is full
    markup = pager(kb, page, pages, lambda n: HistCb(a=HistAct.PAGE, p=n))
    return t("bcui.history.title", page=page + 1), markup


@router.message(Command("broadcasts"), flags=READS)
async def cmd_broadcasts(
    message: Message, session: AsyncSession, actor: Actor, ctx: ServiceContext
) -> None:
    text, markup = await _list(session, actor, ctx, 0)
    await message.answer(text, reply_markup=markup)


def _table(d: svc.BroadcastDetail) -> str:
    """The figures by unit, monospaced: unit, sent, failed, acknowledged, not yet."""
    head = t("bcui.detail.columns")
    lines = [head]
    for u in d.units:
        name = (u.name or t("bc.unit.none"))[:NAME_WIDTH].ljust(NAME_WIDTH)
        lines.append(f"{name} {u.sent:>4} {u.failed:>4} {u.acknowledged:>4} {u.not_yet:>4}")
    return "<pre>" + escape("\n".join(lines)) + "</pre>"


def _status_line(s: svc.BroadcastSummary, ctx: ServiceContext) -> str:
    """The status with its moment: when a scheduled one will go (never when Gửi was pressed),
    else when it was queued."""
    if s.status == svc.BroadcastStatus.SCHEDULED and s.send_at is not None:
        return t("bcui.detail.scheduled", when=when(s.send_at, ctx.tz))
    return t(f"bc.status.{s.status}") + (f" · {when(s.queued_at, ctx.tz)}" if s.queued_at else "")


def _detail_text(d: svc.BroadcastDetail, ctx: ServiceContext) -> str:
    s = d.summary
    parts = [
        t("bcui.detail.head", excerpt=escape(s.excerpt or t(f"bcui.kind.{s.kind}"))),
        _status_line(s, ctx),
        t(
            "bcui.detail.figures",
            total=s.total,
            sent=s.sent,
            failed=s.failed,
            maybe=s.maybe_sent,
            cancelled=s.cancelled,
            unreachable=s.unreachable,
            pending=s.pending,
        ),
    ]
    if s.ack_required:
        deadline = when(s.ack_deadline, ctx.tz) if s.ack_deadline else "-"
        parts.append(t("bcui.detail.acks", acked=s.acknowledged, sent=s.sent, deadline=deadline))
    parts += ["", _table(d)]
    if d.failures:
        parts += ["", t("bc.progress.failures")]
        parts += [t("bc.progress.failure_line", reason=t(k), n=n) for k, n in d.failures]
    silent = d.not_acknowledged
    if silent:
        parts += ["", t("bcui.detail.silent", n=len(silent))]
        for line in silent[:SILENT_SHOWN]:
            why = t(line.reason_key) if line.reason_key else t(f"bc.state.{line.state}")
            unit = f" ({escape(line.unit)})" if line.unit else ""
            parts.append(f"• {escape(line.name)}{unit} — {why}")
        if len(silent) > SILENT_SHOWN:
            parts.append(t("bcui.detail.more", n=len(silent) - SILENT_SHOWN))
    text = "\n".join(parts)
    if len(text) > TEXT_MAX:
        text = text[:TEXT_MAX].rsplit("\n", 1)[0] + "\n" + t("bcui.detail.see_file")
    return text


@router.callback_query(HistCb.filter(), flags=READS)
async def on_history(
    query: CallbackQuery,
    callback_data: HistCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
    bot: Bot,
) -> None:
    cb, ctx = callback_data, ctx
    if cb.a is HistAct.PAGE:
        text, markup = await _list(session, actor, ctx, cb.p)
        await show(query, text, markup)
        return
    if cb.b is None:
        raise Refused("kit.expired")
    d = await svc.detail(session, actor, cb.b, now=ctx.now())
    if cb.a is HistAct.XLSX:
        labels = svc.workbook_labels(ctx.i18n, locale(), d, tz=ctx.tz)
        data = svc.detail_workbook(labels, d, tz=ctx.tz)
        await query.answer(t("bcui.detail.file_toast"))
        await bot.send_document(
            query.from_user.id, BufferedInputFile(data, filename=labels.file_name)
        )
        return
    kb = InlineKeyboardBuilder()
    kb.button(text=t("bcui.button.xlsx"), callback_data=HistCb(a=HistAct.XLSX, b=cb.b, p=cb.p))
    kb.button(text=t("bcui.button.list"), callback_data=HistCb(a=HistAct.PAGE, p=cb.p))
    kb.adjust(1)
    await show(query, _detail_text(d, ctx), kb.as_markup())
