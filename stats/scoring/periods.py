"""The periods a total is kept for. An event counts toward all time, the day and the ISO week
of its `at` (in settings.TIME_ZONE), and its match."""

from datetime import date, datetime

from django.utils import timezone

ALL = "all"
PERIODS = ("all", "today", "week")


def day_key(day: date) -> str:
    return f"d{day.isoformat()}"


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"w{year}-{week:02d}"


def match_key(match_pk: int) -> str:
    return f"m{match_pk}"


def calendar_keys(at: datetime) -> tuple[str, str]:
    """(day, week) of a time, in the site's time zone."""
    day = timezone.localtime(at).date()
    return day_key(day), week_key(day)


def period_key(period: str, *, now: datetime | None = None) -> str:
    """The stored key of a named period as of now: "all", "today" or "week"."""
    if period == ALL:
        return ALL
    day = timezone.localtime(now or timezone.now()).date()
    if period == "today":
        return day_key(day)
    if period == "week":
        return week_key(day)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")
