"""Working-day deadlines across weekends, holidays and make-up days."""

from datetime import date

from core.workdays import WorkdayCalendar


def test_five_working_days_skip_the_national_day_holiday():
    cal = WorkdayCalendar.from_rules()
    # 2025-09-30 (Tue) + 5 working days: Oct 1-8 off, Oct 9 Thu, 10 Fri, 11 Sat (make-up), 13, 14
    assert cal.add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 14)


def test_make_up_saturday_counts_and_plain_weekend_does_not():
    cal = WorkdayCalendar.from_rules()
    assert cal.is_workday(date(2025, 10, 11))  # Saturday make-up day
    assert not cal.is_workday(date(2025, 10, 12))
    assert not cal.is_workday(date(2025, 10, 1))
    assert cal.add_workdays(date(2025, 11, 7), 1) == date(2025, 11, 10)  # Fri -> Mon


def test_workdays_between_matches_add_workdays():
    cal = WorkdayCalendar.from_rules()
    start = date(2026, 2, 10)
    end = cal.add_workdays(start, 20)
    assert cal.workdays_between(start, end) == 20
