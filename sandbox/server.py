"""aiohttp application: the Bot API over HTTP plus an HTTP control API.

Bot API (what a real client such as aiogram talks to):

* ``GET|POST /bot<token>/<method>`` - method name case-insensitive; JSON,
  ``application/x-www-form-urlencoded``, ``multipart/form-data`` or query string.
  Answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
  "parameters"?}``. A malformed token answers 401 "Unauthorized".
* ``GET /file/bot<token>/<file_path>`` - file download (path from getFile).

Control API (JSON in, JSON out; pick the bot with ``?token=`` or header
``X-Sandbox-Token``, default is the sandbox's default token). Every ``POST`` body is the
keyword arguments of the same-named :class:`sandbox.state.BotWorld` method:

* ``POST /sandbox/users`` (add_user), ``POST /sandbox/send_text``,
  ``POST /sandbox/press_button`` -> ``{"query_id", "update"}``,
  ``POST /sandbox/share_contact``, ``POST /sandbox/send_content`` (any Message fields),
  ``POST /sandbox/upload_document`` and
  ``POST /sandbox/upload_photo`` (bytes as ``content_b64``), ``POST /sandbox/create_group``,
  ``POST /sandbox/add_bot_to_group``, ``POST /sandbox/remove_bot_from_group``,
  ``POST /sandbox/set_member_status``, ``POST /sandbox/migrate_to_supergroup``,
  ``POST /sandbox/block_bot``, ``POST /sandbox/unblock_bot``
* ``POST /sandbox/flood`` (set_flood), ``POST /sandbox/faults`` (add_fault),
  ``DELETE /sandbox/faults``, ``POST /sandbox/seed``, ``POST /sandbox/reset``
* ``POST /sandbox/wait_for_bot_message`` (``chat_id``, ``after``, ``timeout``,
  ``text_contains``), ``POST /sandbox/wait_for_callback_answer``
* ``GET /sandbox/chats/{chat_id}/messages|bot_messages|pinned|keyboard``,
  ``GET /sandbox/callback_answers/{query_id}``, ``GET /sandbox/sent_log``,
  ``GET /sandbox/errors_log``, ``GET /sandbox/rate_limit_log``, ``GET /sandbox/updates``,
  ``GET /sandbox/chat_actions``, ``GET /sandbox/commands?scope=<type or JSON>&language_code=``
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import ApiError
from .spec import UploadedFile
from .state import TOKEN_RE, BotWorld, Sandbox

log = logging.getLogger("sandbox")
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)

_POST_OPS = {
    "users": "add_user",
    "send_text": "send_text",
    "press_button": "press_button",
    "share_contact": "share_contact",
    "send_content": "send_content",
    "upload_document": "upload_document",
    "upload_photo": "upload_photo",
    "create_group": "create_group",
    "add_bot_to_group": "add_bot_to_group",
    "remove_bot_from_group": "remove_bot_from_group",
    "set_member_status": "set_member_status",
    "migrate_to_supergroup": "migrate_to_supergroup",
    "block_bot": "block_bot",
    "unblock_bot": "unblock_bot",
    "flood": "set_flood",
    "faults": "add_fault",
    "seed": "seed",
    "reset": "reset",
}
_CHAT_VIEWS = {
    "messages": "messages",
    "bot_messages": "bot_messages",
    "pinned": "pinned",
    "keyboard": "current_keyboard",
}
_LOGS = {
    "sent_log": "sent_log",
    "errors_log": "errors_log",
    "rate_limit_log": "rate_limit_log",
    "updates": "pending_updates",
    "chat_actions": "chat_actions",
}
# POST operations the control handler answers itself (not a plain method of the world).
_WAITS = ("wait_for_bot_message", "wait_for_callback_answer")


def control_routes() -> list[tuple[str, str]]:
    """Every control endpoint as (method, path): what the README's table must list."""
    routes = [("POST", f"/sandbox/{op}") for op in (*_POST_OPS, *_WAITS)]
    routes.append(("DELETE", "/sandbox/faults"))
    routes += [("GET", f"/sandbox/chats/{{chat_id}}/{view}") for view in _CHAT_VIEWS]
    routes.append(("GET", "/sandbox/callback_answers/{query_id}"))
    routes += [("GET", f"/sandbox/{name}") for name in (*_LOGS, "commands")]
    return routes


def _error_response(exc: ApiError) -> web.Response:
    if exc.html_body is not None:
        return web.Response(status=exc.code, text=exc.html_body, content_type="text/html")
    return web.json_response(exc.payload(), status=exc.code)


async def _read_params(
    request: web.Request,
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON encoded request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON request body must be an object")
        params.update(body)
    elif ctype == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                files[part.name] = UploadedFile(
                    part.filename,
                    bytes(await part.read(decode=True)),
                    part.headers.get("Content-Type"),
                )
            else:
                params[part.name] = await part.text()
    else:
        params.update(await request.post())
    return params, files


async def handle_api(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    token = request.match_info["token"]
    if not TOKEN_RE.match(token):
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
        )
    world = sandbox.world(token)
    try:
        params, files = await _read_params(request)
        method = world.spec.method(request.match_info["method"])
        if method is not None:
            # Direct uploads: a file part named like a parameter is that parameter.
            for name in list(files):
                if name in method.fields:
                    params[name] = files.pop(name)
        result = await world.call(
            request.match_info["method"], params, files, connected=lambda: _connected(request)
        )
    except ApiError as exc:
        return _error_response(exc)
    except Exception:  # a sandbox bug must look like a Telegram 500, not hang the client
        log.exception("sandbox failure in %s", request.match_info["method"])
        return web.json_response(
            {"ok": False, "error_code": 500, "description": "Internal Server Error"},
            status=500,
        )
    return web.json_response({"ok": True, "result": result})


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def handle_file(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    if not TOKEN_RE.match(token):
        return web.json_response(
            {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
        )
    world = request.app[SANDBOX_KEY].world(token)
    path = request.match_info["path"]
    for rec in world.files.values():
        if rec.file_path == path:
            return web.Response(
                body=rec.content, content_type=rec.mime_type or "application/octet-stream"
            )
    return web.json_response(
        {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
    )


def _world(request: web.Request) -> BotWorld:
    token = request.query.get("token") or request.headers.get("X-Sandbox-Token")
    try:
        return request.app[SANDBOX_KEY].world(token)
    except ApiError:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "error": "malformed token"}),
            content_type="application/json",
        ) from None


def _control_error(exc: Exception) -> web.Response:
    return web.json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, status=400)


async def handle_control_post(request: web.Request) -> web.Response:
    op = request.match_info["op"]
    world = _world(request)
    try:
        body = await request.json() if request.can_read_body else {}
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        if "content_b64" in body:
            body["content"] = base64.b64decode(body.pop("content_b64"))
        if op == "wait_for_bot_message":
            needle = body.pop("text_contains", None)
            if needle is not None:
                body["predicate"] = lambda m: needle in (m.get("text") or m.get("caption") or "")
            result: Any = await world.wait_for_bot_message(**body)
        elif op == "wait_for_callback_answer":
            result = await world.wait_for_callback_answer(**body)
        elif op == "press_button":
            query_id = world.press_button(**body)
            result = {"query_id": query_id, "update": world.updates_log[-1]}
        elif op in _POST_OPS:
            result = getattr(world, _POST_OPS[op])(**body)
        else:
            return web.json_response({"ok": False, "error": f"unknown op {op}"}, status=404)
    except (TypeError, ValueError, KeyError, TimeoutError) as exc:
        return _control_error(exc)
    return web.json_response({"ok": True, "result": result})


async def handle_faults_delete(request: web.Request) -> web.Response:
    _world(request).clear_faults()
    return web.json_response({"ok": True, "result": True})


async def handle_chat_view(request: web.Request) -> web.Response:
    world = _world(request)
    view = _CHAT_VIEWS.get(request.match_info["view"])
    if view is None:
        return web.json_response({"ok": False, "error": "unknown view"}, status=404)
    try:
        result = getattr(world, view)(int(request.match_info["chat_id"]))
    except ValueError as exc:
        return _control_error(exc)
    return web.json_response({"ok": True, "result": result})


async def handle_log(request: web.Request) -> web.Response:
    world = _world(request)
    name = request.match_info["name"]
    if name == "commands":
        scope: Any = request.query.get("scope")
        if scope and scope.startswith("{"):
            scope = json.loads(scope)
        result = world.commands(scope, request.query.get("language_code", ""))
    elif name in _LOGS:
        result = getattr(world, _LOGS[name])()
    else:
        return web.json_response({"ok": False, "error": "unknown log"}, status=404)
    return web.json_response({"ok": True, "result": result})


async def handle_callback_answer(request: web.Request) -> web.Response:
    answer = _world(request).callback_answer(request.match_info["query_id"])
    return web.json_response({"ok": True, "result": answer})


async def _on_cleanup(app: web.Application) -> None:
    await app[SANDBOX_KEY].aclose()


def create_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=60 * 1024 * 1024)
    app[SANDBOX_KEY] = sandbox
    app.router.add_route("*", "/bot{token}/{method}", handle_api)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)
    app.router.add_delete("/sandbox/faults", handle_faults_delete)
    app.router.add_get("/sandbox/chats/{chat_id}/{view}", handle_chat_view)
    app.router.add_get("/sandbox/callback_answers/{query_id}", handle_callback_answer)
    app.router.add_get("/sandbox/{name}", handle_log)
    app.router.add_post("/sandbox/{op}", handle_control_post)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


async def _on_shutdown(app: web.Application) -> None:
    # Let held (timeout-injected) requests and long polls finish before the runner waits.
    for world in app[SANDBOX_KEY].worlds.values():
        world.release_hung_requests()
