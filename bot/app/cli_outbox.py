"""`python -m bot outbox [retry-failed [--since ISO]]`: the operator's view of the outbox."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.app.cli_common import settings_or_exit
from bot.cli_text import Say, say_for
from bot.clock import SystemClock
from bot.settings import load_settings
from storage.db import create_engine, create_session_factory
from storage.repositories.outbox import OutboxRepository


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "outbox",
        help="show outbox counts by state, or requeue failed messages",
        description="Without a verb: message counts by state, uncertain (maybe sent) attempts "
        "and the age of the oldest due message. retry-failed: requeue failed messages.",
    )
    p.set_defaults(func=cmd_outbox, verb=None)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    r = verbs.add_parser("retry-failed", help="put failed messages back in the queue")
    r.add_argument(
        "--since",
        type=_iso,
        default=None,
        help="only messages that failed at or after this time (ISO 8601, e.g. 2026-12-03T19:00)",
    )
    r.set_defaults(func=cmd_outbox)


def _iso(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=load_settings(require_token=False).tz)
    return dt.astimezone(UTC)


def cmd_outbox(args: argparse.Namespace) -> int:
    settings = settings_or_exit(require_token=False)
    say = say_for(args, settings)
    return asyncio.run(_run(settings.database_url, say, args.verb, getattr(args, "since", None)))


async def _run(url: str, say: Say, verb: str | None, since: datetime | None) -> int:
    engine = create_engine(url)
    try:
        sf = create_session_factory(engine)
        now = SystemClock().now()
        if verb == "retry-failed":
            async with sf() as s, s.begin():
                n = await OutboxRepository(s).requeue_failed(now, since)
            print(say("op.outbox.requeued", n=n))
            return 0
        async with sf() as s:
            repo = OutboxRepository(s)
            counts = await repo.counts_by_state()
            oldest = await repo.oldest_due_pending(now)
            uncertain = await repo.count_uncertain()
        states = ("pending", "claimed", "sending", "sent", "failed", "maybe_sent")
        for state in (*states, *sorted(set(counts) - set(states))):
            print(f"{state:<12}{counts.get(state, 0):>10}")
        print(f"{'uncertain':<12}{uncertain:>10}  {say('op.outbox.uncertain')}")
        age = "-" if oldest is None else f"{(now - oldest).total_seconds():.0f}s"
        print(say("op.outbox.oldest", age=age))
        return 0
    finally:
        await engine.dispose()
