"""The clock rules of notifications, as pure functions of an instant (tested across a
daylight-saving change with an injected clock): quiet hours, reminder periods, the
rolling week of the reminder cap."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tma.notifications.models import ReminderFrequency

CAP_WINDOW = timedelta(days=7)
REMINDERS_PER_WEEK = {
    ReminderFrequency.NEVER: 0,
    ReminderFrequency.WEEKLY: 1,
    ReminderFrequency.TWICE_WEEKLY: 2,
}


@dataclass(frozen=True, slots=True)
class Quiet:
    """Quiet hours: local wall-clock times in `zone`; `start > end` crosses midnight."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, start: str | None, end: str | None, zone: str) -> "Quiet | None":
        if start is None or end is None:
            return None
        return cls(time.fromisoformat(start), time.fromisoformat(end), ZoneInfo(zone))

    def _inside(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def _end_instant(self, day: date) -> datetime:
        # The end on that local day, as an instant: a wall-clock time that does not exist
        # (skipped by a spring-forward change) is read with the offset before the change,
        # which lands just after the skipped hour; a repeated one (autumn) is its first
        # occurrence (fold=0).
        local = datetime.combine(day, self.end, tzinfo=self.zone)
        return local.astimezone(UTC)

    def deferred(self, now: datetime) -> datetime | None:
        """The instant quiet hours that hold at `now` end, or None when `now` is outside
        them (a message may go at once)."""
        local = now.astimezone(self.zone)
        if not self._inside(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)  # the evening part: the end is tomorrow morning
        end = self._end_instant(day)
        return end if end > now else None


def iso_week(now: datetime) -> str:
    """`2026-W49`: the ISO week of `now` in UTC."""
    year, week, _ = now.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def reminder_period(now: datetime, frequency: ReminderFrequency) -> str:
    """The period a reminder belongs to: its ISO week (UTC) for `weekly`; for
    `twice_weekly` the half of it (`a`: Monday to Wednesday, `b`: Thursday to Sunday)."""
    week = iso_week(now)
    if frequency is ReminderFrequency.TWICE_WEEKLY:
        return week + ("a" if now.astimezone(UTC).isoweekday() <= 3 else "b")
    return week
