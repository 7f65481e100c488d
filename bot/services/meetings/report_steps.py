"""The /report wizard's draft and its rules, as pure functions the handler calls.

The draft is a pydantic model the handler keeps in the conversation state (`model_dump(
mode="json")`, read back with `model_validate`): a draft from an older version of the bot, or
one that vanished with a restart, fails to load and the person is told to start again, instead
of a step being dropped silently. Every rule of the walk lives here and is unit-tested without
Telegram: absence toggles, the present count clamped to who can be there, the steps a meeting
that was not held skips, and "once the summary has been seen, every edit returns to it".
Nothing here is trusted on submission: `reports.submit_report` validates everything again.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeAlias

from pydantic import BaseModel, Field, ValidationError

from bot.inputs import parse_int
from bot.services.access.policy import Refused
from bot.services.meetings.common import (
    FILE_ID_MAX,
    LIST_ITEMS_MAX,
    PROPOSAL_MAX,
    RESOLUTION_MAX,
    TOPIC_MAX,
    MeetingError,
)
from bot.services.meetings.reports import AbsentEntry, ReportInput
from storage.models.meetings import MinutesKind as MinutesKind  # handlers classify uploads

STALE = "mrep.stale"  # a button that does not belong to the open draft
EXPIRED = "kit.expired"  # no draft (a restart, a finished report, an older format)


class Step(enum.StrEnum):
    HELD = "held"
    PRESENT = "present"
    ABSENT = "absent"
    MINUTES = "minutes"
    RESOLUTION = "resolution"
    TOPICS = "topics"
    PROPOSALS = "proposals"
    CONFIRM = "confirm"


ORDER = list(Step)
# Steps only a meeting that was held has.
HELD_ONLY = frozenset({Step.PRESENT, Step.ABSENT})


class Mode(enum.StrEnum):
    NEW = "new"  # the first report
    CORRECT = "correct"  # a new version of an existing report


class Act(enum.Enum):
    """What a wizard button asks for (the callback data carries it)."""

    HELD_YES = "hy"
    HELD_NO = "hn"
    PRESENT_DEC = "pd"
    PRESENT_INC = "pi"
    PRESENT_ALL = "pa"
    ABSENT_PAGE = "ap"
    MINUTES_KEPT = "mk"
    MINUTES_NONE = "mn"
    NEXT = "nx"
    SEND = "sd"
    QUIT = "qt"


class Absence(BaseModel):
    code: str | None = None
    text: str = ""
    excused: bool = True


class Draft(BaseModel):
    """One report being written; `step` is where the person is."""

    meeting_id: int
    mode: Mode = Mode.NEW
    last_version: int = 0  # when correcting: the version being corrected
    members: int = 0  # active members of the branch when the draft was opened
    step: Step = Step.HELD
    walked: bool = False  # the summary has been seen: edits return to it
    page: int = 0  # of the absent list
    held: bool = True
    present: int = 0
    absent: dict[int, Absence] = Field(default_factory=dict)  # member id -> why (insertion order)
    minutes: bool = False
    file_id: str | None = None
    file_kind: MinutesKind | None = None
    resolution: str = ""
    topics: list[str] = Field(default_factory=list)
    proposals: list[str] = Field(default_factory=list)

    @property
    def max_present(self) -> int:
        return max(self.members - len(self.absent), 0)

    def to_input(self) -> ReportInput:
        """What `submit_report` / `correct_report` receive (absences only for a held meeting)."""
        return ReportInput(
            held=self.held,
            present_count=self.present,
            absent=tuple(
                AbsentEntry(member_id, a.code, a.text, a.excused)
                for member_id, a in self.absent.items()
            )
            if self.held
            else (),
            minutes_kept=self.minutes,
            minutes_file_id=self.file_id,
            minutes_file_kind=self.file_kind,
            resolution=self.resolution,
            topics=tuple(self.topics),
            proposals=tuple(self.proposals),
        )

    def dump(self) -> dict[str, object]:
        """JSON-safe, for any FSM storage (memory, Redis, the database)."""
        return self.model_dump(mode="json")


def new_draft(meeting_id: int, data: ReportInput, members: int, *, last_version: int = 0) -> Draft:
    """A prefilled draft; a correction opens at the summary, every part filled from the last
    version."""
    correcting = last_version > 0
    return Draft(
        meeting_id=meeting_id,
        mode=Mode.CORRECT if correcting else Mode.NEW,
        last_version=last_version,
        members=members,
        step=Step.CONFIRM if correcting else Step.HELD,
        walked=correcting,
        held=data.held,
        present=data.present_count,
        absent={
            a.member_id: Absence(code=a.reason_code, text=a.reason_text, excused=a.excused)
            for a in data.absent
        },
        minutes=data.minutes_kept,
        file_id=data.minutes_file_id,
        file_kind=MinutesKind(data.minutes_file_kind) if data.minutes_file_kind else None,
        resolution=data.resolution,
        topics=list(data.topics),
        proposals=list(data.proposals),
    )


def load_draft(data: dict[str, object], meeting_id: int | None = None) -> Draft:
    """The draft kept in the conversation, or `Refused`: none (expired) or another meeting's
    (a stale button)."""
    if not data:
        raise Refused(EXPIRED)
    try:
        draft = Draft.model_validate(data)
    except ValidationError:
        raise Refused(EXPIRED) from None
    if meeting_id is not None and draft.meeting_id != meeting_id:
        raise Refused(STALE)
    return draft


# --- moving -------------------------------------------------------------------------------


def advance(draft: Draft) -> Draft:
    """The next step; once the summary has been seen (or after the last step), the summary.
    A meeting that was not held skips the present count and the absences."""
    if draft.walked or draft.step in (Step.PROPOSALS, Step.CONFIRM):
        return draft.model_copy(update={"step": Step.CONFIRM, "walked": True})
    nxt = ORDER[ORDER.index(draft.step) + 1]
    if not draft.held and nxt in HELD_ONLY:
        nxt = Step.MINUTES
    return draft.model_copy(update={"step": nxt})


def edit(draft: Draft, step: Step) -> Draft:
    """From the summary: go back to one part (a not-held meeting edits "held?" instead)."""
    if step is Step.CONFIRM:
        raise Refused(STALE)
    if not draft.held and step in HELD_ONLY:
        step = Step.HELD
    return draft.model_copy(update={"step": step})


def press(draft: Draft, act: Act, value: int = 0) -> Draft:
    """A wizard button on the current step; a button of another step is stale.

    SEND and QUIT are not changes of the draft: the handler does them.
    """
    step = draft.step
    if act is Act.NEXT:
        return advance(draft)
    if step is Step.HELD and act in (Act.HELD_YES, Act.HELD_NO):
        return advance(draft.model_copy(update={"held": act is Act.HELD_YES}))
    if step is Step.PRESENT and act in (Act.PRESENT_DEC, Act.PRESENT_INC, Act.PRESENT_ALL):
        wanted = {
            Act.PRESENT_DEC: draft.present - 1,
            Act.PRESENT_INC: draft.present + 1,
            Act.PRESENT_ALL: draft.max_present,
        }[act]
        return draft.model_copy(update={"present": min(max(wanted, 0), draft.max_present)})
    if step is Step.ABSENT and act is Act.ABSENT_PAGE:
        return draft.model_copy(update={"page": max(value, 0)})
    if step is Step.MINUTES and act in (Act.MINUTES_KEPT, Act.MINUTES_NONE):
        kept = act is Act.MINUTES_KEPT
        return advance(
            draft.model_copy(update={"minutes": kept, "file_id": None, "file_kind": None})
        )
    raise Refused(STALE)


def toggle_absent(draft: Draft, member_id: int, members: Collection[int]) -> Draft:
    """present → absent, excused → absent, not excused → present; the present count shrinks
    when it no longer fits. `members`: the branch's active members (a forged id is stale)."""
    if draft.step is not Step.ABSENT or member_id not in members:
        raise Refused(STALE)
    absent = dict(draft.absent)
    entry = absent.get(member_id)
    if entry is None:
        absent[member_id] = Absence()
    elif entry.excused:
        absent[member_id] = entry.model_copy(update={"excused": False})
    else:
        del absent[member_id]
    moved = draft.model_copy(update={"absent": absent})
    return moved.model_copy(update={"present": min(draft.present, moved.max_present)})


def ready(draft: Draft) -> ReportInput:
    """What to submit; only from the summary (an older message's Send button is stale)."""
    if draft.step is not Step.CONFIRM:
        raise Refused(STALE)
    return draft.to_input()


# --- typed input --------------------------------------------------------------------------


def take_present(draft: Draft, text: str) -> Draft:
    """A typed present count: digits 0-9 only, at most the members who are not absent."""
    try:
        present = parse_int(text, hi=draft.max_present)
    except ValueError:
        raise Refused("mrep.w.present_bad", max=draft.max_present) from None
    return advance(draft.model_copy(update={"present": present}))


@dataclass(frozen=True)
class Upload:
    """A file sent at the minutes step (from the handler's message)."""

    file_id: str
    kind: MinutesKind | None  # None: not a photo, PDF or DOCX


def take_minutes_file(draft: Draft, upload: Upload) -> Draft:
    """The minutes as a photo, PDF or DOCX, kept by its Telegram file id."""
    if upload.kind is None or not 0 < len(upload.file_id) <= FILE_ID_MAX:
        raise MeetingError("meetings.error.bad_minutes_file")
    update = {"minutes": True, "file_id": upload.file_id, "file_kind": upload.kind}
    return advance(draft.model_copy(update=update))


def take_text(draft: Draft, text: str) -> Draft:
    """The typed conclusion, topics or proposals, whichever step the draft is at."""
    if draft.step is Step.RESOLUTION:
        text = text.strip()
        if len(text) > RESOLUTION_MAX:
            raise MeetingError(
                "meetings.error.resolution_too_long", max=RESOLUTION_MAX, length=len(text)
            )
        return advance(draft.model_copy(update={"resolution": text}))
    if draft.step is Step.TOPICS:
        return advance(draft.model_copy(update={"topics": _lines(text, TOPIC_MAX)}))
    if draft.step is Step.PROPOSALS:
        return advance(draft.model_copy(update={"proposals": _lines(text, PROPOSAL_MAX)}))
    raise Refused("mrep.w.use_buttons")


def _lines(text: str, limit: int) -> list[str]:
    """One item per line, bullets stripped, empty lines dropped."""
    items = [line.strip(" \t•-*") for line in text.splitlines()]
    items = [i for i in items if i]
    if len(items) > LIST_ITEMS_MAX:
        raise MeetingError("meetings.error.too_many_items", max=LIST_ITEMS_MAX)
    for item in items:
        if len(item) > limit:
            raise MeetingError("meetings.error.item_too_long", max=limit, length=len(item))
    return items


# --- one entry point for the handler ---------------------------------------------------------


@dataclass(frozen=True)
class Press:
    act: Act
    value: int = 0


@dataclass(frozen=True)
class Toggle:
    member_id: int


@dataclass(frozen=True)
class Edit:
    step: Step


@dataclass(frozen=True)
class Typed:
    text: str


Move: TypeAlias = Press | Toggle | Edit | Typed | Upload


def apply(draft: Draft, move: Move, members: Collection[int]) -> Draft:
    """The draft after one move of the person; `members`: the branch's active member ids."""
    if isinstance(move, Press):
        return press(draft, move.act, move.value)
    if isinstance(move, Toggle):
        return toggle_absent(draft, move.member_id, members)
    if isinstance(move, Edit):
        return edit(draft, move.step)
    if isinstance(move, Upload):
        if draft.step is not Step.MINUTES:
            raise Refused("mrep.w.use_buttons")
        return take_minutes_file(draft, move)
    if draft.step is Step.PRESENT:
        return take_present(draft, move.text)
    return take_text(draft, move.text)
