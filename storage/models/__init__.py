"""ORM models. Every module is imported here so Alembic autogenerate sees every table.

One module per feature (users, org, outbox, ...), so features can grow without colliding.
"""

from storage.models.access import LinkAttempt
from storage.models.broadcasts import Broadcast, BroadcastRecipient
from storage.models.feedback import (
    FeedbackCard,
    FeedbackCounter,
    FeedbackEvent,
    FeedbackFile,
    FeedbackItem,
    FeedbackOption,
)
from storage.models.fsm import FsmState
from storage.models.meetings import (
    Meeting,
    MeetingNotice,
    MeetingReport,
    MeetingRsvp,
    MeetingSettings,
)
from storage.models.nudges import NudgeEvent, NudgeOptout, NudgeSetting, NudgeTrack
from storage.models.org import (
    AuditLog,
    Branch,
    ChatBinding,
    CommitteeAdmin,
    Invite,
    LinkCode,
    Member,
    Unit,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupUnit,
)
from storage.models.outbox import JobLease, OutboxEntry
from storage.models.rosters import (
    BusyDay,
    HeardProposal,
    MoveRequest,
    Roster,
    RosterVisit,
    VisitProgram,
    VisitReport,
)
from storage.models.users import TelegramUser

__all__ = [
    "AuditLog",
    "Branch",
    "Broadcast",
    "BroadcastRecipient",
    "BusyDay",
    "HeardProposal",
    "MoveRequest",
    "Roster",
    "RosterVisit",
    "VisitProgram",
    "VisitReport",
    "ChatBinding",
    "CommitteeAdmin",
    "FeedbackCard",
    "FeedbackCounter",
    "FeedbackEvent",
    "FeedbackFile",
    "FeedbackItem",
    "FeedbackOption",
    "FsmState",
    "Invite",
    "JobLease",
    "LinkAttempt",
    "LinkCode",
    "Meeting",
    "MeetingNotice",
    "MeetingReport",
    "MeetingRsvp",
    "MeetingSettings",
    "Member",
    "NudgeEvent",
    "NudgeOptout",
    "NudgeSetting",
    "NudgeTrack",
    "OutboxEntry",
    "TelegramUser",
    "Unit",
    "WorkingGroup",
    "WorkingGroupMember",
    "WorkingGroupUnit",
]
