"""Fuzzing the production dispatcher with forged buttons and odd commands.

Through `Dispatcher.feed_update` on the dispatcher `create_app` builds (routers, filters,
middlewares and error handlers as in production; the Bot talks to the sandbox, which checks
every request against the Bot API spec): random and mutated callback data for every registered
CallbackData prefix (oversized, negative, non-ASCII, missing and extra fields, real ids), and
random command arguments, from people with no rights in the district (a stranger, another
district's secretary) and a plain member, in private chats and in branch groups.

Invariants: no handler raises (nothing reaches the apology), every press gets an answer, and
the district's data is unchanged except what the person may change (a member: their RSVP).

The new features' rows are there to be pressed at with other people's ids and chats: a
feedback item held at commune T01U01 (whose group none of the actors is in), guidance asking
for Đã nhận in B01's and the commune's groups and in a secretary's private chat; their ids and
chats are among the values drawn (`NudgeCb.c` names a chat). No acknowledgement, take,
forward, answer or stop may be recorded for any of the actors.

Rosters and nudges too: a working group's published rosters with other people's visits (one
assigned, one offered to the leader, one past and owing its report), a visitor's busy days, a
secretary asked to move a meeting, and nudges sent to the commune's group and to a visitor in
private. Their ids are drawn, and every roster and nudge button naming them (visit, confirm,
pass on, answer an offer, hand back, move, busy, Nhắc lại sau) is pressed by every actor in
every chat: no visit, busy day, move, roster or nudge row may change (issue 20, class 3: a
press in a group counts only for a known current member of it, in private only for its
recipient). The app's clock is fixed.
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, get_args

import pytest
from aiogram import Dispatcher
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.types import Update
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import or_, select

from bot.app import App, create_app
from bot.buttons.broadcasts import AckCb, ProgressAct, ProgressCb
from bot.buttons.feedback import CardAct, CardCb, ForwardCb, ReplyAct, ReplyCb
from bot.buttons.nudges import NudgeAct, NudgeCb, SnoozeCb
from bot.buttons.rosters import (
    ConfirmCb,
    ConfirmVisitCb,
    HandbackCb,
    MoveAct,
    MoveCb,
    OfferAct,
    OfferCb,
    RosterAct,
    RosterCb,
)
from bot.services.access.policy import load_actor
from bot.services.context import ServiceContext
from bot.services.feedback.items import NewItem, categories, raise_item
from bot.services.rosters.planning import ensure_programs
from bot.services.vn_calendar import VN_TZ, to_local
from handlers.feedback.callbacks import PromptCb
from handlers.rosters.callbacks import OfferToCb, VisitAct, VisitCb
from handlers.rosters.visits import BusyCb, Step, VrCb
from sandbox.testing import run_sandbox
from storage.models import (
    AuditLog,
    Broadcast,
    BroadcastRecipient,
    ChatBinding,
    CommitteeAdmin,
    FeedbackItem,
    Invite,
    LinkCode,
    Meeting,
    MeetingReport,
    MeetingRsvp,
    Member,
    MoveRequest,
    NudgeEvent,
    NudgeOptout,
    NudgeSetting,
    NudgeTrack,
    Roster,
    RosterVisit,
)
from storage.models.feedback import LevelType
from storage.models.nudges import NudgePolicy, NudgeStep
from storage.models.rosters import BusyDay, MoveStatus, RosterStatus, VisitStatus
from storage.repositories.rosters import RosterRepository
from tests import orgdata as o
from tests.e2e.harness import TOKEN, make_settings
from tests.helpers import FakeClock, local, walk_routers

GROUP_B1, GROUP_B2, GROUP_FREE, GROUP_U1 = -100901, -100902, -100903, -100904
NOW = local(2026, 11, 23, 11)  # the app's clock: a Monday, Q4 under way, Q1 2027 published
ACTORS = {o.STRANGER: "Lạ", o.SEC_OTHER: "Ngoài", o.MEM1: "Viên"}
OUTSIDERS = {o.STRANGER, o.SEC_OTHER}
WRITES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument"}
MAY_CHANGE = {o.STRANGER: set(), o.SEC_OTHER: set(), o.MEM1: {"rsvps"}}


def callback_classes(dp: Dispatcher) -> list[type[CallbackData]]:
    """Every CallbackData class some handler of the production dispatcher filters on."""
    found: dict[str, type[CallbackData]] = {}
    for router in walk_routers(dp):
        for handler in router.callback_query.handlers:
            for f in handler.filters or ():
                if isinstance(f.callback, CallbackQueryFilter):
                    cls = f.callback.callback_data
                    found[cls.__prefix__] = cls
    return sorted(found.values(), key=lambda c: c.__prefix__)


def commands(dp: Dispatcher) -> list[str]:
    names: set[str] = set()
    for router in walk_routers(dp):
        for handler in router.message.handlers:
            for f in handler.filters or ():
                if isinstance(f.callback, Command):
                    names.update(c for c in f.callback.commands if isinstance(c, str))
    return sorted(names)


NASTY_NUMBERS = [
    "0",
    "-1",
    "1",
    "2",
    "99999999999999999999999",
    "18446744073709551616",
    "9223372036854775808",
    "²",
    "٣",
    "1e3",
    "+5",
    " 7",
    "",
]


def field_values(annotation: Any, real_ids: list[int]) -> st.SearchStrategy[str]:
    """Values for one field: valid-looking ones (so handlers run) and nasty ones."""
    options: list[st.SearchStrategy[str]] = [
        st.sampled_from(NASTY_NUMBERS),
        st.integers(-(2**70), 2**70).map(str),
        st.text(st.characters(blacklist_characters=":", codec="utf-8"), max_size=8),
        st.sampled_from([str(i) for i in real_ids]),
    ]
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, enum.Enum):
            options.append(st.sampled_from([str(m.value) for m in arg]))
    return st.one_of(*options)


@st.composite
def callback_data(draw: st.DrawFn, classes: list[type[CallbackData]], ids: list[int]) -> str:
    cls = draw(st.sampled_from(classes))
    fields = [field_values(f.annotation, ids) for f in cls.model_fields.values()]
    values = [draw(s) for s in fields]
    mutation = draw(st.sampled_from(["as is", "drop", "extra", "garbage"]))
    if mutation == "drop" and values:
        values = values[: draw(st.integers(0, len(values) - 1))]
    elif mutation == "extra":
        values.append(draw(st.sampled_from(NASTY_NUMBERS)))
    elif mutation == "garbage":
        return draw(st.text(max_size=40))
    data = ":".join([cls.__prefix__, *values])
    return data.encode()[:64].decode(errors="ignore")


ARGS = st.one_of(
    st.sampled_from(
        [
            "",
            "31/12/9999 23:59 Nhà văn hóa",
            "03/12 19:30",
            "29/02/2027 19:30",
            "99999999999999999999999",
            "add 99999999999999999999999 T01",
            "add ² T01",
            "remove 101 T01",
            "²",
            "T01U01B01",
            "<b>x</b> & <i>",
            "ABCD-EFGH",
        ]
    ),
    st.text(max_size=30),
)


@dataclass
class Env:
    app: App
    world: Any
    classes: list[type[CallbackData]]
    commands: list[str]
    ids: list[int]
    anchors: dict[int, int]  # chat id -> a bot message to press buttons on
    item_id: int = 0  # the feedback item held at commune T01U01
    broadcast_id: int = 0  # the guidance asking for Đã nhận
    org: Any = None
    rosters: Any = None  # RosterRows: the rosters, visits, move request and nudges


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    async with run_sandbox(port=0) as sb:
        world = sb.world(TOKEN)
        clock = FakeClock(NOW)
        app = create_app(make_settings(database_url, sb.base_url), clock=clock)
        org = await o.build_org(app.engine)
        people = {**ACTORS, o.SEC1: "Bí", o.SEC2: "Giáo"}
        for uid, name in people.items():
            world.add_user(uid, name, "vi", started=True)
        members = {uid: "member" for uid in people}
        for chat_id, title in ((GROUP_B1, "Thôn Một"), (GROUP_B2, "Trường"), (GROUP_FREE, "Tự do")):
            world.create_group(chat_id, title, members, bot_status="member")
        # The commune's group: none of the actors is in it (anyone may still press its
        # messages' buttons, as in a public supergroup).
        world.create_group(GROUP_U1, "Đảng ủy xã", {o.SEC2: "member"}, bot_status="member")
        async with app.session_factory() as s, s.begin():
            for chat_id, kind, target in (
                (GROUP_B1, "branch", org.b1),
                (GROUP_B2, "branch", org.b2),
                (GROUP_U1, "unit", org.u1),
            ):
                s.add(
                    ChatBinding(
                        chat_id=chat_id,
                        target_type=kind,
                        target_id=target,
                        district_id=org.district,
                    )
                )
            meeting = Meeting(
                branch_id=org.b1,
                district_id=org.district,
                kind="regular",
                status="scheduled",
                period_year=2030,
                period_month=1,
                starts_at=local(2030, 1, 5, 19, 30),
                version=1,
                created_by=o.SEC1,
            )
            s.add(meeting)
            await s.flush()
            meeting_id = meeting.id
        item_id, broadcast_id = await _feature_rows(app, org)
        rr = await _roster_rows(app, org, meeting_id, item_id)
        anchors = {}
        for chat_id in (*ACTORS, GROUP_B1, GROUP_B2, GROUP_FREE, GROUP_U1):
            sent = await app.bot.send_message(chat_id, "·")
            anchors[chat_id] = sent.message_id
        ids = sorted(
            {*org.members.values(), org.b1, org.b2, org.other_branch, org.district, meeting_id}
            | {org.u1, item_id, broadcast_id, GROUP_B1, GROUP_U1, o.SEC1, o.MEM1}
            | {*rr.rosters, *rr.visits, rr.move, *rr.batches, o.WG_MEMBER}
        )
        yield Env(
            app,
            world,
            callback_classes(app.dp),
            commands(app.dp),
            ids,
            anchors,
            item_id,
            broadcast_id,
            org,
            rr,
        )
        await app.close()


async def _feature_rows(app: App, org: o.Org) -> tuple[int, int]:
    """A feedback item held at commune T01U01 and guidance asking for Đã nhận (its deadline
    passed: the nudges' Đã nhận is live too) in B01's group, the commune's group and SEC1's
    private chat."""
    ctx = ServiceContext(app.clock, app.i18n, "vi")
    async with app.session_factory() as s, s.begin():
        await categories(s, org.district)
        sec1 = await load_actor(s, o.SEC1)
        new = NewItem(branch_id=org.b1, category="infra", text="Đường hỏng", on_behalf=True)
        item = await raise_item(s, ctx, sec1, new)
        now = app.clock.now()
        b = Broadcast(
            district_id=org.district,
            created_by=o.ADMIN,
            source_chat_id=o.ADMIN,
            source_message_ids=[1],
            kind="text",
            excerpt="Hướng dẫn",
            ack_required=True,
            ack_deadline=now - timedelta(hours=1),
            status="sending",
            queued_at=now - timedelta(days=2),
        )
        s.add(b)
        await s.flush()
        secretary = org.members["M1"]
        for chat, kind, target, branch in (
            (GROUP_B1, "branch", org.b1, org.b1),
            (GROUP_U1, "unit", org.u1, None),
            (o.SEC1, "secretary", secretary, org.b1),
        ):
            s.add(
                BroadcastRecipient(
                    broadcast_id=b.id,
                    chat_id=chat,
                    target_type=kind,
                    target_id=target,
                    branch_id=branch,
                    unit_id=org.u1,
                    name=str(chat),
                    state="sent",
                )
            )
        return item.id, b.id


@dataclass
class RosterRows:
    rosters: list[int]  # Q4 2026 (a past visit owing its report), Q1 2027 (visits to come)
    versions: list[int]
    visits: list[int]  # the past one, an assigned one, one offered to the leader
    move: int  # B01's secretary asked to move the meeting
    batches: list[int]  # nudge messages: the commune's group, the visitor in private


async def _roster_rows(app: App, org: o.Org, meeting_id: int, item_id: int) -> RosterRows:
    """Other people's roster rows and nudges: the group T01WG1 (leader M8, visitor M9) visits
    B01 and B02; M9 has busy days; the nudges went to the commune's group (the item waits
    there) and to M9 in private (the past visit's report)."""
    visitor, leader = org.members["M9"], org.members["M8"]
    async with app.session_factory() as s, s.begin():
        await ensure_programs(s, org.district)
        program = await RosterRepository(s).program_of_group(org.wg)
        assert program is not None
        rosters = []
        for year, quarter in ((2026, 4), (2027, 1)):
            r = Roster(
                program_id=program.id,
                district_id=org.district,
                year=year,
                quarter=quarter,
                status=RosterStatus.PUBLISHED,
                published_at=NOW - timedelta(days=60 if quarter == 4 else 1),
                published_by=o.WG_LEADER,
            )
            s.add(r)
            await s.flush()
            rosters.append(r)
        visits = []
        for roster, branch, at, status, offered in (
            (rosters[0], org.b2, local(2026, 11, 10, 19, 30), VisitStatus.CONFIRMED, None),
            (rosters[1], org.b1, local(2027, 1, 5, 19, 30), VisitStatus.ASSIGNED, None),
            (rosters[1], org.b2, local(2027, 1, 8, 19, 30), VisitStatus.OFFERED, leader),
        ):
            v = RosterVisit(
                roster_id=roster.id,
                district_id=org.district,
                branch_id=branch,
                period_year=to_local(at, VN_TZ).year,
                period_month=to_local(at, VN_TZ).month,
                starts_at=at,
                visitor_member_id=visitor,
                status=status,
                offer_to_member_id=offered,
                offered_at=NOW if offered else None,
            )
            s.add(v)
            visits.append(v)
        s.add_all(BusyDay(member_id=visitor, day=d) for d in (date(2027, 1, 6), date(2027, 1, 7)))
        move = MoveRequest(
            roster_id=rosters[1].id,
            branch_id=org.b1,
            meeting_id=meeting_id,
            period_year=2030,
            period_month=1,
            from_start=local(2030, 1, 5, 19, 30),
            to_start=local(2030, 1, 4, 19, 30),
            status=MoveStatus.PENDING,
            asked_by=o.WG_LEADER,
        )
        s.add(move)
        await s.flush()
        batches = []
        for key, policy, chat in (
            (f"fb:{item_id}:{LevelType.UNIT}:{org.u1}", NudgePolicy.FEEDBACK_DUE, GROUP_U1),
            (f"vreport:{visits[0].id}", NudgePolicy.VISIT_REPORT, o.WG_MEMBER),
        ):
            track = NudgeTrack(
                key=key,
                kind=policy,
                district_id=org.district,
                unit_id=org.u1,
                since=NOW - timedelta(days=2),
                started_at=NOW - timedelta(days=1),
            )
            s.add(track)
            await s.flush()
            event = NudgeEvent(
                track_id=track.id,
                key=key,
                kind=policy,
                district_id=org.district,
                unit_id=org.u1,
                chat_id=chat,
                step=NudgeStep.NUDGE1,
                at=NOW - timedelta(days=1),
            )
            s.add(event)
            await s.flush()
            event.batch_id = event.id
            batches.append(event.id)
        return RosterRows(
            [r.id for r in rosters],
            [r.version for r in rosters],
            [v.id for v in visits],
            move.id,
            batches,
        )


async def fingerprint(env: Env) -> dict[str, Any]:
    """The district's data a person without rights must leave as it is."""
    async with env.app.session_factory() as s:

        async def rows(*columns: Any, where: Any = None) -> list[Any]:
            stmt = select(*columns) if where is None else select(*columns).where(where)
            return [tuple(r) for r in (await s.execute(stmt)).all()]

        # Another district's secretary may issue link codes for their own branch: only this
        # district's codes and audit rows must stay as they are.
        district = env.org.district

        return {
            "meetings": await rows(
                Meeting.id, Meeting.status, Meeting.starts_at, Meeting.place, Meeting.version
            ),
            "rsvps": await rows(MeetingRsvp.meeting_id, MeetingRsvp.member_id, MeetingRsvp.answer),
            "reports": await rows(MeetingReport.id),
            "bindings": await rows(ChatBinding.chat_id, ChatBinding.target_id, ChatBinding.active),
            "members": await rows(Member.id, Member.telegram_id, Member.active),
            "invites": await rows(Invite.id, Invite.used_at),
            "codes": await rows(
                LinkCode.id, LinkCode.used_at, where=LinkCode.district_id == district
            ),
            "admins": await rows(CommitteeAdmin.district_id, CommitteeAdmin.telegram_id),
            "audit": await rows(
                AuditLog.id,
                where=or_(AuditLog.district_id == district, AuditLog.district_id.is_(None)),
            ),
            "acks": await rows(
                BroadcastRecipient.chat_id, BroadcastRecipient.ack_at, BroadcastRecipient.ack_by
            ),
            "broadcasts": await rows(Broadcast.id, Broadcast.status, Broadcast.stopped_at),
            "feedback": await rows(
                FeedbackItem.id,
                FeedbackItem.status,
                FeedbackItem.taken_by,
                FeedbackItem.level_type,
                FeedbackItem.level_id,
                FeedbackItem.version,
            ),
            "rosters": await rows(Roster.id, Roster.status, Roster.version, Roster.published_at),
            "visits": await rows(
                RosterVisit.id,
                RosterVisit.status,
                RosterVisit.visitor_member_id,
                RosterVisit.starts_at,
                RosterVisit.confirmed_at,
                RosterVisit.offer_to_member_id,
            ),
            "busy": await rows(BusyDay.member_id, BusyDay.day),
            "moves": await rows(MoveRequest.id, MoveRequest.status, MoveRequest.decided_by),
            "nudge_tracks": await rows(
                NudgeTrack.id,
                NudgeTrack.snoozed_until,
                NudgeTrack.ended_at,
                NudgeTrack.escalated_at,
            ),
            "nudge_events": await rows(
                NudgeEvent.id, NudgeEvent.chat_id, NudgeEvent.step, NudgeEvent.withdrawn_at
            ),
            "nudge_settings": await rows(NudgeSetting.district_id, NudgeSetting.policy),
            "nudge_optouts": await rows(NudgeOptout.district_id, NudgeOptout.telegram_id),
        }


async def feed(env: Env, update: dict[str, Any]) -> None:
    env.world.pending.clear()  # nobody polls: this test feeds the update itself
    await env.app.dp.feed_update(env.app.bot, Update.model_validate(update))


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_press_counter = itertools.count()


@FUZZ
@given(data=st.data())
async def test_fuzzed_buttons_and_commands_never_crash_and_change_nothing_forbidden(
    env: Env, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    actor = data.draw(st.sampled_from(sorted(ACTORS)), label="actor")
    chats = [actor, GROUP_B1, GROUP_B2, GROUP_FREE, GROUP_U1]
    chat = data.draw(st.sampled_from(chats), label="chat")
    before = await fingerprint(env)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        if data.draw(st.booleans(), label="press"):
            payload = data.draw(callback_data(env.classes, env.ids), label="callback_data")
            query_id = env.world.press_button(actor, env.anchors[chat], chat, payload, strict=False)
            sent_before = len(env.world.sent_log())
            await feed(env, env.world.pending[-1])
            answer = env.world.callback_answer(query_id)
            assert answer is not None, f"press {payload!r} in {chat} was never answered"
            if actor in OUTSIDERS and chat < 0:
                written = [
                    c["method"]
                    for c in env.world.sent_log()[sent_before:]
                    if c["method"] in WRITES and str(c.get("chat_id")) == str(chat)
                ]
                assert written == [], f"an outsider's press {payload!r} wrote into {chat}"
        else:
            command = data.draw(st.sampled_from(env.commands), label="command")
            args = data.draw(ARGS, label="args")
            chat = actor if chat == GROUP_U1 else chat  # none of them can write there
            update = env.world.send_text(actor, f"/{command} {args}".strip(), chat)
            await feed(env, update)
    failures = [r.getMessage() for r in caplog.records if r.name == "bot.errors"]
    assert failures == [], failures
    after = await fingerprint(env)
    changed = {k for k in before if before[k] != after[k]}
    assert changed <= MAY_CHANGE[actor], (actor, chat, changed)


def test_the_fuzzer_reaches_every_callback_prefix_and_command(env: Env) -> None:
    prefixes = {c.__prefix__ for c in env.classes}
    assert {"lang", "mem", "invm", "rsvp"} <= prefixes, prefixes
    # The new features' buttons: nudges, broadcasts, feedback, rosters.
    assert {"ndg", "ndz", "bca", "bcp", "fbc", "fbf", "fbr", "ros", "rcf", "rof"} <= prefixes
    assert {"rcf1", "rvi", "rot", "rhb", "rmv", "rbz", "rvr"} <= prefixes
    assert {"start", "help", "schedule", "admins", "link"} <= set(env.commands)


def _others_buttons(env: Env) -> list[str]:
    """The new features' buttons naming other people's rows and chats: every act a press
    could record on the item, the guidance, its recipients and the rosters."""
    org, item, bc = env.org, env.item_id, env.broadcast_id
    out = [AckCb(broadcast_id=bc).pack()]
    out += [NudgeCb(a=NudgeAct.ACK, id=bc, c=c).pack() for c in (GROUP_B1, GROUP_U1, o.SEC1)]
    out += [NudgeCb(a=a, id=item).pack() for a in NudgeAct if a is not NudgeAct.ACK]
    out += [CardCb(item_id=item, version=v, a=a).pack() for a in CardAct for v in (1, 2)]
    out += [ReplyCb(item_id=item, version=1, a=a).pack() for a in ReplyAct]
    out += [
        ForwardCb(item_id=item, version=1, level=level, level_id=target).pack()
        for level, target in ((LevelType.DISTRICT, org.district), (LevelType.UNIT, org.u2))
    ]
    out += [ProgressCb(broadcast_id=bc, a=a).pack() for a in ProgressAct]
    out += [PromptCb(item=item).pack()]
    rr = env.rosters
    people = [org.members[c] for c in ("M1", "M8", "M9")]
    for roster, version in zip(rr.rosters, rr.versions, strict=True):
        out += [RosterCb(roster_id=roster, version=version, a=a).pack() for a in RosterAct]
        out += [ConfirmCb(roster_id=roster).pack()]
    for visit in rr.visits:
        out += [VisitCb(visit_id=visit, a=a).pack() for a in VisitAct]
        out += [ConfirmVisitCb(visit_id=visit).pack()]
        out += [OfferCb(visit_id=visit, a=a).pack() for a in OfferAct]
        out += [OfferToCb(visit_id=visit, member_id=m).pack() for m in people]
        out += [HandbackCb(visit_id=visit, member_id=m).pack() for m in people]
        out += [VrCb(visit_id=visit, s=step).pack() for step in (Step.PICK, Step.ATTENDED)]
        out += [NudgeCb(a=NudgeAct.VISIT_REPORT, id=visit).pack()]
    out += [MoveCb(request_id=rr.move, a=a).pack() for a in MoveAct]
    out += [BusyCb(y=2027, m=1, d=d).pack() for d in (0, 6, 7)]
    out += [SnoozeCb(b=b).pack() for b in rr.batches]
    return out


async def test_nobody_without_the_right_records_an_act_on_others_rows(env: Env) -> None:
    """Every actor, in every chat, presses every button of the new features naming other
    people's rows and chats: nothing is acknowledged, taken, forwarded, answered or stopped."""
    before = await fingerprint(env)
    for actor in sorted(ACTORS):
        for chat in (actor, GROUP_B1, GROUP_B2, GROUP_FREE, GROUP_U1):
            for payload in _others_buttons(env):
                query_id = env.world.press_button(
                    actor, env.anchors[chat], chat, payload, strict=False
                )
                await feed(env, env.world.pending[-1])
                assert env.world.callback_answer(query_id) is not None, (actor, chat, payload)
    after = await fingerprint(env)
    assert {k for k in before if before[k] != after[k]} == set()
