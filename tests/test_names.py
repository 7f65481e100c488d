"""People are named as the organisation writes them (family name first), not by the Telegram
account's first and last name, wherever the member lists know them."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import meetings as svc
from bot.services.access import admins
from bot.services.access.policy import load_actor
from bot.services.vn_names import telegram_full_name
from storage.models import Member, OutboxEntry, TelegramUser
from tests.helpers import local
from tests.orgdata import ADMIN, MEM1, SEC1, meeting_world

GROUP = -100777
URL = "https://t.me/b?start=mtg"


async def test_class16_names_private_chat_hint_uses_the_organisations_full_name(
    engine: AsyncEngine,
) -> None:
    # Telegram's order ("Viên Lê Văn") is not how the branch writes the member ("Lê Văn Viên").
    w = await meeting_world(engine, GROUP, [TelegramUser(id=MEM1, first_name="Viên")])
    async with w.factory() as s, s.begin():
        actor = await load_actor(s, SEC1)
        when = local(2026, 12, 3, 19, 30)
        res = await svc.schedule_meeting(s, actor, w.ctx, w.org.b1, kind="regular", starts_at=when)
    async with w.factory() as s, s.begin():
        assert await svc.private_chat_hint(s, w.ctx, res.meeting.id, MEM1, "Viên Lê Văn", URL)
    async with w.factory() as s:
        rows = (await s.scalars(select(OutboxEntry))).all()
    hint = next(r.text or "" for r in rows if r.dedupe_key and "pchat" in r.dedupe_key)
    assert hint == w.ctx.i18n.t("mtg.hint.private_chat", "vi", name="Lê Văn Viên", url=URL)


async def test_class16_names_admin_list_uses_the_member_name_when_known(
    engine: AsyncEngine,
) -> None:
    w = await meeting_world(
        engine,
        GROUP,
        [TelegramUser(id=ADMIN, first_name="Bí", last_name="Nguyễn Văn", username="bi")],
    )
    async with w.factory() as s, s.begin():
        # The committee's admin is also a member of B01 in the member lists.
        await s.execute(update(Member).where(Member.code == "M5").values(telegram_id=ADMIN))
    async with w.factory() as s:
        listed = await admins.list_admins(s, await load_actor(s, ADMIN), w.org.district)
    assert [r.label for r in listed.admins] == ["Hoàng Văn Năm @bi"]


async def test_class16_names_admin_list_writes_an_unknown_account_family_name_first(
    engine: AsyncEngine,
) -> None:
    # Telegram's parts of a Vietnamese account: the given name first, the family name last.
    w = await meeting_world(
        engine,
        GROUP,
        [TelegramUser(id=ADMIN, first_name="Giang", last_name="Phan Hữu", username="giang")],
    )
    async with w.factory() as s:
        listed = await admins.list_admins(s, await load_actor(s, ADMIN), w.org.district)
    assert [r.label for r in listed.admins] == ["Phan Hữu Giang @giang"]


def test_class16_names_telegram_full_name_puts_the_family_name_first() -> None:
    assert telegram_full_name("Giang", "Phan Hữu") == "Phan Hữu Giang"
    assert telegram_full_name("Giang", None) == "Giang"
    assert telegram_full_name("Giang", " ") == "Giang"
