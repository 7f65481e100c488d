"""Guidance broadcasts (issue 14): a committee's message copied to every chosen chat through
the outbox, with delivery and acknowledgement per chat.

Plain async services over `storage.repositories.broadcasts`: no aiogram types in signatures,
no sending but through the outbox. They raise `BroadcastError` (a catalog key and fields)
for anything the person must fix, and change nothing when they do.

- `audience`: what the buttons choose, resolved to chats (`resolve`), with the unreachable
  ones and why;
- `compose`: draft, audience, options, preview, Gửi, Dừng, Gửi lại, Hủy;
- `acks`: Đã nhận, the reminder before the deadline, the silent chats after it;
- `progress`: outcomes mirrored from the outbox, figures, the live progress message, the
  failure hook; `report`: the list, one broadcast's table, the .xlsx;
- `callbacks`: the buttons' data; `notices`: what is queued and how it is worded.
"""

from bot.buttons.broadcasts import AckCb, ProgressAct, ProgressCb
from bot.services.broadcasts.acks import (
    AckResult,
    Pending,
    acknowledge,
    reminders_due,
    unacknowledged,
)
from bot.services.broadcasts.audience import (
    Audience,
    AudienceChoices,
    AudiencePart,
    Recipient,
    choices,
    reason_key,
    resolve,
)
from bot.services.broadcasts.common import DEFAULT_CONFIG, BroadcastConfig, BroadcastError
from bot.services.broadcasts.compose import (
    Preview,
    Source,
    audience_of,
    discard,
    get,
    preview,
    retry_failed,
    send,
    set_audience,
    set_options,
    source_kind,
    start_draft,
    stop,
)
from bot.services.broadcasts.notices import ack_markup
from bot.services.broadcasts.progress import (
    LiveProgress,
    ProgressView,
    install_hooks,
    progress_view,
)
from bot.services.broadcasts.report import (
    BroadcastDetail,
    BroadcastSummary,
    detail,
    detail_workbook,
    recent,
    workbook_labels,
)
from storage.models.broadcasts import BroadcastStatus, RecipientState

__all__ = [
    "DEFAULT_CONFIG",
    "AckCb",
    "AckResult",
    "Audience",
    "AudienceChoices",
    "AudiencePart",
    "BroadcastConfig",
    "BroadcastDetail",
    "BroadcastError",
    "BroadcastStatus",
    "BroadcastSummary",
    "LiveProgress",
    "Pending",
    "Preview",
    "ProgressAct",
    "ProgressCb",
    "ProgressView",
    "Recipient",
    "RecipientState",
    "Source",
    "ack_markup",
    "acknowledge",
    "audience_of",
    "choices",
    "detail",
    "detail_workbook",
    "discard",
    "get",
    "install_hooks",
    "preview",
    "progress_view",
    "reason_key",
    "recent",
    "reminders_due",
    "resolve",
    "retry_failed",
    "send",
    "set_audience",
    "set_options",
    "source_kind",
    "start_draft",
    "stop",
    "unacknowledged",
    "workbook_labels",
]
