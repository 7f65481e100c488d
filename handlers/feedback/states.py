"""Conversation states of the feedback handlers and the drafts they carry (pydantic, stored
with `model_dump` in the conversation, so a restart loses nothing).

Two conversations: the /feedback draft, and a text the bot asked for in private after a press
(a question, an answer, a reason, the details asked for). The second keeps the item, the
version the press saw and the chat the press came from, so the text acts exactly as the press
would have.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from pydantic import BaseModel, Field, ValidationError

from bot.fsm import prefetched
from bot.services.access.policy import Refused
from bot.services.feedback.prompts import TextAct


class Raise(StatesGroup):
    BRANCH = State()
    CATEGORY = State()
    TEXT = State()
    FILES = State()
    AS = State()
    CONFIRM = State()


class Typing(StatesGroup):
    TEXT = State()  # a question, an answer, a reason or details, for one item


class BranchChoice(BaseModel):
    id: int
    name: str
    district_id: int
    leader: bool = False  # the person is its secretary or deputy
    member: bool = True  # else a visiting working-group member: always on the branch's behalf


class CategoryChoice(BaseModel):
    code: str
    name: str


class FileDraft(BaseModel):
    kind: str  # photo | document
    file_id: str
    file_name: str = ""


class RaiseDraft(BaseModel):
    branches: list[BranchChoice] = Field(default_factory=list)
    branch: BranchChoice | None = None
    categories: list[CategoryChoice] = Field(default_factory=list)
    category: CategoryChoice | None = None
    text: str = ""
    files: list[FileDraft] = Field(default_factory=list)
    on_behalf: bool = False
    private: bool = False

    def chosen(self) -> tuple[BranchChoice, CategoryChoice]:
        """Branch and category, which every step after the category has (else stale)."""
        if self.branch is None or self.category is None:
            raise Refused("kit.expired")
        return self.branch, self.category


class TypingDraft(BaseModel):
    act: TextAct
    item_id: int
    version: int
    via_chat: int | None = None
    number: str = ""  # KN-2026-0042, for the reply once done
    # The pressed message (a card, or the answer the submitter got), redrawn once done.
    card_chat: int | None = None
    card_message: int | None = None


Draft = TypeVar("Draft", bound=BaseModel)


async def load(state: FSMContext, model: type[Draft]) -> Draft:
    """The draft of this conversation; a missing or stale one is "expired, start again"."""
    try:
        return model.model_validate(await state.get_data())
    except ValidationError:
        raise Refused("kit.expired") from None


def private_state(state: FSMContext, bot: Bot, user_id: int) -> FSMContext:
    """The person's private-chat conversation, whichever chat the press came from."""
    key = StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id)
    return FSMContext(storage=state.storage, key=key)


# One lock per conversation while it is read, changed and committed (see `exclusive`).
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def exclusive(state: FSMContext) -> AsyncIterator[None]:
    """Read the conversation afresh and hold it until the block ends.

    The conversation is read with the account when the update starts; an album's photos (or
    "Gửi" pressed twice) arrive as updates handled side by side, each starting from the same
    draft: one photo would be lost, or the item raised twice. Inside this block the draft is read
    again in the update's writing transaction, and the next update of the same conversation
    waits here; the block must end with the reply (the kit commits before any reply leaves)."""
    name = f"{state.key.bot_id}:{state.key.chat_id}:{state.key.user_id}"
    lock = _locks.get(name)
    if lock is None:
        lock = _locks[name] = asyncio.Lock()
    async with lock:
        with prefetched(None, None):
            yield
