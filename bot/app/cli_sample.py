"""`python -m bot sample-org OUT [--districts N] [--seed S] [--shape district]`: write the
project's own sample organisation as import CSV files (see `bot.sample_org`).

The messages come from the catalogs in DEFAULT_LANGUAGE (Vietnamese unless set), like
everything else the project says to a person.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.i18n import create_i18n
from bot.sample_org import DEFAULT_SHAPE, SHAPES, write_sample
from bot.settings import LANGUAGES

MOST_DISTRICTS = 999  # district codes are D001-D999 at most


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sample-org",
        help="write an invented sample organisation as import CSV files",
        description="Write units.csv, branches.csv, members.csv, working_groups.csv and "
        "working_group_members.csv of an invented organisation (Vietnamese names, the shape of "
        "a real district) into OUT; the same seed gives the same files. Load them with "
        "`python -m bot import-org OUT`.",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="folder to write (made if missing)")
    p.add_argument(
        "--districts",
        type=int,
        default=1,
        help="districts side by side (30: a city of about 8,200 branches, 209,000 members)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--shape", choices=sorted(SHAPES), default=DEFAULT_SHAPE)
    p.set_defaults(func=cmd_sample_org)


def _language() -> str:
    chosen = os.environ.get("DEFAULT_LANGUAGE", "").strip().lower()
    return chosen if chosen in LANGUAGES else LANGUAGES[0]


def cmd_sample_org(args: argparse.Namespace) -> int:
    language = getattr(args, "lang", None) or _language()  # --lang wins (bot.cli_text)
    i18n = create_i18n(language)
    if not 1 <= args.districts <= MOST_DISTRICTS:
        message = i18n.t(
            "sample_org.bad_districts", language, most=MOST_DISTRICTS, value=args.districts
        )
        print(message, file=sys.stderr)
        return 2
    try:
        counts = write_sample(args.out, args.shape, args.districts, args.seed)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            i18n.t("sample_org.cannot_write", language, path=args.out, reason=reason),
            file=sys.stderr,
        )
        return 2
    print(
        i18n.t(
            "sample_org.written",
            language,
            shape=args.shape,
            districts=args.districts,
            seed=args.seed,
            path=args.out,
            units=counts["units"],
            branches=counts["branches"],
            members=counts["members"],
            groups=counts["working_groups"],
        )
    )
    return 0
