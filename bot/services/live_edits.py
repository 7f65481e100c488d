"""One coalescing editor for messages that show live figures (a meeting's RSVP count in its
group, a broadcast's progress for its sender).

The one exception to "through the outbox": the outbox has no edit content type, and such an
edit is idempotent (only the latest state matters), so a scheduler job edits the message in
place, at most once per subject every `every` seconds, re-rendered from the database each pass.
What this keeps, per process, is only when each subject was last edited and with what text, so
an unchanged text is never re-sent and a failed edit is simply redone on the next pass. The
database says which subjects changed since the last pass (`since`, with `slack` for
transactions that committed after their own timestamp; after a restart the first pass looks
back `lookback`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger("bot.live_edits")

# An inline keyboard as the outbox stores it (`bot.buttons.markup`).
Markup = dict[str, Any]
# Refusals an edit never gets past (the message or the chat is gone, the person blocked the
# bot: a member's private reminder can meet any of them): not retried for the same text, or
# one blocked member would be retried, and logged, every pass.
GONE = (
    "message to edit not found",
    "message can't be edited",
    "chat not found",
    "bot was blocked",
    "Forbidden",
)


class MessageEditor(Protocol):
    """Edits one message's text and keyboard (the job passes the bot's; tests a recorder)."""

    async def __call__(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None
    ) -> None:
        """Edit the message (None: without buttons); "message is not modified" may be raised
        and counts as done."""


@dataclass(frozen=True)
class Edit:
    """One edit a pass decided on: `subject` is the meeting's or the broadcast's id."""

    subject: int
    chat_id: int
    message_id: int
    text: str
    markup: Markup | None


@dataclass
class CoalescedEdits:
    """The pacing and memory shared by every live message (see the module's docstring)."""

    every: float = 3.0
    slack: timedelta = timedelta(seconds=5)
    lookback: timedelta = timedelta(minutes=10)
    watermark: datetime | None = None
    pending: set[int] = field(default_factory=set)
    last_edit: dict[int, float] = field(default_factory=dict)
    last_text: dict[tuple[int, int], str] = field(default_factory=dict)
    edits: int = 0
    monotonic: Callable[[], float] = time.monotonic
    # One pass at a time: the job's pass and one asked for meanwhile (Làm mới, a test, a
    # catch-up) share the watermark and what is pending; overlapping, one changed what the
    # other was going through ("dictionary changed size during iteration").
    one_pass: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def since(self, now: datetime) -> datetime:
        """Changes after this moment are this pass's; the next pass starts from `now`."""
        since = (self.watermark or now - self.lookback) - self.slack
        self.watermark = now
        return since

    def recent(self, subject: int, mono: float) -> bool:
        """Edited less than `every` ago: it stays pending for a later pass."""
        return mono - self.last_edit.get(subject, -1e9) < self.every

    def shown(self, chat_id: int, message_id: int, text: str) -> bool:
        """The message already shows exactly this text."""
        return self.last_text.get((chat_id, message_id)) == text

    async def apply(self, todo: Sequence[Edit], edit: MessageEditor) -> int:
        """Make the edits (outside any transaction); the number made. A failed one stays
        pending, a "not modified" one counts as made."""
        made = 0
        for e in todo:
            try:
                await edit(e.chat_id, e.message_id, e.text, e.markup)
            except Exception as exc:  # noqa: BLE001 - an edit is best effort; log and retry
                kind = type(self).__name__
                if any(gone in str(exc) for gone in GONE):
                    log.info("live edit of %s %s given up: %s", kind, e.subject, exc)
                    self.last_text[(e.chat_id, e.message_id)] = e.text
                    continue
                if "not modified" not in str(exc):
                    log.warning("live edit of %s %s failed: %s", kind, e.subject, exc)
                    self.pending.add(e.subject)
                    continue
            self.last_text[(e.chat_id, e.message_id)] = e.text
            self.last_edit[e.subject] = self.monotonic()
            self.edits += 1
            made += 1
        return made
