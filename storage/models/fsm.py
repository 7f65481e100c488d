"""Conversation (FSM) state kept in the database, so a wizard survives a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class FsmState(Base):
    """One conversation: a person in a chat (aiogram's storage key, flattened)."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
