"""The production dispatcher's routing, read as documentation: router order, chat types, and
no filter that aiogram would run in a thread."""

from __future__ import annotations

from bot.app import create_app
from bot.settings import load_settings
from tests.helpers import walk_routers

TOKEN = "123456:TEST"


def _app_dp():  # type: ignore[no-untyped-def]
    return create_app(load_settings({"BOT_TOKEN": TOKEN})).dp


def test_no_filter_or_handler_runs_in_a_thread() -> None:
    """aiogram hands a synchronous filter (a bare F-filter) to `asyncio.to_thread`: a thread hop
    per check per update. Every filter and handler of ours must be async (`kit.Magic`)."""
    dp = _app_dp()
    threaded = []
    for router in walk_routers(dp):
        for name, observer in router.observers.items():
            # Router-level filters live on the observer's own handler object.
            own = observer._handler  # noqa: SLF001 - reading aiogram's structure in a test
            for handler in [own, *observer.handlers]:
                if handler is not own and not handler.awaitable:
                    threaded.append(f"{router.name}.{name}: handler {handler.callback}")
                for f in handler.filters or ():
                    if not f.awaitable:
                        threaded.append(f"{router.name}.{name}: filter {f.callback}")
    assert threaded == []


def test_routers_come_in_priority_order_with_the_error_handlers_last() -> None:
    names = [r.name for r in _app_dp().sub_routers]
    assert names[:3] == ["handlers.language", "handlers.people", "handlers.common"]
    assert names[-2:] == ["handlers.kit.refusals", "handlers.errors"]


def test_only_the_entry_routers_handle_start_and_help() -> None:
    """`common` sits near the top for speed; that is only safe while no later router answers
    /start or /help."""
    from aiogram.filters import Command

    owners = set()
    for router in _app_dp().sub_routers:
        for handler in router.message.handlers:
            for f in handler.filters or ():
                if isinstance(f.callback, Command) and {"start", "help"} & {
                    c for c in f.callback.commands if isinstance(c, str)
                }:
                    owners.add(router.name)
    assert owners == {"handlers.people", "handlers.common"}
