"""Raising items: typed with /feedback, or turned from a proposal of a meeting report or of a
visit report ("Chuyển thành kiến nghị"), and the lists a person picks from while raising.

Where an item starts: a member's own item at their branch, so the secretary can answer it
inside the branch or send it up; the secretary's or deputy's (on the branch's behalf) and a
working-group visitor's (always on the branch's behalf) one level above the branch. Every text
from outside is cleaned and bounded here, and a refusal changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.access.policy import Actor
from bot.services.context import ServiceContext
from bot.services.feedback.common import (
    DEFAULT_CATEGORIES,
    DEFAULT_CONFIG,
    DEFAULT_DEPARTMENTS,
    FILE_NAME_MAX,
    FILES_MAX,
    REASON_MAX,
    TEXT_MAX,
    FeedbackConfig,
    FeedbackError,
    item_number,
)
from bot.services.feedback.levels import Level, LevelRef, leads, level_above, level_of
from bot.services.feedback.notices import FeedbackNotices
from bot.services.vn_calendar import to_local
from bot.services.vn_sort import vn_sorted
from storage.models import Branch, FeedbackEvent, FeedbackFile, FeedbackItem, FeedbackOption
from storage.models.feedback import (
    FeedbackSource,
    FeedbackStatus,
    LevelType,
    OptionKind,
    RaisedAs,
)
from storage.repositories.feedback import FeedbackRepository

# C0 and C1 control characters except tab and newline: a NUL breaks PostgreSQL text, the others
# break Telegram's HTML or hide text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Telegram file ids are URL-safe base64; anything else did not come from Telegram.
_FILE_ID = re.compile(r"[A-Za-z0-9_\-]{1,256}")
FILE_KINDS = frozenset({"photo", "document"})
FALLBACK_CATEGORY = "other"


@dataclass(frozen=True)
class FileRef:
    kind: str  # "photo" | "document"
    file_id: str
    file_name: str = ""


@dataclass(frozen=True)
class NewItem:
    branch_id: int
    category: str
    text: str
    files: tuple[FileRef, ...] = ()
    on_behalf: bool = False  # the secretary/deputy, on the branch's behalf
    private: bool = False  # the answer goes to the submitter only, never to the branch group


# Cleaning ------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Typed text as stored: composed Vietnamese (NFC), newlines unified, control characters
    (NUL included) removed, outer blanks stripped."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def checked_text(text: str, limit: int = TEXT_MAX) -> str:
    cleaned = clean_text(text)
    if not cleaned:
        raise FeedbackError("fb.text_empty")
    if len(cleaned) > limit:
        raise FeedbackError("fb.text_too_long", max=limit, length=len(cleaned))
    return cleaned


def checked_reason(text: str) -> str:
    cleaned = clean_text(text)
    if not cleaned:
        raise FeedbackError("fb.reason_empty")
    if len(cleaned) > REASON_MAX:
        raise FeedbackError("fb.reason_too_long", max=REASON_MAX, length=len(cleaned))
    return cleaned


def checked_files(files: Sequence[FileRef], actor_tg: int | None) -> list[FeedbackFile]:
    """Photos and documents by Telegram file id, at most FILES_MAX; a name is clipped, never
    refused (Telegram allows longer ones than we keep)."""
    if len(files) > FILES_MAX:
        raise FeedbackError("fb.too_many_files", max=FILES_MAX)
    rows = []
    for f in files:
        if f.kind not in FILE_KINDS or not _FILE_ID.fullmatch(f.file_id or ""):
            raise FeedbackError("fb.bad_file")
        name = clean_text(f.file_name).replace("\n", " ")[:FILE_NAME_MAX]
        rows.append(FeedbackFile(kind=f.kind, file_id=f.file_id, file_name=name, added_by=actor_tg))
    return rows


# The lists -----------------------------------------------------------------------------------


async def _options(
    session: AsyncSession,
    district_id: int,
    kind: OptionKind,
    defaults: Sequence[tuple[str, str, str]],
) -> list[FeedbackOption]:
    repo = FeedbackRepository(session)
    if not await repo.options(district_id, kind, active_only=False):
        await repo.seed_options(district_id, kind, [(code, vi) for code, vi, _en in defaults])
    return await repo.options(district_id, kind)


async def categories(session: AsyncSession, district_id: int) -> list[FeedbackOption]:
    """The district's active categories, in order; the defaults are written on first use."""
    return await _options(session, district_id, OptionKind.CATEGORY, DEFAULT_CATEGORIES)


async def departments(session: AsyncSession, district_id: int) -> list[FeedbackOption]:
    """The top committee's active departments (forward targets); defaults on first use, the
    office named after the committee's own level ("Văn phòng Đảng ủy xã")."""
    top = await FeedbackRepository(session).unit(district_id)
    committee = (top.level_name if top is not None else "") or "cấp ủy"
    defaults = [(c, vi.format(committee=committee), en) for c, vi, en in DEFAULT_DEPARTMENTS]
    return await _options(session, district_id, OptionKind.DEPARTMENT, defaults)


async def raisable_branches(session: AsyncSession, actor: Actor) -> list[Branch]:
    """The person's own branches, then the branches their working groups visit (a visitor
    raises what they heard there on the branch's behalf)."""
    repo = FeedbackRepository(session)
    own = await repo.branches(m.branch_id for m in actor.memberships)
    visited: list[Branch] = []
    for group in actor.groups:
        visited += await repo.visited_branches_of_units(group.unit_ids, group.kinds)
    visited = list(dict.fromkeys(visited))
    visited = vn_sorted(visited, key=lambda b: b.name)
    out = [own[m.branch_id] for m in actor.memberships if m.branch_id in own]
    out = [b for b in dict.fromkeys(out) if b.active]
    seen = {b.id for b in out}
    return out + [b for b in visited if b.id not in seen]


# Raising -------------------------------------------------------------------------------------


async def _create(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    branch: Branch,
    level: Level,
    *,
    raised_as: RaisedAs,
    member_id: int | None,
    category: str,
    text: str,
    files: Sequence[FeedbackFile] = (),
    private: bool = False,
    source: tuple[FeedbackSource, int | None, int | None] = (FeedbackSource.DIRECT, None, None),
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """The item with its number, files and first event; its card queued to its level."""
    repo = FeedbackRepository(session)
    now = ctx.now()
    year = to_local(now, ctx.tz).year
    number = await repo.next_number(branch.district_id, year)
    item = await repo.add_item(
        FeedbackItem(
            district_id=branch.district_id,
            year=year,
            number=number,
            branch_id=branch.id,
            unit_id=branch.unit_id,
            raised_as=raised_as,
            raised_by_member_id=member_id,
            raised_by_tg=actor.telegram_id,
            category=category,
            text=text,
            private=private,
            source_type=source[0],
            source_id=source[1],
            source_index=source[2],
            level_type=level.type,
            level_id=level.id,
            reached_level_at=now,
            deadline=config.deadline_at(level.type, now, ctx.tz),
            status=FeedbackStatus.OPEN,
            reopened=0,
            version=1,
            created_at=now,
            updated_at=now,
        ),
        files,
    )
    data: dict[str, Any] = {"raised_as": raised_as.value, "source": source[0].value}
    event = await repo.add_event(
        FeedbackEvent(
            item_id=item.id,
            at=now,
            actor_tg=actor.telegram_id,
            action="raised",
            level_type=level.type,
            level_id=level.id,
            data=data,
        )
    )
    await audit.record(
        session,
        action="feedback.raised",
        entity_type="feedback_item",
        entity_id=item.id,
        before=None,
        after={
            "number": item_number(year, number),
            "branch_id": branch.id,
            "level": [level.type.value, level.id],
            "raised_as": raised_as.value,
            "source": [source[0].value, source[1], source[2]],
        },
        actor_id=actor.telegram_id,
        district_id=branch.district_id,
    )
    await FeedbackNotices(session, ctx, config).arrived(item, level, event)
    return item


async def _starting_level(session: AsyncSession, branch: Branch, raised_as: RaisedAs) -> Level:
    if raised_as is RaisedAs.MEMBER:
        return await level_of(session, LevelRef(LevelType.BRANCH, branch.id))
    above = await level_above(session, LevelRef(LevelType.BRANCH, branch.id))
    if above is None:
        raise FeedbackError("fb.bad_target")
    return above


async def raise_item(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    new: NewItem,
    *,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """/feedback: a member's item (at the branch), the secretary's on the branch's behalf, or a
    visitor's (above the branch). Refusals: fb.not_your_branch, fb.needs_secretary,
    fb.text_empty, fb.text_too_long, fb.too_many_files, fb.bad_file, fb.bad_category."""
    branch = next(
        (b for b in await raisable_branches(session, actor) if b.id == new.branch_id), None
    )
    if branch is None:
        raise FeedbackError("fb.not_your_branch")
    own = [m for m in actor.memberships if m.branch_id == branch.id]
    if own:
        if new.on_behalf and not leads(actor, branch.id):
            raise FeedbackError("fb.needs_secretary")
        raised_as = RaisedAs.BRANCH if new.on_behalf else RaisedAs.MEMBER
        member_id: int | None = own[0].member_id
    else:
        raised_as = RaisedAs.VISITOR
        member_id = actor.memberships[0].member_id if actor.memberships else None
    text = checked_text(new.text)
    files = checked_files(new.files, actor.telegram_id)
    if new.category not in {c.code for c in await categories(session, branch.district_id)}:
        raise FeedbackError("fb.bad_category")
    level = await _starting_level(session, branch, raised_as)
    return await _create(
        session,
        ctx,
        actor,
        branch,
        level,
        raised_as=raised_as,
        member_id=member_id,
        category=new.category,
        text=text,
        files=files,
        private=new.private,
        config=config,
    )


async def _fallback_category(session: AsyncSession, district_id: int) -> str:
    codes = [c.code for c in await categories(session, district_id)]
    if FALLBACK_CATEGORY in codes or not codes:
        return FALLBACK_CATEGORY
    return codes[-1]


async def from_proposal(
    session: AsyncSession,
    ctx: ServiceContext,
    actor: Actor,
    source: FeedbackSource,
    source_id: int,
    index: int,
    *,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> FeedbackItem:
    """A report's proposal as an item on the branch's behalf, keeping the link to it.

    Meeting report: `source_id` is the meeting, `index` the proposal's place in its current
    report; the branch's secretary or deputy, or an admin. Visit report: `source_id` is the
    heard proposal (`index` ignored); the visitor who heard it, or their group's leader.
    Refusals: fb.no_proposal, fb.not_your_branch, fb.not_your_visit, fb.already_converted."""
    repo = FeedbackRepository(session)
    if source is FeedbackSource.MEETING_REPORT:
        meeting = await repo.meeting(source_id, for_update=True)
        branch = await repo.branch(meeting.branch_id) if meeting is not None else None
        if meeting is None or branch is None:
            raise FeedbackError("fb.no_proposal")
        if not (leads(actor, branch.id) or actor.is_admin_of(branch.district_id)):
            raise FeedbackError("fb.not_your_branch")
        report = await repo.current_report(meeting.id)
        proposals = list(report.proposals) if report is not None else []
        if not 0 <= index < len(proposals):
            raise FeedbackError("fb.no_proposal")
        if await repo.by_source(source, meeting.id, index) is not None:
            raise FeedbackError("fb.already_converted")
        own = [m.member_id for m in actor.memberships if m.branch_id == branch.id]
        raised_as, member_id, text = RaisedAs.BRANCH, (own[0] if own else None), proposals[index]
        link: tuple[FeedbackSource, int | None, int | None] = (source, meeting.id, index)
        heard = None
    elif source is FeedbackSource.VISIT_REPORT:
        heard = await repo.heard(source_id, for_update=True)
        visit = await repo.visit(heard.visit_id) if heard is not None else None
        branch = await repo.branch(heard.branch_id) if heard is not None else None
        if heard is None or visit is None or branch is None:
            raise FeedbackError("fb.no_proposal")
        mine = {m.member_id for m in actor.memberships}
        leader = await repo.group_leader_of_roster(visit.roster_id)
        if visit.visitor_member_id not in mine and (leader is None or leader not in mine):
            raise FeedbackError("fb.not_your_visit")
        if heard.feedback_id is not None:
            raise FeedbackError("fb.already_converted")
        raised_as, member_id, text = RaisedAs.VISITOR, visit.visitor_member_id, heard.text
        link = (source, heard.id, 0)
    else:
        raise FeedbackError("fb.no_proposal")
    if not branch.active:
        raise FeedbackError("fb.not_your_branch")
    level = await _starting_level(session, branch, raised_as)
    item = await _create(
        session,
        ctx,
        actor,
        branch,
        level,
        raised_as=raised_as,
        member_id=member_id,
        category=await _fallback_category(session, branch.district_id),
        text=checked_text(text),
        source=link,
        config=config,
    )
    if heard is not None:
        heard.feedback_id = item.id
    return item


async def proposals_of(
    session: AsyncSession, source: FeedbackSource, source_id: int
) -> list[tuple[int, str, int | None]]:
    """(index or heard id, text, item id once converted) for a report summary's buttons.

    Meeting report: `source_id` is the meeting (its current report's proposals, by index).
    Visit report: `source_id` is the visit (its heard proposals, by id)."""
    repo = FeedbackRepository(session)
    if source is FeedbackSource.MEETING_REPORT:
        report = await repo.current_report(source_id)
        if report is None:
            return []
        done = await repo.converted(source, source_id)
        return [(i, text, done.get(i)) for i, text in enumerate(report.proposals)]
    if source is FeedbackSource.VISIT_REPORT:
        return [(h.id, h.text, h.feedback_id) for h in await repo.heard_of_visit(source_id)]
    return []
