"""`python -m bot roster plan|publish --quarter 2027-Q1 [--district CODE] [--json]`.

For operators and for checking: `plan` makes (or re-makes) the draft of every working group of
the district and prints it; `publish` publishes the drafts, as the leader's button does. Both
work on a freshly imported database (programs are created on the way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from bot.app.cli_common import settings_or_exit
from bot.cli_text import Say, StderrProgress, say_for
from bot.clock import SystemClock
from bot.services.context import ServiceContext
from bot.services.rosters.cli_report import plan_report, text_report
from bot.services.rosters.common import Quarter, RosterError
from bot.services.rosters.review import publish
from bot.settings import Settings
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_to_head

if TYPE_CHECKING:
    from bot.services.access.policy import Refused


def refusal(say: Say, exc: Refused) -> str:
    """A refused roster request in the operator's language (a quarter as 'quý I/2027')."""
    params = {k: v.label(say.locale) if hasattr(v, "label") else v for k, v in exc.params.items()}
    return say.i18n.t(exc.key, say.locale, **params)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "roster",
        help="draft or publish the quarterly visiting rosters",
        description="plan: make each working group's draft for the quarter and print it. "
        "publish: publish the drafts (the group chats and visitors are told).",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, text in (("plan", "make and print the drafts"), ("publish", "publish the drafts")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument("--quarter", required=True, help="e.g. 2027-Q1")
        v.add_argument("--district", default=None, help="district code (default: every one)")
        v.add_argument("--json", action="store_true", help="machine-readable output")
        v.set_defaults(func=cmd_roster)


def cmd_roster(args: argparse.Namespace) -> int:
    settings = settings_or_exit(require_token=False)
    say = say_for(args, settings)
    try:
        quarter = Quarter.parse(args.quarter)
    except RosterError:
        print(say("op.roster.bad_quarter", text=repr(args.quarter)), file=sys.stderr)
        return 2
    return asyncio.run(_run(settings, say, args.verb, quarter, args.district, args.json))


async def _run(
    settings: Settings, say: Say, verb: str, quarter: Quarter, district: str | None, as_json: bool
) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        factory = create_session_factory(engine)
        ctx = ServiceContext(SystemClock(), say.i18n, say.locale, settings.tz)
        progress = StderrProgress(sys.stderr, say, quiet=as_json)

        def solving(i: int, n: int, group: str) -> None:
            progress.phase("op.roster.solving", group=group, i=i, n=n)

        try:
            report = await plan_report(
                factory, ctx, quarter, district, draft=verb == "plan", on_group=solving
            )
        except RosterError as exc:
            print(refusal(say, exc), file=sys.stderr)
            return 2
        refused = 0
        if verb == "publish":
            published = 0
            for group in report["groups"]:
                if group.get("published"):
                    continue
                try:
                    async with factory() as s, s.begin():
                        await publish(s, ctx, None, group["roster_id"], None)
                    published += 1
                except RosterError as exc:
                    refused += 1
                    print(f"{group['code']}: {refusal(say, exc)}", file=sys.stderr)
            if refused:
                label = quarter.label(say.locale)
                print(say("op.roster.publish_refused", n=published, refused=refused, quarter=label))
            elif not as_json:
                print(say("op.roster.published", n=published, quarter=quarter.label(say.locale)))
        if as_json:
            public = {
                "quarter": report["quarter"],
                "groups": [
                    {k: g[k] for k in ("code", "status", "assignments", "uncovered")}
                    for g in report["groups"]
                ],
            }
            print(json.dumps(public, ensure_ascii=False, indent=2))
        elif verb == "plan":
            for line in text_report(report, say):
                print(line)
        return 1 if refused else 0  # a refusal is never "OK"
    finally:
        await engine.dispose()
