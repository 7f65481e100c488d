"""Routers in priority order: specific features first, the error handler on the dispatcher."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import common, language

    return [
        language.router,
        # `common` holds /start and /help; later features put their routers before it.
        common.router,
    ]
