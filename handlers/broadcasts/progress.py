"""The buttons of the sender's progress message: Dừng, Gửi lại (the failed ones), Làm mới.

The message itself is the services' (queued at Gửi, edited by the progress job every few
seconds); a press acts through the service, which checks the person may, then shows the
figures as they are now.
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import broadcasts as svc
from bot.services.access.policy import Actor
from bot.services.broadcasts import compose
from bot.services.context import ServiceContext
from handlers.broadcasts.callbacks import ProgressAct, ProgressCb
from handlers.kit import Chats, feature_router, locale, show, t

router = feature_router(__name__, Chats.PRIVATE)


@router.callback_query(ProgressCb.filter())
async def on_progress(
    query: CallbackQuery,
    callback_data: ProgressCb,
    session: AsyncSession,
    actor: Actor,
    ctx: ServiceContext,
) -> None:
    ctx, cb = ctx, callback_data
    toast = None
    if cb.a is ProgressAct.STOP:
        n = await compose.stop(session, ctx, actor, cb.broadcast_id)
        toast = t("bcui.progress.stopped", n=n)
    elif cb.a is ProgressAct.RETRY:
        n = await compose.retry_failed(session, ctx, actor, cb.broadcast_id)
        toast = t("bcui.progress.retried", n=n)
    view = await svc.progress_view(session, ctx, actor, cb.broadcast_id, locale())
    await show(query, view.text, InlineKeyboardMarkup.model_validate(view.markup), toast=toast)
