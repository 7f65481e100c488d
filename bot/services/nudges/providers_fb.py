"""Providers of the feedback and broadcast obligations (see `obligations.py`).

- feedback_due: an item open or taken at a level, its deadline near → whoever holds it: the
  same people `bot.services.feedback.deadlines.items_due` names (whoever took it, the level's
  people in private: a branch's secretary and deputies, else the admins (a unit's own
  commune admins first, then the district's); and the level's group chat), computed here for
  all items at once (items_due asks per item, and lists overdue items of any age). Trả lời
  opens the item's card. Past the deadline it is escalated: a branch's item to its unit's
  committee, any other to the district's admins.
- broadcast_ack: see `BroadcastAck`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.buttons.nudges import NudgeAct, NudgeCb
from bot.services.broadcasts.acks import unacknowledged
from bot.services.broadcasts.audience import SECRETARY
from bot.services.feedback.common import item_number
from bot.services.nudges.obligations import (
    Action,
    EscalateTo,
    Obligation,
    Owner,
    Status,
    Window,
    key_id,
)
from bot.services.vn_calendar import to_local
from storage.models import FeedbackItem
from storage.models.feedback import LevelType
from storage.models.nudges import NudgePolicy
from storage.models.org import MemberRole, TargetType
from storage.repositories.nudge_sources import WAITING, NudgeSources


class FeedbackDue:
    policy = NudgePolicy.FEEDBACK_DUE
    prefix = "fb"

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        src = NudgeSources(session)
        items = await src.feedback_waiting(window.start, window.end, district_id)
        if not items:
            return []

        def at(level: LevelType) -> list[int]:
            return [i.level_id for i in items if i.level_type == level]

        leaders = await src.branch_leaders(at(LevelType.BRANCH))
        admins = await src.district_admins({i.district_id for i in items})
        commune_admins = await src.unit_admins(at(LevelType.UNIT))
        unit_chats = await src.target_chats(TargetType.UNIT, at(LevelType.UNIT))
        district_chats = await src.target_chats(TargetType.COMMITTEE, at(LevelType.DISTRICT))
        departments = await src.departments(at(LevelType.DEPARTMENT))
        branches = await src.branch_units({i.branch_id for i in items} | set(at(LevelType.BRANCH)))
        units = await src.unit_names(at(LevelType.UNIT) + at(LevelType.DISTRICT))
        people = [i.taken_by for i in items if i.taken_by]
        people += [m.telegram_id for ms in leaders.values() for m in ms if m.telegram_id]
        people += [t for ts in [*admins.values(), *commune_admins.values()] for t in ts]
        ok = await src.reachable(people)
        out = []
        for item in items:
            level = LevelType(item.level_type)
            if level is LevelType.BRANCH:
                name = branches.get(item.level_id, (0, "?"))[1]
                chat = None  # a branch's group is its members' chat, not where it is decided
                tgs = [m.telegram_id for m in leaders.get(item.level_id, [])]
                holders = [t for t in tgs if t is not None and t in ok]
            elif level is LevelType.DEPARTMENT:
                name, chat = departments.get(item.level_id, ("?", None))
                holders = []
            else:
                name = units.get(item.level_id, "?")
                level_chats = unit_chats if level is LevelType.UNIT else district_chats
                chat = level_chats.get(item.level_id)
                holders = []
            if not holders:  # the level's admins: a commune's own first, then the district's
                own = commune_admins.get(item.level_id, []) if level is LevelType.UNIT else []
                everyone = dict.fromkeys([*own, *admins.get(item.district_id, [])])
                holders = [t for t in everyone if t in ok]
            taken = [item.taken_by] if item.taken_by is not None and item.taken_by in ok else []
            chats = list(dict.fromkeys([*taken, *holders])) + ([chat] if chat else [])
            out.append(self._obligation(item, name, chats, branches, window))
        return out

    def _obligation(
        self,
        item: FeedbackItem,
        level_name: str,
        chats: list[int],
        branches: dict[int, tuple[int, str]],
        window: Window,
    ) -> Obligation:
        deadline = to_local(item.deadline, window.tz)
        branch = branches.get(item.branch_id, (0, "?"))[1]
        at_branch = item.level_type == LevelType.BRANCH
        return Obligation(
            kind=self.policy,
            key=f"{self.prefix}:{item.id}:{item.level_type}:{item.level_id}",
            district_id=item.district_id,
            unit_id=item.unit_id,
            branch_id=item.branch_id,
            owners=tuple(Owner(c, level_name) for c in chats),
            moment=item.deadline,
            params={
                "number": item_number(item.year, item.number),
                "branch": branch,
                "level": level_name,
                "date": f"{deadline:%d/%m/%Y}",
                "time": f"{deadline:%H:%M}",
            },
            action=Action("nudge.btn.answer", NudgeCb(a=NudgeAct.ANSWER, id=item.id).pack()),
            escalate_to=EscalateTo(unit_id=item.unit_id if at_branch else None),
        )

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        """Owed while it waits at the key's level (a key without a level: at any); answered,
        asked back, closed or moved on, it was acted on."""
        state = await NudgeSources(session).feedback_state(key_id(k) for k in keys)
        out = {}
        for key in keys:
            parts = key.split(":")
            found = state.get(key_id(key))
            if found is None:
                out[key] = Status.LAPSED
                continue
            status, level_type, level_id = found
            same_level = len(parts) < 4 or (parts[2], parts[3]) == (level_type, str(level_id))
            owed = status in WAITING and same_level
            out[key] = Status.OWED if owed else Status.MET
        return out


class BroadcastAck:
    """Guidance not acknowledged by its deadline (`bot.services.broadcasts.acks.
    unacknowledged`: the chats it reached that did not press Đã nhận) → for a branch's group,
    its secretary (the deputies when it has none) in private; for a secretary reached in
    private, that secretary; for a working group's chat, its leader; for a unit's chat, the
    commune's own admins. Đã nhận acknowledges for the chat the broadcast went to (the
    broadcasts feature checks the person may). 2 days later it is escalated: a branch's to its
    unit's committee, any other to the district's admins. The broadcasts feature lists a chat only
    once the deadline has passed (it reminds once before it itself), so a negative `hours`
    setting has no effect here.
    """

    policy = NudgePolicy.BROADCAST_ACK
    prefix = "ack"

    async def candidates(
        self, session: AsyncSession, window: Window, district_id: int | None
    ) -> list[Obligation]:
        pending = [
            p
            for p in await unacknowledged(session, window.now, lookback=window.back)
            if district_id is None or p.district_id == district_id
        ]
        if not pending:
            return []
        src = NudgeSources(session)
        leaders = await src.branch_leaders(
            p.branch_id for p in pending if p.branch_id and p.target_type == TargetType.BRANCH
        )
        groups = await src.group_leaders(
            p.target_id for p in pending if p.target_type == TargetType.WORKING_GROUP
        )
        people = await src.members(
            [p.target_id for p in pending if p.target_type == SECRETARY] + list(groups.values())
        )
        unit_admins = await src.unit_admins(
            p.target_id for p in pending if p.target_type == TargetType.UNIT
        )
        out = []
        for p in pending:
            if p.target_type == TargetType.BRANCH and p.branch_id:
                ms = leaders.get(p.branch_id, [])
                secretary = [m for m in ms if m.role == MemberRole.SECRETARY]
                owners = [Owner(m.telegram_id, m.full_name) for m in (secretary or ms)]
            elif p.target_type == SECRETARY:
                m = people.get(p.target_id)
                owners = [Owner(m.telegram_id, m.full_name)] if m is not None else []
            elif p.target_type == TargetType.WORKING_GROUP and p.target_id in groups:
                m = people.get(groups[p.target_id])
                owners = [Owner(m.telegram_id, m.full_name)] if m is not None else []
            elif p.target_type == TargetType.UNIT:  # a unit's committee chat: its admins
                owners = [Owner(t, p.name) for t in unit_admins.get(p.target_id, [])]
            else:
                owners = []
            deadline = to_local(p.deadline, window.tz)
            out.append(
                Obligation(
                    kind=self.policy,
                    key=f"{self.prefix}:{p.broadcast_id}:{p.chat_id}",
                    district_id=p.district_id,
                    unit_id=p.unit_id,
                    branch_id=p.branch_id,
                    owners=tuple(owners),
                    moment=p.deadline,
                    params={
                        "excerpt": p.excerpt[:80],
                        "branch": p.name,
                        "date": f"{deadline:%d/%m/%Y}",
                        "time": f"{deadline:%H:%M}",
                    },
                    action=Action(
                        "nudge.btn.ack",
                        NudgeCb(a=NudgeAct.ACK, id=p.broadcast_id, c=p.chat_id).pack(),
                    ),
                    # A branch's: its unit's committee; any other: the district's admins.
                    escalate_to=EscalateTo(unit_id=p.unit_id if p.branch_id else None),
                )
            )
        return out

    async def status(
        self, session: AsyncSession, keys: Sequence[str], now: datetime, tz: ZoneInfo
    ) -> dict[str, Status]:
        acks = await NudgeSources(session).broadcast_acks(key_id(k) for k in keys)
        out = {}
        for key in keys:
            _, broadcast, chat = key.split(":")
            pair = (int(broadcast), int(chat))
            if pair not in acks:
                out[key] = Status.LAPSED
            else:
                out[key] = Status.MET if acks[pair] is not None else Status.OWED
        return out
