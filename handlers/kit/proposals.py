"""The "Chuyển thành kiến nghị" buttons under a report's summary: one per proposal the report holds
(a meeting report's proposals, a visit report's heard proposals), so each becomes an item with
one tap and keeps its link to the report. Shared by the report handlers of both features, so in
the kit: they carry the feedback feature's own callback data (`ConvertCb`), whose router answers
the press, and no feature package imports another."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.feedback import ConvertCb, FeedbackSource
from bot.services.feedback import items
from handlers.kit.replies import t

BUTTON_TEXT = 60  # of a proposal, on its button
TODO, DONE = "📌", "✅"


def label(mark: str, text: str) -> str:
    text = " ".join(text.split())
    full = f"{mark} {text}"
    return full if len(full) <= BUTTON_TEXT else full[: BUTTON_TEXT - 1] + "…"


async def _convert_markup(
    session: AsyncSession, source: FeedbackSource, source_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The hint line and one button per proposal (✅ for those already turned into items);
    ("", None) when the report has none."""
    found = await items.proposals_of(session, source, source_id)
    if not found:
        return "", None
    rows = []
    for key, text, item_id in found:
        if source is FeedbackSource.MEETING_REPORT:
            data = ConvertCb(source=source, source_id=source_id, index=key)
        else:
            data = ConvertCb(source=source, source_id=key, index=0)
        mark = DONE if item_id is not None else TODO
        rows.append([InlineKeyboardButton(text=label(mark, text), callback_data=data.pack())])
    return t("fbui.convert.hint"), InlineKeyboardMarkup(inline_keyboard=rows)


async def meeting_proposals(
    session: AsyncSession, meeting_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Under the summary of a submitted meeting report."""
    return await _convert_markup(session, FeedbackSource.MEETING_REPORT, meeting_id)


async def visit_proposals(
    session: AsyncSession, visit_id: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Under the thanks for a visit report."""
    return await _convert_markup(session, FeedbackSource.VISIT_REPORT, visit_id)
