"""Link codes and chat bindings: one-time codes, checks before writes, moves, removal, migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import create_i18n
from bot.services import linking
from bot.services.linking import ChatInfo
from bot.services.policy import Refused, load_actor
from storage.db import create_session_factory
from storage.models import AuditLog, ChatBinding, LinkCode, OutboxEntry
from storage.models.org import TargetType
from tests import orgdata as o

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
GROUP = ChatInfo(-1001, "group", "Chi bộ thôn Một")


async def _issue(engine: AsyncEngine, who: int, ttype: str, tid: int, now: datetime = NOW) -> str:
    async with create_session_factory(engine)() as s, s.begin():
        actor = await load_actor(s, who)
        return (await linking.issue_code(s, actor, ttype, tid, now)).code


async def _link(
    engine: AsyncEngine,
    code: str,
    who: int,
    chat: ChatInfo = GROUP,
    *,
    admin: bool = True,
    now: datetime = NOW,
    bootstrap: tuple[int, ...] = (),
) -> linking.LinkOutcome:
    async with create_session_factory(engine)() as s, s.begin():
        actor = await load_actor(s, who, bootstrap)
        return await linking.link_chat(
            s, code=code, chat=chat, sender=actor, sender_is_chat_admin=admin, now=now
        )


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
    with pytest.raises(Refused) as err:
        await _link(engine, code, o.SEC1, **kwargs)  # type: ignore[arg-type]
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
    i18n = create_i18n("vi")
    factory = create_session_factory(engine)
    async with factory() as s, s.begin():
        outcome = await linking.bot_left(
            s, chat_id=GROUP.id, reason="bot_kicked", actor_id=o.SEC1, now=NOW
        )
        assert outcome is not None and outcome.admin_ids == (o.ADMIN,)
        assert await linking.notify_unbound(s, outcome, i18n) == [o.ADMIN]
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
        assert await linking.bot_left(s, chat_id=-5, reason="x", actor_id=None, now=NOW) is None


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
