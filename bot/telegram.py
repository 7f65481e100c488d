"""The bot's HTTP session to the Bot API."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import Response, TelegramMethod

# Strong references to the parametrised `Response[T]` models. pydantic caches them in a
# WeakValueDictionary, so aiogram's per-call `Response[T]` was rebuilt (schema and all) each
# time the previous one had been collected: about a tenth of the sender's CPU at 300 sends/s.
_RESPONSE_MODELS: dict[Any, Any] = {}


class BotSession(AiohttpSession):
    """aiogram's aiohttp session, keeping each response model it parses with alive."""

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in _RESPONSE_MODELS:
            _RESPONSE_MODELS[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)
