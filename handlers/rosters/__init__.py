"""Visiting rosters: /roster (review, publish, confirm, pass on, hand back), /busy, /visit,
/coverage, and the buttons the roster's messages carry."""

from __future__ import annotations

from aiogram import Router

from handlers.rosters import roster, visits


def routers() -> list[Router]:
    return [roster.router, visits.router, roster.any_chat]
