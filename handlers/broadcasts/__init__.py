"""Guidance broadcasts (issue 14): /broadcast (compose, audience, options, preview, Gửi),
the Đã nhận button, the progress message's buttons, and /broadcasts (the record)."""

from __future__ import annotations

from aiogram import Router

from handlers.broadcasts import acks, compose, history, panel, progress


def routers() -> list[Router]:
    return [compose.router, panel.router, progress.router, history.router, acks.router]
