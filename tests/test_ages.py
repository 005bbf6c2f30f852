"""The age rule without a database (tma.children.ages): whole months, a month complete
on the same day of the month or on the last day of a month that has no such day.

Contract: docs/contracts/children.md and docs/contracts/feed.md ("Age counts whole months").
"""

from datetime import date

import pytest

from tma.children.ages import add_months, age_in_months, oldest_birth_date


@pytest.mark.parametrize(
    ("birth", "today", "months"),
    [
        (date(2025, 3, 5), date(2026, 3, 5), 12),  # exactly 12 months
        (date(2025, 3, 5), date(2026, 3, 4), 11),  # the day before
        (date(2026, 3, 5), date(2026, 3, 5), 0),  # born today
        (date(2026, 2, 5), date(2026, 3, 5), 1),  # exactly one month
        (date(2024, 2, 29), date(2025, 2, 28), 12),  # born 29 February, no 29th: the 28th
        (date(2024, 2, 29), date(2025, 2, 27), 11),
        (date(2024, 2, 29), date(2028, 2, 28), 47),  # a leap year has its 29th
        (date(2024, 2, 29), date(2028, 2, 29), 48),
        (date(2024, 2, 29), date(2024, 3, 29), 1),
        (date(2026, 1, 31), date(2026, 2, 28), 1),  # 31 January: one month on 28 February
        (date(2026, 1, 31), date(2026, 2, 27), 0),
        (date(2026, 1, 31), date(2026, 3, 30), 1),
        (date(2026, 1, 31), date(2026, 3, 31), 2),
        (date(2008, 3, 5), date(2026, 3, 5), 216),
        (date(2026, 3, 6), date(2026, 3, 5), -1),  # not born yet
    ],
)
def test_age_in_months_counts_whole_months(birth, today, months):
    """Whole months, at the edges of a month and of February."""
    assert age_in_months(birth, today) == months


def test_add_months_keeps_the_day_or_the_months_last():
    """Moving by months keeps the day, or takes the month's last day."""
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), -12) == date(2023, 2, 28)
    assert add_months(date(2026, 3, 5), -216) == date(2008, 3, 5)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_oldest_birth_date_is_216_months_back():
    """18 years back, on a day the month has."""
    assert oldest_birth_date(date(2028, 2, 29)) == date(2010, 2, 28)
    assert oldest_birth_date(date(2026, 3, 5)) == date(2008, 3, 5)
