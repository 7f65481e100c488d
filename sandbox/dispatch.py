"""Bot API call dispatch: spec validation, legacy parameters, faults, flood limits, logs.

Every call, from HTTP or from a webhook reply, goes through :meth:`Dispatcher.call`, so an
injected fault or a 429 looks the same whichever way the bot reached the sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .errors import ApiError, bad_request, forbidden
from .faults import Fault, FaultInjector
from .flood import FloodControl
from .signal import Signal
from .spec import Spec, UploadedFile
from .world import WorldState

Impl = Callable[[dict[str, Any]], Awaitable[Any]]
_LEGACY = {"reply_to_message_id", "allow_sending_without_reply", "disable_web_page_preview"}


class Dispatcher:
    """Finds the ``api_<methodName>`` implementation among the providers and runs it."""

    def __init__(
        self,
        spec: Spec,
        world: WorldState,
        signal: Signal,
        clock: Callable[[], float],
        faults: FaultInjector,
        flood: FloodControl,
        providers: Iterable[object],
    ) -> None:
        self.spec = spec
        self.world = world
        self.signal = signal
        self.clock = clock
        self.faults = faults
        self.flood = flood
        self.impls: dict[str, Impl] = {
            name.removeprefix("api_"): getattr(provider, name)
            for provider in providers
            for name in dir(provider)
            if name.startswith("api_")
        }
        self.clear()

    def clear(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.unseen_errors: list[dict[str, Any]] = []
        self.legacy_params: list[dict[str, Any]] = []

    async def call(
        self,
        method_name: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile] | None = None,
        connected: Callable[[], bool] | None = None,
    ) -> Any:
        """Run one Bot API call; raise ApiError for any non-ok answer (and log it).

        Errors nobody received (``connected()`` false: the client gave up, e.g. a long
        poll abandoned by a stopped bot) go to ``unseen_errors`` instead of ``errors``.
        """
        try:
            return await self._call(method_name, params, files or {})
        except ApiError as exc:
            target = self.errors if connected is None or connected() else self.unseen_errors
            target.append(
                {
                    "method": method_name,
                    "params": _loggable(params),
                    "error_code": exc.code,
                    "description": exc.description,
                    "parameters": exc.parameters,
                    "at": self.clock(),
                }
            )
            self.signal.notify()
            raise

    async def _call(
        self, method_name: str, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> Any:
        method = self.spec.method(method_name)
        if method is None:
            raise bad_request("method not found")  # Telegram says 404; 400 on purpose
        raw = self._legacy(method.name, dict(raw))
        params = self.spec.validate_call(method, raw, files)
        impl = self.impls.get(method.name)
        if impl is None:
            raise bad_request(f"method not implemented by sandbox: {method.name}")
        chat_id = params.get("chat_id")
        chat_key = chat_id if isinstance(chat_id, int) else None
        sending = is_sending(method.name)
        fault = self.faults.pick(method.name, chat_key, sending)
        if fault is not None and fault.kind != "timeout":
            raise self._fault_error(fault, method.name, chat_key)
        if sending:
            chat = self.world.chats.get(chat_key) if chat_key is not None else None
            retry = self.flood.check(method.name, chat_key, bool(chat and chat.is_group))
            if retry is not None:
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        if fault is not None:  # timeout
            if fault.deliver:
                result = await impl(params)
                self._log_send(method.name, params, result)
                await self.signal.hold(fault.delay)
                return result
            await self.signal.hold(fault.delay)
            raise ApiError(504, "Gateway Timeout", html_body=_html_page(504, "Gateway Time-out"))
        result = await impl(params)
        self._log_send(method.name, params, result)
        return result

    def _legacy(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        """Map parameters Telegram still honours but the spec no longer lists."""
        fields = self.spec.methods[method.lower()].fields
        found = [k for k in raw if k in _LEGACY and k not in fields]
        if not found:
            return raw
        self.legacy_params.append({"method": method, "params": found})
        if "reply_to_message_id" in found and "reply_parameters" in fields:
            rp = {"message_id": raw.pop("reply_to_message_id")}
            if "allow_sending_without_reply" in raw:
                rp["allow_sending_without_reply"] = raw.pop("allow_sending_without_reply")
            raw.setdefault("reply_parameters", rp)
        raw.pop("allow_sending_without_reply", None)
        if "disable_web_page_preview" in found and "link_preview_options" in fields:
            raw.setdefault("link_preview_options", {"is_disabled": True})
        raw.pop("disable_web_page_preview", None)
        return raw

    def _fault_error(self, fault: Fault, method: str, chat_id: int | None) -> ApiError:
        if fault.kind == "server_error":
            return ApiError(fault.status, "Internal Server Error")
        if fault.kind == "bad_gateway":
            return ApiError(502, "Bad Gateway", html_body=_html_page(502, "Bad Gateway"))
        if fault.kind == "retry_after":
            self.flood.announce(method, chat_id, fault.retry_after, "fault")
            return ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "blocked":
            return forbidden("bot was blocked by the user")
        return forbidden("bot was kicked from the group chat")

    def _log_send(self, method: str, params: dict[str, Any], result: Any) -> None:
        if not is_sending(method):
            return
        entry = {
            "method": method,
            "chat_id": params.get("chat_id"),
            "at": self.clock(),
            "time": time.time(),
        }
        if isinstance(result, dict) and "message_id" in result:
            entry["message_id"] = result["message_id"]
        self.sent.append(entry)


def is_sending(method: str) -> bool:
    low = method.lower()
    if low == "sendchataction":
        return False
    return low.startswith(("send", "copymessage", "forwardmessage", "editmessage"))


def _html_page(code: int, title: str) -> str:
    return (
        f"<html>\r\n<head><title>{code} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{code} {title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (f"<file {v.filename}>" if isinstance(v, UploadedFile) else v) for k, v in params.items()
    }
