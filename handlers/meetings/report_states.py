"""The /report wizard's conversation states: one per step of the draft, so typed input (a
count, a file, a text) reaches the handler of the step the person is at."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup

from bot.services.meetings.report_steps import Step


class Report(StatesGroup):
    HELD = State()
    PRESENT = State()
    ABSENT = State()
    MINUTES = State()
    RESOLUTION = State()
    TOPICS = State()
    PROPOSALS = State()
    CONFIRM = State()


STATE_OF: dict[Step, State] = {
    Step.HELD: Report.HELD,
    Step.PRESENT: Report.PRESENT,
    Step.ABSENT: Report.ABSENT,
    Step.MINUTES: Report.MINUTES,
    Step.RESOLUTION: Report.RESOLUTION,
    Step.TOPICS: Report.TOPICS,
    Step.PROPOSALS: Report.PROPOSALS,
    Step.CONFIRM: Report.CONFIRM,
}
