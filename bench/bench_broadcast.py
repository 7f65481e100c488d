"""A broadcast to a 30-district city's ~8,200 branch groups at Telegram's bulk limit, while
people keep using the bot. The city is the sample organisation's (`bot.sample_org`, seed 0);
the clock is fixed (`bench.common.BENCH_AT`, in the sandbox's process too).

The production app (dispatcher, outbox sender, jobs with the live progress edits) runs here on
an SQLite copy of the imported city (see `bench/broadcast_world.py`); the sandbox serves from
its own OS process with its flood limits on (30/s overall, 1/s per chat, 20/min per group). The
admin's formatted text goes to every bound branch group, acknowledgement asked (each copy
carries the Đã nhận button), through the real services: draft, audience, options, preview,
send. Two runs, each on a fresh copy:

  clean   while `--people` people (20) keep using the bot: each, at random intervals (mean
          `--think` s), sends /start or taps Có mặt on their branch's meeting announcement.
          Targets: the last copy within 3% of the minimum (N / 30 s, from the Gửi press), nothing
          lost or sent twice, the people's answers (tap -> answerCallbackQuery, /start -> the
          reply, by the sandbox's clock) p95 < 200 ms, no 429 to any of them.
  429     no people; 1% of requests answered 429 (retry_after 1). A chat answered 429 at t
          cannot get its copy before t + 1 s, so the run cannot end before the last 429's
          answer + its retry_after: the floor. Target: within 2% of it.

Answers to people and the live edits are sent directly (not through the outbox) and count
against the same 30/s: they take their place in the sender's pace ahead of the broadcast
(`bot.outbox.direct`), so the broadcast yields them their share and ends that much later; the
report counts them.

    python -m bench broadcast [--quick] [--districts 30] [--chats N] [--people 20] [--think 20]
                              [--only clean|429]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from sqlalchemy import func, select

from bench.broadcast_world import Plan, build_template, serve
from bench.common import fixed_clock, follow_clock, sample_city, wait_started, watch_startup
from bot.app import App, create_app, poll
from bot.clock import SystemClock
from bot.services.access.policy import load_actor
from bot.services.context import ServiceContext
from bot.services.meetings import schedule_meeting
from bot.settings import load_settings
from storage.models import OutboxEntry

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST"
TITLE = "Họp chi bộ mở rộng"  # the people's meeting: its announcement carries their buttons
# How long the people's group may wait for that announcement once the bot is up (it leaves
# through the outbox at once; the cap only turns a hang into a message).
ANNOUNCE_CAP = 300
# After the broadcast, how long the last people's actions may wait for their answers.
ANSWER_CAP = 60.0
TEXT = "Hướng dẫn học tập, quán triệt Nghị quyết Trung ương: tổ chức trước ngày 15/12."
BOLD = [{"type": "bold", "offset": 0, "length": 9}]
FINAL = ("sent", "failed", "maybe_sent", "cancelled")


@contextlib.asynccontextmanager
async def _sandbox(plan: Plan, tmp: Path) -> AsyncIterator[str]:
    path = tmp / "plan.json"
    plan.dump(path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_broadcast",
        "--serve",
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process ended before serving (its error is above)")
        port = int(json.loads(line)["port"])
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the server stops at the end of its input
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _post(http: ClientSession, url: str, body: dict[str, Any]) -> Any:
    async with http.post(url, json=body) as resp:
        data = await resp.json()
    if not data.get("ok", True):
        raise RuntimeError(f"{url}: {data}")
    return data.get("result", data)


async def _announce(app: App, plan: Plan, ctx: ServiceContext) -> None:
    """A meeting of the people's branch, announced in its group (the buttons they tap)."""
    async with app.session_factory() as s, s.begin():
        actor = await load_actor(s, plan.admin)
        starts = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
        await schedule_meeting(
            s, actor, ctx, plan.people_branch, kind="extraordinary", starts_at=starts, title=TITLE
        )


async def _people(
    http: ClientSession,
    base: str,
    plan: Plan,
    announcement: dict[str, Any],
    think: float,
    stop: asyncio.Event,
) -> None:
    """Each person: a random pause (exponential, mean `think`), then /start or a Có mặt tap."""
    yes = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    rng = random.Random(5)

    async def person(uid: int) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.expovariate(1 / think))
                return
            body: dict[str, Any] = {"user": uid, "kind": "start"}
            if rng.random() < 0.7:
                body = {
                    "user": uid,
                    "kind": "tap",
                    "message_id": announcement["message_id"],
                    "data": yes,
                }
            await _post(http, f"{base}/bench/act", body)

    await asyncio.gather(*(person(uid) for uid in plan.people))


async def _broadcast(app: App, plan: Plan, ctx: ServiceContext, source_id: int) -> tuple[Any, Any]:
    """Draft, audience, options, preview: everything up to Gửi (returns what `send` needs)."""
    from bot.services.broadcasts import audience as aud
    from bot.services.broadcasts import compose

    async with app.session_factory() as s, s.begin():
        actor = await load_actor(s, plan.admin)
        source = compose.Source(chat_id=plan.admin, message_ids=(source_id,), kind="text")
        draft = await compose.start_draft(s, ctx, actor, plan.district, source)
        everyone = aud.Audience(parts=frozenset({aud.AudiencePart.ALL_BRANCH_GROUPS}))
        await compose.set_audience(s, ctx, actor, draft.id, everyone)
        deadline = datetime.now(UTC) + timedelta(days=3)
        await compose.set_options(
            s,
            ctx,
            actor,
            draft.id,
            ack_required=True,
            ack_deadline=deadline,
            pin=False,
            send_at=None,
        )
        preview = await compose.preview(s, ctx, actor, draft.id)
    return actor, preview


async def _answered(http: ClientSession, base: str) -> None:
    """Wait until every person's last action has its answer (or ANSWER_CAP passed: the report
    then counts the unanswered ones)."""
    deadline = time.monotonic() + ANSWER_CAP
    while time.monotonic() < deadline:
        async with http.get(f"{base}/bench/unanswered") as resp:
            if not (await resp.json())["unanswered"]:
                return
        await asyncio.sleep(0.1)


async def _pending(app: App, broadcast_id: int) -> int:
    async with app.session_factory() as s:
        count = await s.scalar(
            select(func.count()).where(
                OutboxEntry.origin_type == "broadcast",
                OutboxEntry.origin_id == str(broadcast_id),
                OutboxEntry.state.not_in(FINAL),
            )
        )
    return int(count or 0)


async def _states(app: App, broadcast_id: int) -> dict[str, int]:
    async with app.session_factory() as s:
        rows = await s.execute(
            select(OutboxEntry.state, func.count())
            .where(
                OutboxEntry.origin_type == "broadcast",
                OutboxEntry.origin_id == str(broadcast_id),
            )
            .group_by(OutboxEntry.state)
        )
    return {state: int(n) for state, n in rows}


async def run_once(
    template: Path, plan: Plan, tmp: Path, people: bool, think: float
) -> dict[str, Any]:
    db = tmp / f"run-{'429' if plan.faults else 'clean'}.db"
    shutil.copyfile(template, db)
    async with _sandbox(plan, tmp) as base, ClientSession() as http:
        settings = load_settings(
            {
                "BOT_TOKEN": TOKEN,
                "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
                "TELEGRAM_API_URL": base,
                "LOG_LEVEL": "WARNING",
                "SEND_GLOBAL_PER_SEC": str(plan.rate),
            }
        )
        app = create_app(settings)
        ready = watch_startup(app)
        task = asyncio.create_task(poll(app, handle_signals=False))
        try:
            await wait_started(ready, task)
            ctx = ServiceContext(SystemClock(), app.i18n, "vi", settings.tz)
            await _announce(app, plan, ctx)
            try:
                announcement = await _post(
                    http,
                    f"{base}/sandbox/wait_for_bot_message",
                    {"chat_id": plan.people_chat, "timeout": ANNOUNCE_CAP, "text_contains": TITLE},
                )
            except RuntimeError as exc:
                raise RuntimeError(
                    f"the meeting announcement did not reach the people's group within "
                    f"{ANNOUNCE_CAP} s after start-up ({exc})"
                ) from None
            sent = await _post(
                http,
                f"{base}/sandbox/send_text",
                {"user_id": plan.admin, "text": TEXT, "entities": BOLD},
            )
            actor, preview = await _broadcast(app, plan, ctx, sent["message"]["message_id"])
            n = preview.reachable
            gc.collect()
            gc.freeze()
            stop = asyncio.Event()
            crowd = asyncio.create_task(
                _people(http, base, plan, announcement, think, stop) if people else stop.wait()
            )
            from bot.services.broadcasts import compose

            started = time.time()
            async with app.session_factory() as s, s.begin():
                await compose.send(s, ctx, actor, preview.broadcast.id, preview.version)
            enqueued = time.time() - started
            while await _pending(app, preview.broadcast.id):  # noqa: ASYNC110 - a progress poll
                await asyncio.sleep(0.25)
            stop.set()
            await crowd
            await _answered(http, base)
            async with http.get(f"{base}/bench/report") as resp:
                tally = await resp.json()
            states = await _states(app, preview.broadcast.id)
        finally:
            await app.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 40)
            gc.unfreeze()
    return {
        **tally,
        "n": n,
        "elapsed": tally["last_copy"] - started,
        "first": tally["first_copy"] - started,
        "start": started,
        "floor": tally["floor"] - started if tally["floor"] else 0.0,
        "enqueued": enqueued,
        "states": states,
    }


def _report(label: str, plan: Plan, r: dict[str, Any], people: int) -> bool:
    n, rate = r["n"], plan.rate
    minimum = n / rate
    lost = n - r["delivered"] - r["states"].get("failed", 0) - r["states"].get("maybe_sent", 0)
    waits = sorted(w for w in r["waits_ms"] if w is not None)
    unanswered = sum(1 for w in r["waits_ms"] if w is None)
    line = (
        f"{label:<6} {n:,} chats: {r['elapsed']:7.2f} s, minimum {minimum:.2f} s (N/{rate:g}), "
        f"time/minimum {r['elapsed'] / minimum:.4f}; delivered {r['delivered']:,}, lost {lost}, "
        f"dup {r['duplicates']}, states {r['states']}; 429s {r['429s']} (to direct calls "
        f"{r['429s_direct']}), violations {r['violations']}; direct counted calls "
        f"{r['direct_counted']}; Gửi took {r['enqueued']:.2f} s, first copy at {r['first']:.2f} s"
    )
    ok = lost == 0 and r["duplicates"] == 0 and r["violations"] == 0
    if people:
        p95 = waits[max(0, int(round(0.95 * len(waits))) - 1)] if waits else float("nan")
        p50 = statistics.median(waits) if waits else float("nan")
        line += (
            f"; people {people}: {sum(r['acts'].values())} actions {dict(r['acts'])}, answer "
            f"p50 {p50:.1f} ms p95 {p95:.1f} ms max {max(waits, default=0):.1f} ms, "
            f"unanswered {unanswered}"
        )
        ok &= p95 < 200 and unanswered == 0 and r["429s_direct"] == 0
        ok &= r["elapsed"] <= minimum * 1.03
        line += f"  -> {'within' if ok else 'NOT within'} 3% / 200 ms"
    if plan.faults:
        floor = max(r["floor"], minimum)
        within = r["elapsed"] <= floor * 1.02
        ok &= within
        line += (
            f"; floor (last 429 + retry_after) {floor:.2f} s, time/floor "
            f"{r['elapsed'] / floor:.4f} -> {'within' if within else 'NOT within'} 2%"
        )
    print(line, flush=True)
    if os.environ.get("BENCH_VERBOSE"):
        for a in r["slowest"]:
            print(f"   slow: {a['kind']} {a['wait']:.0f} ms at +{a['wall'] - r['start']:.1f} s")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench broadcast")
    parser.add_argument("--quick", action="store_true", help="3 districts, 600 chats")
    parser.add_argument("--districts", type=int, default=30)
    parser.add_argument("--chats", type=int, default=None, help="bind only this many branches")
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--think", type=float, default=20.0, help="mean pause of a person, s")
    parser.add_argument("--only", choices=("clean", "429"))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv or [])
    if args.serve:  # the sandbox process of a run, on the parent's fixed clock
        with follow_clock():
            asyncio.run(serve(Path(args.serve)))
        return 0
    logging.basicConfig(level=logging.WARNING)
    districts, chats = args.districts, args.chats
    if args.quick:
        districts, chats = 3, chats or 600
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_broadcast_") as tmp_name, fixed_clock():
        tmp = Path(tmp_name)
        city = sample_city(tmp / "city", districts)
        template = tmp / "template.db"
        started = time.perf_counter()
        plan = asyncio.run(build_template(city, template, chats, args.people))
        print(
            f"city of {districts} districts: {len(plan.chats):,} branch groups bound, "
            f"set up in {time.perf_counter() - started:.1f} s; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        if args.only in (None, "clean"):
            r = asyncio.run(run_once(template, plan, tmp, True, args.think))
            ok &= _report("clean", plan, r, args.people)
        if args.only in (None, "429"):
            plan.faults = True
            r = asyncio.run(run_once(template, plan, tmp, False, args.think))
            ok &= _report("429", plan, r, 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
