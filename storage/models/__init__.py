"""ORM models. Every module is imported here so Alembic autogenerate sees every table.

One module per feature (users, org, outbox, ...), so features can grow without colliding.
"""

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
from storage.models.users import TelegramUser

__all__ = [
    "AuditLog",
    "Branch",
    "ChatBinding",
    "CommitteeAdmin",
    "Invite",
    "LinkCode",
    "Member",
    "TelegramUser",
    "Unit",
    "WorkingGroup",
    "WorkingGroupMember",
    "WorkingGroupUnit",
]
