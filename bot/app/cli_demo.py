"""`python -m bot demo [--port 8080] [--data data/demo]`: the stand-in, its demo page and the
bot in one process (see `bot.app.demo`); prints the page's address and runs until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="try the bot in a browser: the local stand-in, a sample commune and a clock",
        description="Start the local Bot API stand-in with its demo page and the bot polling "
        "it, on an SQLite file in DATA; on the first start import the sample organisation's "
        "first commune and link its groups. Prints the page's address.",
    )
    p.add_argument("--port", type=int, default=8080, help="port of the page (default 8080)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--data", type=Path, default=Path("data/demo"), help="folder of the demo's files"
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    # Loaded when the command runs: the demo's page, sandbox and sample data are not paid for
    # by every other command of `python -m bot`.
    from bot.app.demo import serve
    from bot.logs import setup_logging

    setup_logging("INFO")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.data, args.port, args.host))
    return 0
