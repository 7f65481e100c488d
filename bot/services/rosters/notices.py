"""Everything the roster feature tells people, queued in the caller's transaction.

Each message has a dedupe key naming the roster (or visit) and its version, so a retried use
case or a job run twice queues nothing new. Private messages go only to people who have a
private chat with the bot; the group reads the default language, each person their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.rosters import ConfirmCb, RosterAct, RosterCb
from bot.i18n import pick_locale
from bot.outbox import OutboxKind, OutboxMessage, enqueue
from bot.services.context import ServiceContext
from bot.services.rosters import presentation as p
from bot.services.rosters.common import Quarter
from bot.services.rosters.files import XLSX_MIME, VisitRow, roster_workbook, visits_ics
from storage.models import Branch, Member, Roster, RosterVisit, WorkingGroup
from storage.repositories.recipients import RecipientRepository
from storage.repositories.rosters import RosterRepository

ORIGIN = "roster"
__all__ = ["XLSX_MIME", "RosterNotices"]


class RosterNotices:
    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.repo = RosterRepository(session)
        self.recipients = RecipientRepository(session)
        self.queued = 0

    async def locales_of(self, chat_ids: Iterable[int]) -> dict[int, str]:
        chats = set(chat_ids)
        default = self.ctx.default_locale
        langs = await self.recipients.languages(c for c in chats if c > 0)
        return {c: pick_locale(*langs[c], default) if c in langs else default for c in chats}

    async def reachable(self, members: Iterable[Member]) -> dict[int, int]:
        """member id -> telegram id, for members the bot can write to in private."""
        linked = {m.id: m.telegram_id for m in members if m.telegram_id}
        ok = await self.recipients.reachable_telegram_ids(linked.values())
        return {mid: tid for mid, tid in linked.items() if tid in ok}

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        key: str,
        markup: dict[str, Any] | None = None,
        origin_id: int | str | None = None,
        kind: OutboxKind = OutboxKind.ROSTER,
    ) -> bool:
        entry = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=chat_id,
                kind=kind,
                text=text[: p.TEXT_LIMIT],
                reply_markup=markup,
                dedupe_key=key,
                origin_type=ORIGIN,
                origin_id=origin_id,
            ),
            clock=self.ctx.clock,
        )
        self.queued += entry is not None
        return entry is not None

    async def upload(
        self, chat_id: int, name: str, data: bytes, caption: str, *, key: str, origin_id: int
    ) -> bool:
        entry = await enqueue(
            self.session,
            OutboxMessage(
                chat_id=chat_id,
                kind=OutboxKind.ROSTER,
                upload=(name, data),
                caption=caption[:1000],
                dedupe_key=key,
                origin_type=ORIGIN,
                origin_id=origin_id,
            ),
            clock=self.ctx.clock,
        )
        self.queued += entry is not None
        return entry is not None

    async def tell(
        self,
        member: Member | None,
        key: str,
        dedupe: str,
        *,
        markup_for: Any = None,
        origin_id: int | None = None,
        **params: Any,
    ) -> bool:
        """A catalog text to one member in private, in their language; False if unreachable.

        `markup_for(locale)` builds the buttons, so they are worded in the reader's language."""
        if member is None:
            return False
        chats = await self.reachable([member])
        chat_id = chats.get(member.id)
        if chat_id is None:
            return False
        locale = (await self.locales_of([chat_id]))[chat_id]
        text = self.ctx.i18n.t(key, locale, **params)
        markup = markup_for(locale) if markup_for is not None else None
        return await self.send(chat_id, text, key=dedupe, markup=markup, origin_id=origin_id)

    # Publication -----------------------------------------------------------------------------

    async def published(
        self,
        roster: Roster,
        group: WorkingGroup,
        visits: Sequence[RosterVisit],
        branches: Mapping[int, Branch],
        members: Mapping[int, Member],
    ) -> None:
        """The group's post with the .xlsx, and each visitor's own list with Xác nhận + .ics."""
        i18n, tz = self.ctx.i18n, self.ctx.tz
        quarter = Quarter(roster.year, roster.quarter)
        rows = p.visit_rows(visits, branches, members)
        base = f"roster:{roster.id}:v{roster.version}"
        chat_id = await self.repo.group_chat(group.id)
        if chat_id is not None:
            loc = self.ctx.default_locale
            head = i18n.t(
                "roster.published.group",
                loc,
                group=p.escape(group.name),
                quarter=p.quarter_label(i18n, loc, quarter),
            )
            await self.send(
                chat_id,
                head + "\n\n" + p.table(i18n, loc, rows, tz=tz, room=p.TEXT_LIMIT - len(head)),
                key=f"{base}:group",
                origin_id=roster.id,
            )
            data = roster_workbook(
                p.sheet_labels(i18n, loc, quarter, group), rows, locale=loc, tz=tz
            )
            await self.upload(
                chat_id,
                p.file_name(quarter, group, "xlsx"),
                data,
                i18n.t("roster.file.caption", loc, group=group.name),
                key=f"{base}:group:xlsx",
                origin_id=roster.id,
            )
        by_visitor: dict[int, list[VisitRow]] = {}
        code_to_id = {m.code: m.id for m in members.values()}
        for row in rows:
            by_visitor.setdefault(code_to_id[row.visitor_code], []).append(row)
        chats = await self.reachable(members[mid] for mid in by_visitor)
        locales = await self.locales_of(chats.values())
        for member_id, own in by_visitor.items():
            chat = chats.get(member_id)
            if chat is None:
                continue
            await self.visitor_list(roster, group, own, chat, locales[chat], base)

    async def visitor_list(
        self,
        roster: Roster,
        group: WorkingGroup,
        rows: Sequence[VisitRow],
        chat_id: int,
        locale: str,
        base: str,
    ) -> None:
        i18n, tz = self.ctx.i18n, self.ctx.tz
        quarter = Quarter(roster.year, roster.quarter)
        text = (
            i18n.t(
                "roster.visitor.list",
                locale,
                group=p.escape(group.name),
                quarter=p.quarter_label(i18n, locale, quarter),
            )
            + "\n\n"
            + p.table(i18n, locale, rows, tz=tz, with_visitor=False)
            + "\n\n"
            + i18n.t("roster.visitor.hint", locale)
        )
        markup = {
            "inline_keyboard": [
                [
                    {
                        "text": i18n.t("roster.button.confirm", locale),
                        "callback_data": ConfirmCb(roster_id=roster.id).pack(),
                    }
                ]
            ]
        }
        await self.send(
            chat_id, text, key=f"{base}:list:{chat_id}", markup=markup, origin_id=roster.id
        )
        data = visits_ics(
            rows,
            calendar_name=i18n.t("roster.ics.name", locale, quarter=quarter.label(locale)),
            summary=lambda r: i18n.t("roster.ics.summary", locale, branch=r.branch_name),
            tz=tz,
        )
        await self.upload(
            chat_id,
            p.file_name(quarter, group, "ics"),
            data,
            i18n.t("roster.ics.caption", locale),
            key=f"{base}:ics:{chat_id}",
            origin_id=roster.id,
        )

    # The leader's draft ----------------------------------------------------------------------

    def review_markup(self, locale: str, roster: Roster) -> dict[str, Any]:
        i18n = self.ctx.i18n

        def button(key: str, act: RosterAct, i: int = 0, **params: Any) -> dict[str, str]:
            cb = RosterCb(roster_id=roster.id, version=roster.version, a=act, i=i)
            return {"text": i18n.t(key, locale, **params), "callback_data": cb.pack()}

        rows = [
            [button("roster.button.publish", RosterAct.ASK_PUBLISH)],
            [button("roster.button.regenerate", RosterAct.REGENERATE)],
        ]
        for i, _move in enumerate(roster.suggestions.get("moves", [])[:5]):
            rows.append([button("roster.button.move", RosterAct.MOVE, i, n=i + 1)])
        return {"inline_keyboard": rows}

    async def draft_to_leader(self, roster: Roster, group: WorkingGroup, text_for: Any) -> bool:
        """The draft in the leader's private chat (`text_for(locale)` renders the review)."""
        if group.leader_member_id is None:
            return False
        leader = (await self.repo.members([group.leader_member_id])).get(group.leader_member_id)
        if leader is None:
            return False
        chats = await self.reachable([leader])
        chat_id = chats.get(leader.id)
        if chat_id is None:
            return False
        locale = (await self.locales_of([chat_id]))[chat_id]
        return await self.send(
            chat_id,
            text_for(locale),
            key=f"roster:{roster.id}:v{roster.version}:draft",
            markup=self.review_markup(locale, roster),
            origin_id=roster.id,
        )
