"""Branch feedback (issue 13): /feedback, the cards' and answers' buttons, the texts they ask
for, "Chuyển thành kiến nghị" on report summaries; /inbox and /feedback_stats; a nudge's Trả lời."""

from __future__ import annotations

from aiogram import Router

from handlers.feedback import cards, inbox, raise_item, stats


def routers() -> list[Router]:
    return [
        raise_item.router,
        cards.router,
        inbox.inbox_router,
        stats.stats_router,
        cards.any_chat,
        inbox.nudge_router,
    ]
