"""The feedback tests' world, on top of the roster world (dan-phuong in the bot's database, its
working groups on Telegram, the clock at 2026-12-22 09:00, ticking): one village branch of a
commune with its secretary, deputy and members on Telegram and its group chat linked, the
commune committee's group linked to the unit, the district committee's group linked to the
committee, one committee admin, and a secretary of a branch elsewhere (the outsider).

People act only through Telegram updates (`ask`, `press`); the database is read to find the
items, events and outbox rows a step left, and to take the "nothing changed" snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bot.buttons.feedback import CardAct, CardCb, ReplyAct, ReplyCb
from bot.services.access.policy import load_actor
from bot.services.feedback.common import item_number
from bot.services.feedback.items import NewItem, raise_item
from storage.models import (
    AuditLog,
    Branch,
    ChatBinding,
    CommitteeAdmin,
    FeedbackEvent,
    FeedbackFile,
    FeedbackItem,
    FsmState,
    HeardProposal,
    Member,
    TelegramUser,
    Unit,
)
from storage.models.outbox import OutboxEntry
from tests.e2e.rosters_world import Msg, RosterWorld, plain
from tests.helpers import buttons

BRANCH, UNIT, DISTRICT = "D01U02B01", "D01U02", "D01"  # Thôn 1, xã Đan Phượng, the district
NEIGHBOUR = "D01U02B02"  # a branch of the same commune: its secretary sits in the unit's group
OFFICE = "D01X000"  # the committee office's branch: its secretary sits in the district's group
ELSEWHERE = "D01U03B01"  # a branch of another commune
BRANCH_CHAT, UNIT_CHAT, DISTRICT_CHAT = -1_001_300_001, -1_001_300_002, -1_001_300_003
ADMIN = 8_950_001
NEWCOMER = 8_950_002  # in the commune's group, never started the bot
# The smallest valid PNG (the sandbox checks a photo is an image).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e5273ea40000000049454e44ae426082"
)


@dataclass
class FbWorld:
    w: RosterWorld
    branch_id: int
    unit_id: int
    district_id: int
    member: int  # a plain member of the branch (Telegram id)
    member2: int  # another one
    secretary: int
    deputy: int
    unit_cadre: int  # in the commune's group (the neighbouring branch's secretary)
    district_cadre: int  # in the district's group (the office branch's secretary)
    admin: int
    outsider: int  # the secretary of a branch of another commune

    @property
    def env(self) -> Any:
        return self.w.env

    def t(self, key: str, /, **params: Any) -> str:
        return self.w.t(key, **params)

    def refused(self, key: str, /, **params: Any) -> str:
        return self.w.refused(key, **params)

    # Talking ---------------------------------------------------------------------------------

    async def say(self, who: int, text: str, contains: str = "") -> Msg:
        """`text` typed in private; the bot's next private message containing `contains`."""
        msg: Msg = await self.env.ask(
            who, text, predicate=lambda m: contains in plain(m.get("html") or m.get("text") or "")
        )
        return msg

    async def press(self, who: int, msg: Msg, data: str, *, strict: bool = True) -> dict[str, Any]:
        """A press, its answer, and everything it caused handled and sent."""
        answer: dict[str, Any] = await self.env.press(who, msg, data, strict=strict)
        await self.w.delivered()
        return answer

    async def tap(self, who: int, msg: Msg, text: str) -> Msg:
        """Tap the button whose text starts with `text`; the same message once edited."""
        before = msg.get("edit_date"), msg.get("text"), msg.get("reply_markup")
        data = next(b["callback_data"] for b in buttons(msg) if b["text"].startswith(text))
        answer = await self.env.press(who, msg, data)
        assert answer.get("show_alert") is not True, answer

        def edited(m: Msg) -> bool:
            now = m.get("edit_date"), m.get("text"), m.get("reply_markup")
            return m["message_id"] == msg["message_id"] and now != before

        found: Msg = await self.env.world.wait_for_bot_message(msg["chat"]["id"], edited)
        return found

    def last(self, chat: int, pred: Callable[[Msg], bool] = lambda m: True) -> Msg:
        """The bot's latest message in `chat` matching `pred` (as it is now, edits included)."""
        found = [m for m in self.env.world.bot_messages(chat) if pred(m)]
        assert found, f"nothing in {chat}"
        return found[-1]

    def card(self, chat: int, item_id: int) -> Msg:
        """The newest card of the item in `chat` (a message with its level buttons)."""
        return self.last(chat, lambda m: _has(m, CardCb, item_id))

    def reply_msg(self, chat: int, item_id: int) -> Msg:
        """The newest answer or question the submitter got, with its buttons."""
        return self.last(chat, lambda m: _has(m, ReplyCb, item_id))

    def cards(self, chat: int, item_id: int) -> list[Msg]:
        return [m for m in self.env.world.bot_messages(chat) if _has(m, CardCb, item_id)]

    def targets(self, chat: int) -> Msg:
        """The newest list of forward targets in `chat`."""
        return self.last(chat, lambda m: any(_data(b).startswith("fbf:") for b in buttons(m)))

    # Acting ----------------------------------------------------------------------------------

    @property
    def category_screen(self) -> str:
        """How the /feedback category screen starts."""
        return self.t("fbui.raise.category", branch="").split("—")[0]

    async def wizard(
        self, who: int, text: str, *, photo: bool = False, as_branch: bool | None = None
    ) -> FeedbackItem:
        """/feedback → "Hạ tầng" → the text → (a photo) → Xong → (whose name) → Gửi."""
        screen = await self.say(who, "/feedback", self.category_screen)
        screen = await self.tap(who, screen, "Hạ tầng")
        files = await self.say(who, text, self.t("fbui.raise.files", max=10))
        if photo:
            after = self.env.last_bot_id(who)
            self.env.world.upload_photo(who, None, PNG)
            files = await self.env.world.wait_for_bot_message(
                who, lambda m: "(1/10)" in (m.get("text") or ""), after=after
            )
        check = await self.tap(who, files, self.t("fbui.raise.files_done"))
        if as_branch is not None:
            assert check["text"] == self.t("fbui.raise.as")
            key = "fbui.raise.as_branch" if as_branch else "fbui.raise.as_self"
            check = await self.tap(who, check, self.t(key))
        assert self.t("fbui.raise.check") in check["text"] and text in check["text"]
        before = {i.id for i in await self.items()}
        sent = await self.tap(who, check, self.t("fbui.raise.send"))
        await self.w.delivered()
        (new,) = [i for i in await self.items() if i.id not in before]
        assert sent["text"] == self.t(f"fbui.raise.sent_{new.level_type}", number=number(new))
        return new

    async def raised(self, who: int, text: str, *, on_behalf: bool = False) -> FeedbackItem:
        """An item raised through the service (a test's starting point), its card delivered."""
        async with self.env.app.session_factory() as s, s.begin():
            actor = await load_actor(s, who)
            new = NewItem(self.branch_id, "infra", text, on_behalf=on_behalf)
            item = await raise_item(s, self.w.ctx, actor, new)
        await self.w.delivered()
        return await self.item(item.id)

    async def typed(self, who: int, text: str, done_key: str, item: FeedbackItem) -> None:
        """The prompt is in `who`'s private chat: type the text; the bot says it is done."""
        await self.say(who, text, self.t(done_key, item=number(item)))
        await self.w.delivered()

    # The database ----------------------------------------------------------------------------

    async def items(self) -> list[FeedbackItem]:
        async with self.env.app.session_factory() as s:
            return list(await s.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))

    async def item(self, item_id: int) -> FeedbackItem:
        async with self.env.app.session_factory() as s:
            found = await s.get(FeedbackItem, item_id)
        assert found is not None
        return found

    async def actions(self, item_id: int) -> list[str]:
        async with self.env.app.session_factory() as s:
            rows = await s.scalars(
                select(FeedbackEvent.action)
                .where(FeedbackEvent.item_id == item_id)
                .order_by(FeedbackEvent.id)
            )
            return list(rows)

    async def files(self, item_id: int) -> list[FeedbackFile]:
        async with self.env.app.session_factory() as s:
            rows = await s.scalars(select(FeedbackFile).where(FeedbackFile.item_id == item_id))
            return list(rows)

    async def snapshot(self) -> dict[str, Any]:
        """Every item, event, file, heard proposal, audit row and outbox row: what a refused
        input leaves alone (the conversation states are compared separately)."""
        await self.env.settle()
        async with self.env.app.session_factory() as s:
            items = [
                (i.id, i.status, i.level_type, i.level_id, i.version, i.reopened, i.answer)
                for i in await s.scalars(select(FeedbackItem).order_by(FeedbackItem.id))
            ]
            counts = {
                model.__tablename__: int(
                    await s.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (FeedbackEvent, FeedbackFile, AuditLog, OutboxEntry)
            }
            heard = [
                (h.id, h.feedback_id)
                for h in await s.scalars(select(HeardProposal).order_by(HeardProposal.id))
            ]
        return {"items": items, "counts": counts, "heard": heard}

    async def fsm_states(self) -> list[tuple[str, str | None]]:
        async with self.env.app.session_factory() as s:
            rows = await s.execute(select(FsmState.key, FsmState.state).order_by(FsmState.key))
            return [(k, v) for k, v in rows]


def number(item: FeedbackItem) -> str:
    return item_number(item.year, item.number)


def _data(b: dict[str, Any]) -> str:
    return str(b.get("callback_data") or "")


def card_button(msg: Msg, act: CardAct) -> str:
    """The data of a card's button."""
    return next(
        _data(b)
        for b in buttons(msg)
        if _data(b).startswith("fbc:") and CardCb.unpack(_data(b)).a is act
    )


def reply_button(msg: Msg, act: ReplyAct) -> str:
    """The data of a button under the answer or question the submitter got."""
    return next(
        _data(b)
        for b in buttons(msg)
        if _data(b).startswith("fbr:") and ReplyCb.unpack(_data(b)).a is act
    )


def _has(msg: Msg, cb: Any, item_id: int) -> bool:
    for b in buttons(msg):
        data = b.get("callback_data") or ""
        if data.startswith(cb.__prefix__ + ":") and cb.unpack(data).item_id == item_id:
            return True
    return False


async def _member(s: Any, branch_id: int, role: str, n: int = 0) -> Member:
    rows = await s.scalars(
        select(Member)
        .where(Member.branch_id == branch_id, Member.role == role, Member.active)
        .where(Member.telegram_id.is_not(None))
        .order_by(Member.code)
    )
    return list(rows)[n]  # type: ignore[no-any-return]


async def feedback_world(w: RosterWorld, *, fresh: bool = True) -> FbWorld:
    """The people, chats and links above, on the running bot of `w`; `fresh=False` finds them
    again after a restart (the database and the sandbox keep them)."""
    env = w.env
    async with env.app.session_factory() as s, s.begin():
        ids = {
            b.code: b
            for b in await s.scalars(
                select(Branch).where(Branch.code.in_([BRANCH, NEIGHBOUR, OFFICE, ELSEWHERE]))
            )
        }
        unit = await s.scalar(select(Unit).where(Unit.code == UNIT))
        district = await s.scalar(select(Unit).where(Unit.code == DISTRICT))
        assert unit is not None and district is not None
        branch = ids[BRANCH]
        people = {
            "member": await _member(s, branch.id, "member", 0),
            "member2": await _member(s, branch.id, "member", 1),
            "secretary": await _member(s, branch.id, "secretary"),
            "deputy": await _member(s, branch.id, "deputy_secretary"),
            "unit_cadre": await _member(s, ids[NEIGHBOUR].id, "secretary"),
            "district_cadre": await _member(s, ids[OFFICE].id, "secretary"),
            "outsider": await _member(s, ids[ELSEWHERE].id, "secretary"),
        }
        tg = {k: int(m.telegram_id or 0) for k, m in people.items()}
        if fresh:
            await _link(s, people, tg, branch.id, unit.id, district.id)
    world = FbWorld(w, branch.id, unit.id, district.id, admin=ADMIN, **tg)  # type: ignore[arg-type]
    if not fresh:
        return world
    for k, m in people.items():
        env.user(tg[k], m.full_name.split()[-1], "vi", started=True)
    env.user(ADMIN, "Quản", "vi", started=True)
    in_branch = {tg["secretary"]: "creator", tg["deputy"]: "member", tg["member"]: "member"}
    env.world.create_group(BRANCH_CHAT, branch.name, in_branch, bot_status="member")
    env.user(NEWCOMER, "Mới", "vi", started=False)
    in_unit = {tg["unit_cadre"]: "creator", ADMIN: "member", NEWCOMER: "member"}
    env.world.create_group(UNIT_CHAT, unit.name, in_unit, bot_status="member")
    in_district = {tg["district_cadre"]: "creator", ADMIN: "member"}
    env.world.create_group(DISTRICT_CHAT, district.name, in_district, bot_status="member")
    return world


async def _link(
    s: Any, people: dict[str, Member], tg: dict[str, int], branch: int, unit: int, district: int
) -> None:
    """Accounts for the people, the admin, and the three chats bound."""
    known = set(await s.scalars(select(TelegramUser.id).where(TelegramUser.id.in_(tg.values()))))
    for k, m in people.items():
        if tg[k] not in known:
            s.add(TelegramUser(id=tg[k], first_name=m.full_name.split()[-1]))
    s.add(TelegramUser(id=ADMIN, first_name="Quản"))
    s.add(CommitteeAdmin(district_id=district, telegram_id=ADMIN))
    for chat, target, target_id in (
        (BRANCH_CHAT, "branch", branch),
        (UNIT_CHAT, "unit", unit),
        (DISTRICT_CHAT, "committee", district),
    ):
        s.add(
            ChatBinding(chat_id=chat, target_type=target, target_id=target_id, district_id=district)
        )
