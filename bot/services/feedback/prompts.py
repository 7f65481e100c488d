"""Before the bot asks for a text: the checks the act will make, made at the press.

Ask, answer, close and reject (a level's card) and reopen and details (the submitter's answer
or question) need a typed text, which the bot asks for in the presser's private chat. A press
the act would refuse (not theirs, closed, an older card, the wrong moment, the one reopening
already used) is refused at once, with nothing asked and nothing stored, so nobody types an
answer only to hear it cannot be given. The act checks everything again when the text comes
(the item may have moved meanwhile). The view returned lets the prompt quote the item.
"""

from __future__ import annotations

import enum

from sqlalchemy.ext.asyncio import AsyncSession
from storage.repositories.feedback import FeedbackRepository

from bot.services.feedback.acts import held_item, require_status, submitters_item
from bot.services.feedback.common import DEFAULT_CONFIG, FeedbackConfig, FeedbackError
from bot.services.feedback.levels import Level
from bot.services.feedback.views import ItemView, build_view
from bot.services.feedback.workflow import forward_targets
from bot.services.policy import Actor
from storage.models.feedback import FeedbackStatus

_WAITING = (FeedbackStatus.OPEN, FeedbackStatus.TAKEN, FeedbackStatus.ASKED)


class TextAct(enum.Enum):
    """What a typed text is for: the workflow call it ends in."""

    ASK = "ask"
    ANSWER = "answer"
    CLOSE = "close"
    REJECT = "reject"
    REOPEN = "reopen"
    INFO = "info"


# The statuses each level act takes (as `bot.services.feedback.workflow` requires them).
LEVEL_ACTS: dict[TextAct, tuple[FeedbackStatus, ...]] = {
    TextAct.ASK: (FeedbackStatus.OPEN, FeedbackStatus.TAKEN),
    TextAct.ANSWER: _WAITING,
    TextAct.CLOSE: (*_WAITING, FeedbackStatus.ANSWERED),
    TextAct.REJECT: _WAITING,
}


async def before_text(
    session: AsyncSession,
    actor: Actor,
    act: TextAct,
    item_id: int,
    version: int,
    *,
    via_chat: int | None = None,
    config: FeedbackConfig = DEFAULT_CONFIG,
) -> ItemView:
    """The item, when `actor` may give this text now; else the act's own refusal."""
    if act in LEVEL_ACTS:
        item, _level = await held_item(session, actor, item_id, version, via_chat)
        require_status(item, *LEVEL_ACTS[act])
    elif act is TextAct.REOPEN:
        item, _level = await submitters_item(session, actor, item_id, version)
        if item.status != FeedbackStatus.ANSWERED.value:
            raise FeedbackError("fb.bad_state")
        if item.reopened >= config.reopen_limit:
            raise FeedbackError("fb.reopen_used", limit=config.reopen_limit)
    else:
        # Details answer the question, whatever happened to the item's version since.
        item, _level = await submitters_item(session, actor, item_id, None)
        if item.status != FeedbackStatus.ASKED.value:
            raise FeedbackError("fb.not_asked")
    return await build_view(session, item, actor, via_chat)


async def forward_choices(
    session: AsyncSession, actor: Actor, item_id: int, *, via_chat: int | None = None
) -> tuple[ItemView, list[Level]]:
    """The item and where the person may send it now (the buttons after "Chuyển")."""
    targets = await forward_targets(session, actor, item_id, via_chat=via_chat)
    item = await FeedbackRepository(session).item(item_id)
    assert item is not None  # forward_targets refused a missing one
    return await build_view(session, item, actor, via_chat), targets
