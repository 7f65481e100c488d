"""Branch meetings: plan from each branch's rule, schedule, RSVP, remind, report, regularity.

Plain async services over `storage.repositories.meetings`: no aiogram types, no sending. They
raise `MeetingError` (a catalog key and fields) for anything the person must fix, and return
"who must be told" so the caller queues messages through the outbox in the same transaction.
Everything is stored in UTC and read in Asia/Ho_Chi_Minh (`bot.services.vn_calendar`).
"""

from bot.services.meetings.common import DEFAULT_CONFIG, MeetingConfig, MeetingError
from bot.services.meetings.ics import branch_ics
from bot.services.meetings.plan import (
    PlanResult,
    RuleSlot,
    generate_plan,
    mark_shift_told,
    rule_slot,
    shift_notices,
    update_rule,
)
from bot.services.meetings.quickform import (
    QuickForm,
    format_quick_form,
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
    record_rsvp,
    rsvp_counts,
    set_absence_reason,
)
from bot.services.meetings.schedule import (
    Change,
    Recipient,
    ScheduleResult,
    cancel_meeting,
    open_meetings,
    reschedule_meeting,
    schedule_meeting,
    told_before,
)

__all__ = [
    "DEFAULT_CONFIG",
    "AbsentEntry",
    "BranchMonth",
    "Change",
    "DueNotice",
    "MeetingConfig",
    "MeetingError",
    "Outcome",
    "PlanResult",
    "QuickForm",
    "Recipient",
    "ReportInput",
    "RsvpCounts",
    "RsvpResult",
    "RuleSlot",
    "ScheduleResult",
    "branch_ics",
    "cancel_meeting",
    "correct_report",
    "due_reminders",
    "format_quick_form",
    "generate_plan",
    "mark_shift_told",
    "month_figures",
    "open_meetings",
    "outcome",
    "parse_date",
    "parse_quick_form",
    "parse_time",
    "post_report",
    "record_notice",
    "record_rsvp",
    "report_draft",
    "report_versions",
    "reschedule_meeting",
    "rsvp_counts",
    "rule_slot",
    "schedule_meeting",
    "set_absence_reason",
    "shift_notices",
    "submit_report",
    "told_before",
    "update_rule",
]
