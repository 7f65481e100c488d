"""In-memory Telegram world for one bot token, plus the Python control API.

``BotWorld`` is a facade: it wires the components together and is the one object the HTTP
server, tests and benches talk to, so they never depend on how the work is split:

* :mod:`sandbox.world` - users, chats, messages, files and bot settings;
* :mod:`sandbox.updates` / :mod:`sandbox.webhook` - the update queue, getUpdates, webhooks;
* :mod:`sandbox.dispatch` - Bot API calls: validation, faults, flood limits, logs;
* :mod:`sandbox.methods` / :mod:`sandbox.chat_methods` - the ``api_<methodName>`` bodies;
* :mod:`sandbox.control`, :mod:`sandbox.views`, :mod:`sandbox.waiters` - the control API
  (act as people, read what the bot did, wait for it).

``Sandbox`` keeps one world per token, so several bots never see each other's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

from .albums import AlbumMethods
from .chat_methods import ChatMethods
from .control import Control
from .dispatch import Dispatcher, is_sending
from .errors import ApiError
from .faults import FaultInjector
from .flood import FloodConfig, FloodControl
from .methods import MessageMethods
from .records import MEMBER_STATUSES, PRESENT, ChatRec, FileRec, StoredMessage, UserRec
from .signal import Signal
from .spec import Spec, load_spec
from .updates import OPT_IN_UPDATES, UpdateMethods, UpdateQueue
from .views import Views
from .waiters import Waiters
from .webhook import WebhookMethods
from .world import WorldState

__all__ = [
    "DEFAULT_TOKEN",
    "MEMBER_STATUSES",
    "OPT_IN_UPDATES",
    "PRESENT",
    "TOKEN_RE",
    "BotWorld",
    "ChatRec",
    "FileRec",
    "Sandbox",
    "StoredMessage",
    "UserRec",
    "is_sending",
]

DEFAULT_TOKEN = "123456:TEST"
TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")


class BotWorld:
    """All state visible to one bot token, and the control API over it."""

    def __init__(
        self,
        token: str,
        spec: Spec,
        *,
        bot_username: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        flood: bool = False,
        webhook_retry_delay: float = 0.5,
        webhook_timeout: float = 10.0,
        allow_http_webhook: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        self.token = token
        self.spec = spec
        self.clock = clock
        self.flood = FloodControl(clock=clock, config=FloodConfig(enabled=flood))
        self.faults = FaultInjector(seed=seed)
        self._flood_default = flood
        self._seed = seed
        self.signal = Signal()
        self.world_state = WorldState(
            token, spec, self.signal, bot_username=bot_username, privacy_mode=privacy_mode
        )
        self.updates = UpdateQueue(
            self.signal,
            clock,
            lambda method, params: self.dispatcher.call(method, params),  # webhook replies
            webhook_retry_delay=webhook_retry_delay,
            webhook_timeout=webhook_timeout,
        )
        methods = (
            UpdateMethods(self.updates, self.signal),
            WebhookMethods(self.updates, self.signal, allow_http=allow_http_webhook),
            messages := MessageMethods(self.world_state, self.signal, clock),
            AlbumMethods(messages),
            ChatMethods(self.world_state, self.updates, self.signal),
        )
        self.dispatcher = Dispatcher(
            spec, self.world_state, self.signal, clock, self.faults, self.flood, methods
        )
        self.control = Control(self.world_state, self.updates, self.signal)
        self.views = Views(self.world_state, self.updates, self.dispatcher, self.flood)
        self.waiters = Waiters(self.signal, self.views, self.updates)

        self.call = self.dispatcher.call  # Bot API

        # Control API: acting as people.
        self.add_user = self.control.add_user
        self.send_text = self.control.send_text
        self.press_button = self.control.press_button
        self.share_contact = self.control.share_contact
        self.send_content = self.control.send_content
        self.upload_document = self.control.upload_document
        self.upload_photo = self.control.upload_photo
        self.create_group = self.control.create_group
        self.add_bot_to_group = self.control.add_bot_to_group
        self.remove_bot_from_group = self.control.remove_bot_from_group
        self.set_member_status = self.control.set_member_status
        self.migrate_to_supergroup = self.control.migrate_to_supergroup
        self.block_bot = self.control.block_bot
        self.unblock_bot = self.control.unblock_bot
        # Control API: reading.
        self.callback_answer = self.views.callback_answer
        self.messages = self.views.messages
        self.bot_messages = self.views.bot_messages
        self.last_bot_message = self.views.last_bot_message
        self.current_keyboard = self.views.current_keyboard
        self.sent_log = self.views.sent_log
        self.errors_log = self.views.errors_log
        self.rate_limit_log = self.views.rate_limit_log
        self.violations = self.views.violations
        self.chat_actions = self.views.chat_actions
        self.commands = self.views.commands
        self.pinned = self.views.pinned
        self.file_content = self.views.file_content
        self.pending_updates = self.views.pending_updates
        # Control API: waiting.
        self.wait_for = self.signal.wait_for
        self.wait_for_bot_message = self.waiters.wait_for_bot_message
        self.wait_for_callback_answer = self.waiters.wait_for_callback_answer
        self.wait_until_idle = self.waiters.wait_until_idle

    # ---- lifecycle ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (users, chats, logs, faults, flood) but keep the token."""
        self.updates.worker.stop()
        self.flood.reset()
        self.flood.config = FloodConfig(enabled=self._flood_default)
        self.faults.clear()
        self.faults.reseed(self._seed)
        self.world_state.clear()
        self.updates.clear()
        self.dispatcher.clear()
        self.signal.notify()

    async def aclose(self) -> None:
        self.signal.release()
        task = self.updates.worker.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- control API: configuration -----------------------------------------------------
    def set_flood(
        self,
        enabled: bool = True,
        global_per_sec: float = 30,
        per_chat_per_sec: float = 1,
        per_group_per_min: int = 20,
        per_chat_burst: int = 3,
    ) -> dict[str, Any]:
        self.flood.config = FloodConfig(
            enabled, global_per_sec, per_chat_per_sec, per_chat_burst, per_group_per_min
        )
        return dict(self.flood.config.__dict__)

    def add_fault(self, kind: str, method: str = "send", **options: Any) -> dict[str, Any]:
        """Inject a failure; see :class:`sandbox.faults.Fault` for options."""
        if "chat_id" in options and options["chat_id"] is not None:
            options["chat_id"] = int(options["chat_id"])
        return self.faults.add(kind, method=method, **options).as_dict()

    def clear_faults(self) -> None:
        self.faults.clear()

    def seed(self, seed: int) -> None:
        self.faults.reseed(seed)
        self._seed = seed

    def release_hung_requests(self) -> None:
        """End every injected timeout and long poll now (used at shutdown)."""
        self.signal.release()
        self.signal.notify()

    # ---- state, read through to the component that owns it ------------------------------
    @property
    def bot_id(self) -> int:
        return self.world_state.bot_id

    @property
    def bot_username(self) -> str:
        return self.world_state.bot_username

    @property
    def bot_user(self) -> dict[str, Any]:
        return self.world_state.bot_user

    @property
    def users(self) -> dict[int, UserRec]:
        return self.world_state.users

    @property
    def chats(self) -> dict[int, ChatRec]:
        return self.world_state.chats

    @property
    def files(self) -> dict[str, FileRec]:
        return self.world_state.files

    @property
    def webhook(self) -> dict[str, Any]:
        return self.updates.webhook

    @property
    def allowed_updates(self) -> list[str] | None:
        return self.updates.allowed_updates

    @property
    def pending(self) -> list[dict[str, Any]]:
        return self.updates.pending

    @property
    def updates_log(self) -> list[dict[str, Any]]:
        return self.updates.updates_log

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.updates.worker.deliveries

    @property
    def sent(self) -> list[dict[str, Any]]:
        return self.dispatcher.sent

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.dispatcher.errors

    @property
    def unseen_errors(self) -> list[dict[str, Any]]:
        return self.dispatcher.unseen_errors

    @property
    def legacy_params(self) -> list[dict[str, Any]]:
        return self.dispatcher.legacy_params


class Sandbox:
    """One world per bot token, all sharing the spec and the options."""

    def __init__(
        self,
        spec: Spec | None = None,
        *,
        spec_path: str | None = None,
        default_token: str = DEFAULT_TOKEN,
        **world_options: Any,
    ) -> None:
        self.spec = spec or load_spec(spec_path)
        self.default_token = default_token
        self.world_options = world_options
        self.worlds: dict[str, BotWorld] = {}

    def world(self, token: str | None = None) -> BotWorld:
        token = token or self.default_token
        if not TOKEN_RE.match(token):
            raise ApiError(401, "Unauthorized")
        if token not in self.worlds:
            self.worlds[token] = BotWorld(token, self.spec, **self.world_options)
        return self.worlds[token]

    @property
    def state(self) -> BotWorld:
        return self.world()

    async def aclose(self) -> None:
        for world in self.worlds.values():
            await world.aclose()
