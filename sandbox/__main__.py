"""``python -m sandbox``: run the local Bot API stand-in until interrupted."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from .server import create_app
from .state import DEFAULT_TOKEN, Sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--spec", default=None, help="path to api.min.json")
    parser.add_argument("--flood", action="store_true", help="enable flood limits")
    parser.add_argument("--bot-username", default=None)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="default token for /sandbox/")
    parser.add_argument("--seed", type=int, default=0, help="RNG seed for fault injection")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = Sandbox(
        spec_path=args.spec,
        default_token=args.token,
        bot_username=args.bot_username,
        flood=args.flood,
        seed=args.seed,
    )
    logging.getLogger("sandbox").info(
        "Bot API sandbox (%s, spec %s) on http://%s:%d",
        sandbox.spec.version,
        sandbox.spec.source,
        args.host,
        args.port,
    )
    web.run_app(create_app(sandbox), host=args.host, port=args.port, shutdown_timeout=2.0)


if __name__ == "__main__":
    main()
