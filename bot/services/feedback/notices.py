"""Everything the feedback feature tells people, queued in the acting transaction.

Each message's dedupe key names the item, the event that caused it and the chat, so a retried
use case or a job run twice queues nothing new. Private messages go only to people who have a
private chat with the bot, each in their own language; group chats read the default language.

Where a level's card goes: its linked group chat; with no chat, the district's committee
admins in private; a branch level's card goes to the branch's secretary and deputies (the
admins only when none of them can be written to).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.feedback import ReplyAct
from bot.i18n import pick_locale
from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback import presentation as p
from bot.services.feedback.common import DEFAULT_CONFIG, FeedbackConfig
from bot.services.feedback.levels import Level
from bot.services.feedback.views import build_view
from storage.models import FeedbackEvent, FeedbackItem
from storage.models.feedback import LevelType, RaisedAs
from storage.repositories.feedback import FeedbackRepository
from storage.repositories.recipients import RecipientRepository

ORIGIN = "feedback"
KIND = OutboxKind.ANSWER  # people wait for these: retried for a day


async def reachable(session: AsyncSession, telegram_ids: Iterable[int | None]) -> list[int]:
    """The accounts the bot can write to in private, in the order given, once each."""
    wanted = list(dict.fromkeys(t for t in telegram_ids if t))
    ok = await RecipientRepository(session).reachable_telegram_ids(wanted)
    return [t for t in wanted if t in ok]


async def level_people(session: AsyncSession, level: Level, item: FeedbackItem) -> list[int]:
    """Who gets a level's card in private when the level has no chat: a branch's secretary and
    deputies, else (and for every other level) the district's admins, with a unit's own
    commune admins for a unit's level."""
    repo = FeedbackRepository(session)
    if level.type is LevelType.BRANCH:
        leaders = await repo.branch_leaders(level.id)
        people = await reachable(session, (m.telegram_id for m in leaders))
        if people:
            return people
    unit = level.id if level.type is LevelType.UNIT else None
    return await reachable(session, await repo.admin_ids(item.district_id, unit))


class FeedbackNotices:
    def __init__(
        self, session: AsyncSession, ctx: ServiceContext, config: FeedbackConfig = DEFAULT_CONFIG
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.config = config
        self.repo = FeedbackRepository(session)
        self.recipients = RecipientRepository(session)
        self.queued = 0

    # Plumbing --------------------------------------------------------------------------------

    async def reachable(self, telegram_ids: Iterable[int | None]) -> list[int]:
        return await reachable(self.session, telegram_ids)

    async def locales_of(self, chat_ids: Iterable[int]) -> dict[int, str]:
        chats = set(chat_ids)
        default = self.ctx.default_locale
        langs = await self.recipients.languages(c for c in chats if c > 0)
        return {c: pick_locale(*langs[c], default) if c in langs else default for c in chats}

    async def send(
        self,
        chat_id: int,
        *,
        key: str,
        item: FeedbackItem,
        text: str | None = None,
        markup: dict[str, Any] | None = None,
        photo: str | None = None,
        document: str | None = None,
        caption: str | None = None,
    ) -> int | None:
        entry = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=chat_id,
                kind=KIND,
                text=None if text is None else p.clip(text, p.TEXT_LIMIT),
                photo=photo,
                document=document,
                caption=caption,
                reply_markup=markup,
                dedupe_key=key,
                origin_type=ORIGIN,
                origin_id=item.id,
            ),
            clock=self.ctx.clock,
        )
        self.queued += entry is not None
        return entry

    @staticmethod
    def key(item: FeedbackItem, event: FeedbackEvent, tag: str, chat_id: int) -> str:
        return f"fb:{item.id}:e{event.id}:{tag}:{chat_id}"

    # Who reads what --------------------------------------------------------------------------

    async def level_people(self, level: Level, item: FeedbackItem) -> list[int]:
        return await level_people(self.session, level, item)

    async def submitter_chats(self, item: FeedbackItem, *, with_leaders: bool = False) -> list[int]:
        """The submitter in private; `with_leaders` adds the branch's secretary and deputies
        for an item raised on the branch's behalf (they may answer for it)."""
        ids: list[int | None] = [item.raised_by_tg]
        if with_leaders and item.raised_as != RaisedAs.MEMBER:
            ids += [m.telegram_id for m in await self.repo.branch_leaders(item.branch_id)]
        return await self.reachable(ids)

    # The level's card ------------------------------------------------------------------------

    async def to_level(
        self,
        item: FeedbackItem,
        level: Level,
        event: FeedbackEvent,
        headline_key: str,
        *,
        with_files: bool = False,
        **params: Any,
    ) -> int:
        """The item's card with its buttons (and, on arrival, its files) where the level reads:
        its chat, else its people in private. Returns how many places it went to."""
        view = await build_view(self.session, item)
        chats = (
            [level.chat_id] if level.chat_id is not None else await self.level_people(level, item)
        )
        locales = await self.locales_of(chats)
        i18n, now = self.ctx.i18n, self.ctx.now()
        for chat in chats:
            loc = locales[chat]
            headline = i18n.t(
                headline_key, loc, number=view.number, level=p.level_label(level), **params
            )
            text = p.card_text(i18n, loc, view, self.ctx.tz, now=now, headline=headline)
            entry = await self.send(
                chat,
                key=self.key(item, event, "card", chat),
                item=item,
                text=text,
                markup=p.card_markup(i18n, loc, view),
            )
            if entry is not None and chat == level.chat_id:
                await self.repo.save_card(item.id, chat, entry, item.version, now)
            if not with_files:
                continue
            caption = i18n.t("fb.file.caption", loc, number=view.number)
            for i, f in enumerate(view.files):
                await self.send(
                    chat,
                    key=self.key(item, event, f"file{i}", chat),
                    item=item,
                    photo=f.file_id if f.kind == "photo" else None,
                    document=f.file_id if f.kind != "photo" else None,
                    caption=caption,
                )
        return len(chats)

    async def to_person(
        self,
        chat_ids: Sequence[int],
        item: FeedbackItem,
        event: FeedbackEvent,
        tag: str,
        key: str,
        *,
        markup_for: Callable[[str], dict[str, Any]] | None = None,
        **params: Any,
    ) -> int:
        """A catalog text to each chat in private, in each reader's language."""
        locales = await self.locales_of(chat_ids)
        sent = 0
        for chat in chat_ids:
            loc = locales[chat]
            text = self.ctx.i18n.t(key, loc, number=p.number_of(item), **params)
            markup = markup_for(loc) if markup_for is not None else None
            sent += (
                await self.send(
                    chat, key=self.key(item, event, tag, chat), item=item, text=text, markup=markup
                )
                is not None
            )
        return sent

    # The acts --------------------------------------------------------------------------------

    async def arrived(self, item: FeedbackItem, level: Level, event: FeedbackEvent) -> None:
        await self.to_level(item, level, event, "fb.headline.new", with_files=True)

    async def moved(
        self, item: FeedbackItem, level: Level, event: FeedbackEvent, actor: Actor
    ) -> None:
        """The item at its new level, and its submitter told where it went."""
        await self.to_level(item, level, event, "fb.headline.forwarded", with_files=True)
        chats = [c for c in await self.submitter_chats(item) if c != actor.telegram_id]
        await self.to_person(
            chats, item, event, "moved", "fb.notice.moved", level=p.level_label(level)
        )

    async def asked(self, item: FeedbackItem, level: Level, event: FeedbackEvent) -> int:
        chats = await self.submitter_chats(item, with_leaders=True)
        return await self.to_person(
            chats,
            item,
            event,
            "asked",
            "fb.notice.asked",
            markup_for=lambda loc: p.reply_markup(self.ctx.i18n, loc, item, [ReplyAct.INFO]),
            level=p.level_label(level),
            question=p.esc(item.question),
        )

    async def to_holder(
        self,
        item: FeedbackItem,
        level: Level,
        event: FeedbackEvent,
        keys: tuple[str, str],
        holder: int | None,
        **params: Any,
    ) -> None:
        """A fresh card at the level (the old one's buttons are out of date) under the headline
        `keys[0]`, and the person who handled the item told in private (`keys[1]`) when the
        card does not reach them there."""
        await self.to_level(item, level, event, keys[0], **params)
        if holder is None or (
            level.chat_id is None and holder in await self.level_people(level, item)
        ):
            return
        chats = await self.reachable([holder])
        await self.to_person(
            chats, item, event, "holder", keys[1], level=p.level_label(level), **params
        )

    async def answered(
        self, item: FeedbackItem, level: Level, event: FeedbackEvent, actor: Actor
    ) -> None:
        """The answer to the submitter, with accept / reopen, and to the branch's group unless
        the item is private."""
        i18n = self.ctx.i18n
        acts = list(p.answer_acts(item, self.config))
        chats = [c for c in await self.submitter_chats(item) if c != actor.telegram_id]
        await self.to_person(
            chats,
            item,
            event,
            "answer",
            "fb.notice.answered",
            markup_for=lambda loc: p.reply_markup(i18n, loc, item, acts),
            level=p.level_label(level),
            text=p.esc(item.text, 600),
            answer=p.esc(item.answer, 2500),
        )
        if item.private:
            return
        group = await self.recipients.branch_chat(item.branch_id)
        if group is None:
            return
        loc = self.ctx.default_locale
        text = i18n.t(
            "fb.notice.answered_group",
            loc,
            number=p.number_of(item),
            level=p.level_label(level),
            text=p.esc(item.text, 600),
            answer=p.esc(item.answer, 2500),
        )
        await self.send(group, key=self.key(item, event, "group", group), item=item, text=text)

    async def ended(
        self, item: FeedbackItem, level: Level, event: FeedbackEvent, actor: Actor | None, key: str
    ) -> None:
        """Closed, rejected or closed by the system: the submitter told why."""
        me = actor.telegram_id if actor is not None else None
        chats = [c for c in await self.submitter_chats(item) if c != me]
        await self.to_person(
            chats,
            item,
            event,
            event.action,
            key,
            level=p.level_label(level),
            reason=p.esc(item.close_reason or ""),
        )
