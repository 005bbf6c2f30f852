"""Ages in whole months, without a database: the one rule the children's checks and the
feed read (companion spec §4, "Age counts whole months").

A child born on day D of a month is N months old from the N-th month after it, on day D,
or on that month's last day when it has no day D (born 31 January: one month old on
28 February, or 29 in a leap year; born 29 February: twelve months old on 28 February of
the next year). So "N months after" is `add_months`, and the age is the largest N whose
day has come.
"""

import calendar
from datetime import date

# The oldest age a range or a child may have: 18 years (companion spec §4).
MAX_AGE_MONTHS = 216


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` (negative: back), on the same day of the month, or on the
    last day of a month that has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def age_in_months(birth: date, today: date) -> int:
    """Whole months from `birth` to `today`; -1 for a birth after `today` (a profile's
    `child_dob` may say so): inside no range that has a lower bound."""
    if birth > today:
        return -1
    months = (today.year - birth.year) * 12 + today.month - birth.month
    if add_months(birth, months) > today:
        months -= 1
    return months


def oldest_birth_date(today: date) -> date:
    """The earliest birth date a child may have: 18 years (216 months) before `today`."""
    return add_months(today, -MAX_AGE_MONTHS)
