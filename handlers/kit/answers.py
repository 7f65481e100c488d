"""Answers the kit gives on every handler's behalf.

- A `Refused` raised anywhere below a handler (service, filter, handler) becomes the person's
  answer here, once: a reply to a typed message, an alert under a pressed button. The update's
  transaction has been rolled back by then, so a refusal never leaves half a change.
- Every pressed button gets an answer, also when no handler took it (malformed or forged data,
  a button from a conversation that no longer exists, a chat where the button does not work):
  "this has expired, please start again", instead of a spinning button.
- "message is not modified" (a double tap on a pager) is a success, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot, Router, html
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, ExceptionTypeFilter
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    Response,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import ErrorEvent, TelegramObject, Update

from bot.i18n import CatalogI18n
from bot.services.access.policy import Refused
from bot.services.vn_calendar import Readable

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
ALERT_MAX = 200  # Telegram's limit for a callback answer's text

# Callback query ids answered while handling the current update.
_answered: ContextVar[set[str] | None] = ContextVar("answered_callbacks", default=None)


def _field(value: object, locale: str | None) -> str:
    """A refusal's field as the person reads it (a quarter in their language)."""
    return value.label(locale) if isinstance(value, Readable) else str(value)


def refusal_text(i18n: CatalogI18n, err: Refused, locale: str | None = None) -> str:
    """The catalog text of a refusal for a message, every field escaped (names come from imports
    and people)."""
    loc = locale or i18n.current_locale
    params = {k: html.quote(_field(v, loc)) for k, v in err.params.items()}
    reason = i18n.t(err.key, locale, **params)
    return i18n.t("people.refused", locale, reason=reason)


def alert_text(i18n: CatalogI18n, err: Refused, locale: str | None = None) -> str:
    """The same for an alert: plain text (no HTML there), at most 200 characters."""
    loc = locale or i18n.current_locale
    reason = i18n.t(err.key, locale, **{k: _field(v, loc) for k, v in err.params.items()})
    return clip_alert(re.sub(r"<[^>]+>", "", i18n.t("people.refused", locale, reason=reason)))


def clip_alert(text: str) -> str:
    return text if len(text) <= ALERT_MAX else text[: ALERT_MAX - 1] + "…"


def create_refusals_router() -> Router:
    """The errors router that turns `Refused` into the person's answer; include it before the
    catch-all apology so refusals never reach it."""
    router = Router(name="handlers.kit.refusals")

    @router.errors(ExceptionTypeFilter(Refused))
    async def on_refused(event: ErrorEvent, bot: Bot, i18n: CatalogI18n, **data: Any) -> bool:
        """Why not: an alert under a pressed button, or a reply to a typed message."""
        err = event.exception
        assert isinstance(err, Refused)
        locale = data.get("locale") or i18n.default_locale
        update = event.update
        if update.callback_query is not None and not was_answered(data, update):
            await bot.answer_callback_query(
                update.callback_query.id, alert_text(i18n, err, locale), show_alert=True
            )
        else:
            chat_id = _chat_of(update)
            if chat_id is not None:
                await bot.send_message(chat_id, refusal_text(i18n, err, locale))
        return True

    return router


def _chat_of(update: Update) -> int | None:
    if update.message is not None:
        return update.message.chat.id
    query = update.callback_query
    if query is not None:
        return query.message.chat.id if query.message is not None else query.from_user.id
    return None


def was_answered(data: dict[str, Any], update: Update) -> bool:
    """Whether the press of this update already has its answer (for the error handlers)."""
    answered: set[str] = data.get("answered_callbacks") or set()
    return update.callback_query is not None and update.callback_query.id in answered


def _has_nul(update: Update) -> bool:
    message = update.message
    texts = [update.callback_query.data if update.callback_query is not None else None]
    if message is not None:
        texts += [message.text, message.caption]
    return any(text is not None and "\x00" in text for text in texts)


class CallbackAnswerGuard(BaseMiddleware):
    """Outer update middleware: a pressed button always gets an answer.

    Answers sent by handlers are seen by `KitRequestMiddleware`; after the update, an
    unanswered press gets "expired" when nothing handled it, a silent acknowledgement when a
    handler ran but did not answer. Failed updates are answered by the error handlers.
    """

    def __init__(self, i18n: CatalogI18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        if _has_nul(event):
            # No client sends a NUL byte; PostgreSQL refuses it in text. A forged one is
            # malformed input: a press is answered as expired, a message is not handled.
            if event.callback_query is not None:
                locale = data.get("locale") or self.i18n.default_locale
                text = self.i18n.t("kit.expired", locale)
                await data["bot"].answer_callback_query(
                    event.callback_query.id, text, show_alert=True
                )
            return UNHANDLED
        if event.callback_query is None:
            return await handler(event, data)
        answered: set[str] = set()
        data["answered_callbacks"] = answered  # the error handlers see it (same dict)
        token = _answered.set(answered)
        try:
            result = await handler(event, data)
        finally:
            _answered.reset(token)
        query = event.callback_query
        if query.id not in answered:
            bot: Bot = data["bot"]
            if result is UNHANDLED:
                locale = data.get("locale") or self.i18n.default_locale
                text = self.i18n.t("kit.expired", locale)
                await bot.answer_callback_query(query.id, text, show_alert=True)
            else:
                await bot.answer_callback_query(query.id)
        return result


NOT_MODIFIED = "message is not modified"
EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption)


class KitRequestMiddleware(BaseRequestMiddleware):
    """Bot API request middleware: notes answered presses; an edit that changes nothing is done."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, AnswerCallbackQuery):
            answered = _answered.get()
            if answered is not None:
                if method.callback_query_id in answered:
                    # One answer per press: a second (a handler and the guard) would fail.
                    return Response[TelegramType](ok=True, result=True)
                answered.add(method.callback_query_id)
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as err:
            if isinstance(method, EDITS) and NOT_MODIFIED in err.message:
                return Response[TelegramType](ok=True, result=True)
            raise


class UnusedArgsGuard(BaseMiddleware):
    """Inner message middleware: a command that takes no arguments refuses anything typed
    after it, naming it, instead of silently ignoring it (`/help xyz`, `/visit 12`).

    "Takes no arguments" is derived from the production dispatcher (`learn`): no handler of
    that command anywhere asks for its `command` (so `/link CODE` typed in private, which its
    group handler reads, still gets its own "send it in the group" answer), and the chosen
    handler does not either. A new command cannot forget it."""

    def __init__(self) -> None:
        self.no_args: frozenset[str] = frozenset()

    def learn(self, root: Router) -> None:
        """Read every message handler's commands below `root`."""
        reads: dict[str, bool] = {}
        stack = [root]
        while stack:
            router = stack.pop()
            stack.extend(router.sub_routers)
            for h in router.message.handlers:
                for f in h.filters or ():
                    if isinstance(f.callback, Command):
                        for name in f.callback.commands:
                            if isinstance(name, str):
                                uses = "command" in h.params or h.varkw
                                reads[name] = reads.get(name, False) or uses
        self.no_args = frozenset(name for name, uses in reads.items() if not uses)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        command = data.get("command")
        chosen = data.get("handler")
        if (
            isinstance(command, CommandObject)
            and command.command in self.no_args
            and command.args
            and command.args.strip()
            and chosen is not None
            and "command" not in chosen.params
        ):
            raise Refused(
                "kit.args_unused", command=command.command, args=command.args.strip()[:40]
            )
        return await handler(event, data)
