"""Branch meetings: plan from each branch's rule, schedule, RSVP, remind, report, regularity.

Plain async services over `storage.repositories.meetings`: no aiogram types in signatures, no
sending. They raise `MeetingError` (a catalog key and fields) for anything the person must fix.
The use cases that change a meeting queue every notice the change causes through the outbox in
the caller's transaction (`notices`, rendered by `presentation`) and return what was queued.
Everything is stored in UTC and read in Asia/Ho_Chi_Minh (`bot.services.vn_calendar`).
Handlers import the enums they need from here, never from `storage`.
"""

from bot.buttons.meetings import RsvpCb, RsvpChoice
from bot.services.meetings.common import (
    DEFAULT_CONFIG,
    MeetingConfig,
    MeetingError,
    check_length,
    led_branch,
    led_branches,
    managed_meeting,
)
from bot.services.meetings.ics import branch_ics
from bot.services.meetings.live_counts import LiveCounts
from bot.services.meetings.notices import Notices, Recipient, Told, told_before
from bot.services.meetings.plan import (
    PlanResult,
    RuleSlot,
    generate_plan,
    mark_shift_told,
    rule_slot,
    shift_notices,
    update_rule,
)
from bot.services.meetings.presentation import answered_text, meeting_body, meeting_preview
from bot.services.meetings.quickform import (
    QuickForm,
    calendar_day,
    format_quick_form,
    meeting_start,
    parse_date,
    parse_quick_form,
    parse_time,
)
from bot.services.meetings.regularity import BranchMonth, Outcome, month_figures, outcome
from bot.services.meetings.reminders import DueNotice, due_reminders, record_notice
from bot.services.meetings.reports import (
    AbsentEntry,
    ReportInput,
    correct_report,
    post_report,
    report_draft,
    report_versions,
    submit_report,
)
from bot.services.meetings.rsvp import (
    RsvpCounts,
    RsvpResult,
    RsvpVia,
    private_chat_hint,
    record_rsvp,
    rsvp_counts,
    set_absence_reason,
)
from bot.services.meetings.schedule import (
    Change,
    SchedulePreview,
    ScheduleResult,
    cancel_meeting,
    cancel_reason,
    cancel_reason_problem,
    confirm_planned,
    led_open_meetings,
    open_meetings,
    preview_form,
    preview_schedule,
    reschedule_meeting,
    reschedule_to,
    schedule_meeting,
)
from storage.models import Branch, Meeting
from storage.models.meetings import AbsenceReason, MeetingKind, MeetingStatus, RsvpAnswer

__all__ = [
    "answered_text",
    "cancel_reason_problem",
    "managed_meeting",
    "meeting_start",
    "SchedulePreview",
    "preview_form",
    "preview_schedule",
    "Branch",
    "Meeting",
    "DEFAULT_CONFIG",
    "AbsenceReason",
    "AbsentEntry",
    "BranchMonth",
    "Change",
    "DueNotice",
    "LiveCounts",
    "MeetingConfig",
    "MeetingError",
    "MeetingKind",
    "MeetingStatus",
    "Notices",
    "Outcome",
    "PlanResult",
    "QuickForm",
    "Recipient",
    "ReportInput",
    "RsvpAnswer",
    "RsvpCb",
    "RsvpChoice",
    "RsvpCounts",
    "RsvpResult",
    "RsvpVia",
    "RuleSlot",
    "ScheduleResult",
    "Told",
    "branch_ics",
    "calendar_day",
    "cancel_meeting",
    "cancel_reason",
    "check_length",
    "confirm_planned",
    "correct_report",
    "due_reminders",
    "format_quick_form",
    "generate_plan",
    "led_branch",
    "led_branches",
    "led_open_meetings",
    "mark_shift_told",
    "meeting_body",
    "meeting_preview",
    "month_figures",
    "open_meetings",
    "outcome",
    "parse_date",
    "parse_quick_form",
    "parse_time",
    "post_report",
    "private_chat_hint",
    "record_notice",
    "record_rsvp",
    "report_draft",
    "report_versions",
    "reschedule_meeting",
    "reschedule_to",
    "rsvp_counts",
    "rule_slot",
    "schedule_meeting",
    "set_absence_reason",
    "shift_notices",
    "submit_report",
    "told_before",
    "update_rule",
]
