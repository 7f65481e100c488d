"""Branch feedback (issue 13): /feedback, the cards' and answers' buttons, the texts they ask
for, "Chuyển thành kiến nghị" on report summaries; /inbox and /feedback_stats when present."""

from __future__ import annotations

import importlib

from aiogram import Router


def _optional(module: str, name: str) -> list[Router]:
    """A router of a module that may not be there yet (the read side lands separately)."""
    try:
        found = importlib.import_module(f"handlers.feedback.{module}")
    except ModuleNotFoundError as err:
        if err.name != f"handlers.feedback.{module}":
            raise  # the module is there but something it imports is not: a real error
        return []
    router = getattr(found, name, None) or getattr(found, "router", None)
    assert isinstance(router, Router), f"handlers.feedback.{module} has no router"
    return [router]


def routers() -> list[Router]:
    from handlers.feedback import cards, raise_item

    return [
        raise_item.router,
        cards.router,
        *_optional("inbox", "inbox_router"),
        *_optional("stats", "stats_router"),
        cards.any_chat,
    ]
