"""Working-day calendar (工作日) for legal deadlines, with holidays and make-up days from a rules table."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from core import rules


@dataclass(frozen=True)
class WorkdayCalendar:
    """Weekends and listed holidays are off; listed make-up days are on."""

    holidays: frozenset[date]
    makeup_days: frozenset[date]
    version: str = "custom"

    @classmethod
    def from_rules(cls, path: str | None = None) -> WorkdayCalendar:
        """Build the calendar from ``core/rules/holidays.toml`` (or another file in the same form)."""
        table = rules.load("holidays", path)
        days: set[date] = set()
        for h in table.get("holiday", []):
            d, last = _as_date(h["first"]), _as_date(h["last"])
            while d <= last:
                days.add(d)
                d += timedelta(days=1)
        makeup = {_as_date(d) for d in table.get("makeup", {}).get("days", [])}
        return cls(frozenset(days), frozenset(makeup), str(table["meta"]["version"]))

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_workdays(self, start: date, n: int) -> date:
        """The date ``n`` working days after ``start`` (the start day itself is not counted)."""
        if n < 0:
            raise ValueError(f"expected a non-negative number of working days, got {n}")
        day, left = start, n
        while left:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative), clamped to the month's end
    (2024-02-29 + 12 -> 2025-02-28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
