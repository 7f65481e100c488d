"""Link codes and chat bindings: one-time codes, checks before writes, moves, removal, migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services.access import link_guard, linking
from bot.services.access.linking import ChatInfo
from bot.services.access.notices import local_time
from bot.services.access.policy import Refused, load_actor
from bot.services.vn_calendar import VN_TZ
from storage.db import create_session_factory
from storage.models import AuditLog, ChatBinding, LinkCode, OutboxEntry
from storage.models.org import TargetType
from tests import orgdata as o
from tests.helpers import FakeClock

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
I18N = create_i18n("vi")
BOOTSTRAP = 4242
GROUP = ChatInfo(-1001, "group", "Chi bộ thôn Một")


async def _issue(engine: AsyncEngine, who: int, ttype: str, tid: int, now: datetime = NOW) -> str:
    async with create_session_factory(engine)() as s, s.begin():
        actor = await load_actor(s, who)
        return (await linking.issue_code(s, actor, ttype, tid, now)).code


class ChatAdmin:
    """Stands in for the getChatMember question; counts how often it was asked."""

    def __init__(self, answer: bool = True) -> None:
        self.answer, self.asked = answer, 0

    async def __call__(self) -> bool:
        self.asked += 1
        return self.answer


async def _attempt(
    engine: AsyncEngine,
    code: str,
    who: int,
    chat: ChatInfo = GROUP,
    *,
    admin: bool | ChatAdmin = True,
    now: datetime = NOW,
    bootstrap: tuple[int, ...] = (),
) -> linking.LinkOutcome | linking.WrongCode:
    check = admin if isinstance(admin, ChatAdmin) else ChatAdmin(admin)
    async with create_session_factory(engine)() as s, s.begin():
        actor = await load_actor(s, who, bootstrap)
        return await linking.link_chat(
            s,
            code=code,
            chat=chat,
            sender=actor,
            chat_admin=check,
            now=now,
            i18n=I18N,
            fallback_admin_ids=bootstrap,
        )


async def _link(
    engine: AsyncEngine, code: str, who: int, chat: ChatInfo = GROUP, **kw: object
) -> linking.LinkOutcome:
    outcome = await _attempt(engine, code, who, chat, **kw)  # type: ignore[arg-type]
    assert isinstance(outcome, linking.LinkOutcome), outcome
    return outcome


async def _state(engine: AsyncEngine) -> tuple[list[tuple[int, str, int, bool]], int, int]:
    """(bindings, used codes, audit rows): what a refused request must leave untouched."""
    async with create_session_factory(engine)() as s:
        bindings = (await s.scalars(select(ChatBinding).order_by(ChatBinding.id))).all()
        used = await s.scalar(select(func.count()).where(LinkCode.used_at.is_not(None)))
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
    rows = [(b.chat_id, b.target_type, b.target_id, b.active) for b in bindings]
    return rows, int(used or 0), int(audits or 0)


def test_codes_are_short_typeable_and_normalise() -> None:
    codes = {linking.new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 9 and code[4] == "-"
        raw = linking.normalize_code(code)
        assert raw is not None
        assert linking.normalize_code(f" {code.lower().replace('-', ' ')} ") == raw
    assert linking.normalize_code("ABCD-EFG0") is None  # 0 is not in the alphabet
    assert linking.normalize_code("ABCD") is None


@given(st.text(max_size=20))
def test_normalize_never_accepts_foreign_characters(text: str) -> None:
    raw = linking.normalize_code(text)
    assert raw is None or (len(raw) == 8 and set(raw) <= set(linking.CODE_ALPHABET))


async def test_secretary_links_their_branch_and_code_is_one_time(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    code = await _issue(engine, o.SEC1, TargetType.BRANCH, org.b1)
    async with create_session_factory(engine)() as s:
        stored = (await s.scalars(select(LinkCode))).one()
    # Only the hash is stored, and it expires in 24 hours.
    assert stored.code_hash == linking.code_hash(linking.normalize_code(code) or "")
    assert code.replace("-", "") not in stored.code_hash
    assert stored.expires_at == NOW + timedelta(hours=24)

    outcome = await _link(engine, code.lower(), o.SEC1)
    assert outcome.target.label == "Chi bộ thôn Một" and outcome.moved_from_chat is None
    bindings, used, _ = await _state(engine)
    assert bindings == [(GROUP.id, "branch", org.b1, True)]
    assert used == 1
    with pytest.raises(Refused) as err:
        await _link(engine, code, o.SEC1, ChatInfo(-1002, "group", "Khác"))
    assert err.value.key == "link.code_used"
    async with create_session_factory(engine)() as s:
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["link_code.issue", "chat.link"]


async def test_relinking_moves_the_branch_to_the_new_chat(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC1, "branch", org.b1), o.SEC1)
    new_chat = ChatInfo(-1002, "supergroup", "Nhóm mới")
    outcome = await _link(engine, await _issue(engine, o.DEP1, "branch", org.b1), o.DEP1, new_chat)
    assert outcome.moved_from_chat == GROUP.title
    bindings, _, _ = await _state(engine)
    assert bindings == [(GROUP.id, "branch", org.b1, False), (new_chat.id, "branch", org.b1, True)]


async def test_same_target_again_changes_nothing(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC1, "branch", org.b1), o.SEC1)
    code = await _issue(engine, o.SEC1, "branch", org.b1)
    before = await _state(engine)
    outcome = await _link(engine, code, o.SEC1)
    assert outcome.already
    assert await _state(engine) == before


@pytest.mark.parametrize(
    ("case", "key"),
    [
        ("unknown", "link.code_unknown"),
        ("mistyped", "link.code_unknown"),
        ("expired", "link.code_expired"),
        ("not_admin", "link.not_chat_admin"),
        ("private", "link.not_group"),
        ("bound_elsewhere", "link.chat_bound_elsewhere"),
    ],
)
async def test_bad_link_requests_change_nothing(engine: AsyncEngine, case: str, key: str) -> None:
    org = await o.build_org(engine)
    # The group is bound to branch 3 by its secretary; secretary 1 holds a valid code.
    await _link(engine, await _issue(engine, o.SEC3, "branch", org.b3), o.SEC3)
    code = await _issue(engine, o.SEC1, "branch", org.b1)
    kwargs: dict[str, object] = {"chat": ChatInfo(-2000, "group", "Trống")}
    if case == "unknown":
        code = "ABCD-EFGH"
    elif case == "mistyped":
        code = code[:-1] + ("A" if code[-1] != "A" else "B")
    elif case == "expired":
        kwargs["now"] = NOW + timedelta(hours=24)
    elif case == "not_admin":
        kwargs["admin"] = False
    elif case == "private":
        kwargs["chat"] = ChatInfo(o.SEC1, "private", "")
    elif case == "bound_elsewhere":
        kwargs["chat"] = GROUP
    before = await _state(engine)
    if case in ("unknown", "mistyped"):  # counted against the chat and person, not raised
        wrong = await _attempt(engine, code, o.SEC1, **kwargs)  # type: ignore[arg-type]
        assert isinstance(wrong, linking.WrongCode) and wrong.key == key
    else:
        with pytest.raises(Refused) as err:
            await _link(engine, code, o.SEC1, **kwargs)
        assert err.value.key == key
    assert await _state(engine) == before
    if case == "bound_elsewhere":
        assert err.value.params == {"target": "Chi bộ tổ dân phố Ba"}


async def test_admin_may_repoint_a_bound_group(engine: AsyncEngine) -> None:
    """A chat bound elsewhere is re-pointed when the sender may manage its current target."""
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC3, "branch", org.b3), o.SEC3)
    outcome = await _link(engine, await _issue(engine, o.ADMIN, "unit", org.u2), o.ADMIN)
    assert outcome.replaced_target == "Chi bộ tổ dân phố Ba"
    bindings, _, _ = await _state(engine)
    assert bindings == [(GROUP.id, "branch", org.b3, False), (GROUP.id, "unit", org.u2, True)]


async def test_codes_only_for_targets_the_person_may_link(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    cases = [
        (o.MEM1, "branch", org.b1, "policy.needs_secretary"),
        (o.SEC1, "branch", org.b2, "policy.not_your_branch"),  # forged id of another branch
        (o.SEC_OTHER, "branch", org.b1, "policy.other_district"),
        (o.SEC1, "committee", org.district, "policy.needs_admin"),
        (o.WG_MEMBER, "working_group", org.wg, "policy.needs_group_leader"),
        (o.SEC1, "branch", 99999, "linkcode.unknown_target"),
        (o.ADMIN, "committee", org.u1, "linkcode.unknown_target"),  # a unit is no committee
    ]
    for who, ttype, tid, key in cases:
        with pytest.raises(Refused) as err:
            await _issue(engine, who, ttype, tid)
        assert err.value.key == key, (who, ttype, tid)
    assert (await _state(engine))[2] == 0
    # Allowed: the group's leader, admins for units and the committee.
    await _issue(engine, o.WG_LEADER, "working_group", org.wg)
    await _issue(engine, o.ADMIN, "committee", org.district)


async def test_bot_removed_unbinds_and_tells_admins(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC1, "branch", org.b1), o.SEC1)
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        told = await linking.bot_removed(
            s, chat_id=GROUP.id, kicked=True, actor_id=o.SEC1, now=NOW, i18n=I18N
        )
        assert told == [o.ADMIN]
    bindings, _, _ = await _state(engine)
    assert bindings == [(GROUP.id, "branch", org.b1, False)]
    async with factory() as s:
        entry = (await s.scalars(select(OutboxEntry))).one()
        binding = (await s.scalars(select(ChatBinding))).one()
    assert entry.chat_id == o.ADMIN
    assert "Chi bộ thôn Một" in (entry.text or "")
    assert binding.unbound_reason == "bot_kicked"
    # Removing the bot from an unbound chat is a no-op.
    async with factory() as s, s.begin():
        assert (
            await linking.bot_removed(
                s, chat_id=-5, kicked=False, actor_id=None, now=NOW, i18n=I18N
            )
            == []
        )


async def test_supergroup_migration_keeps_the_binding(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC1, "branch", org.b1), o.SEC1)
    factory = create_session_factory(engine)
    for _ in range(2):  # both service messages (old and new chat) arrive: idempotent
        async with factory() as s, s.begin():
            await linking.chat_migrated(s, old_chat_id=GROUP.id, new_chat_id=-100777, now=NOW)
    bindings, _, _ = await _state(engine)
    assert bindings == [(-100777, "branch", org.b1, True)]
    async with factory() as s:
        info = await linking.binding_of(s, -100777)
    assert info is not None and info.target.id == org.b1


async def test_guessed_link_codes_are_slowed_then_locked_out(engine: AsyncEngine) -> None:
    """Wrong codes count against the chat and the person before Telegram is asked anything;
    five lock /link (the right code too) for 30 minutes, and the admins are told once."""
    org = await o.build_org(engine)
    code = await _issue(engine, o.SEC1, "branch", org.b1)
    clock = FakeClock(NOW)
    admin = ChatAdmin()
    wrong = ["ABCD-EFG" + c for c in "HJKMNPQ"]
    outcomes = []
    for guess in wrong[:3]:
        outcomes.append(await _attempt(engine, guess, o.SEC1, admin=admin, now=clock.now()))
    assert {o_.key for o_ in outcomes if isinstance(o_, linking.WrongCode)} == {"link.code_unknown"}
    # Slowed: the fourth try right away is refused without being counted.
    with pytest.raises(Refused) as err:
        await _attempt(engine, wrong[3], o.SEC1, admin=admin, now=clock.now())
    assert err.value.key == "link.slow_down"
    clock.move(seconds=link_guard.SLOW_GAP.total_seconds())
    assert isinstance(await _attempt(engine, wrong[3], o.SEC1, now=clock.now()), linking.WrongCode)
    clock.move(seconds=link_guard.SLOW_GAP.total_seconds())
    locked = await _attempt(engine, wrong[4], o.SEC1, admin=admin, now=clock.now())
    assert isinstance(locked, linking.WrongCode) and locked.key == "link.locked"
    # Locked: the right code too, from the same chat or from the same person elsewhere.
    for chat, who in (
        (GROUP, o.SEC1),
        (GROUP, o.ADMIN),
        (ChatInfo(-3000, "group", "Khác"), o.SEC1),
    ):
        with pytest.raises(Refused) as err:
            await _attempt(engine, code, who, chat, admin=admin, now=clock.now())
        assert err.value.key == "link.locked", (chat, who)
    assert admin.asked == 0  # Telegram was never asked
    assert (await _state(engine))[0] == []
    # After the lock, the right code works again.
    clock.move(minutes=31)
    outcome = await _link(engine, code, o.SEC1, admin=admin, now=clock.now())
    assert outcome.target.target.id == org.b1 and admin.asked == 1


async def test_link_lockout_tells_the_district_admins_once(engine: AsyncEngine) -> None:
    org = await o.build_org(engine)
    await _link(engine, await _issue(engine, o.SEC3, "branch", org.b3), o.SEC3)  # bound chat
    clock = FakeClock(NOW)
    for n in range(link_guard.MAX_FAILURES + 2):
        try:
            await _attempt(engine, f"ABCD-EFG{'HJKMNPQ'[n]}", o.STRANGER, now=clock.now())
        except Refused as refused:
            assert refused.key == "link.locked"
        clock.move(seconds=link_guard.SLOW_GAP.total_seconds())
    async with create_session_factory(engine)() as s:
        notices = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    # Two locks (the chat and the person), each told once to the district's one admin.
    locked_at = NOW + (link_guard.MAX_FAILURES - 1) * link_guard.SLOW_GAP
    params = {
        "chat": GROUP.title,
        "chat_id": GROUP.id,
        "person": o.STRANGER,
        "until": local_time(locked_at + link_guard.LOCK, VN_TZ),
    }
    assert [(n.chat_id, n.text) for n in notices] == [
        (o.ADMIN, I18N.t("link.admin_locked_chat", "vi", **params)),
        (o.ADMIN, I18N.t("link.admin_locked_person", "vi", **params)),
    ]


async def test_unbound_chat_lockout_tells_the_bootstrap_admins(engine: AsyncEngine) -> None:
    await o.build_org(engine)
    clock = FakeClock(NOW)
    for n in range(link_guard.MAX_FAILURES):
        outcome = await _attempt(
            engine, f"ABCD-EFG{'HJKMNPQ'[n]}", o.STRANGER, now=clock.now(), bootstrap=(BOOTSTRAP,)
        )
        clock.move(seconds=link_guard.SLOW_GAP.total_seconds())
    assert isinstance(outcome, linking.WrongCode) and outcome.key == "link.locked"
    async with create_session_factory(engine)() as s:
        notices = (await s.scalars(select(OutboxEntry))).all()
    assert [n.chat_id for n in notices] == [BOOTSTRAP, BOOTSTRAP]
