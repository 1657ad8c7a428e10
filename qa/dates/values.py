"""Calendar values of date mentions: ISO prefixes with a precision, and a document's date
as the reference that partial and relative expressions are read against."""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from typing import Any, Literal

Precision = Literal["day", "month", "year"]


@dataclass(frozen=True)
class Reference:
    """A document's date (an ISO prefix): what relative and partial expressions read against."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, value: object) -> Reference | None:
        match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", str(value or "").strip()[:10])
        if not match:
            return None
        year, month, day = (int(part) if part else None for part in match.groups())
        try:
            datetime.date(year, month or 1, day or 1)
        except ValueError:
            return None
        return cls(year, month, day)

    @property
    def first(self) -> datetime.date:
        return datetime.date(self.year, self.month or 1, self.day or 1)

    @property
    def last(self) -> datetime.date:
        return value_bounds(iso_value(self.first, self.precision))[1]

    @property
    def precision(self) -> Precision:
        return "day" if self.day else "month" if self.month else "year"


def valid_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def iso_value(value: datetime.date, precision: Precision) -> str:
    if precision == "year":
        return f"{value.year:04d}"
    if precision == "month":
        return f"{value.year:04d}-{value.month:02d}"
    return value.isoformat()


def value_bounds(value: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of an ISO value: '2022-12' -> 2022-12-01, 2022-12-31."""
    parts = [int(part) for part in value.split("-")]
    if len(parts) == 3:
        day = datetime.date(*parts)
        return day, day
    if len(parts) == 2:
        year, month = parts
        following = datetime.date(year + month // 12, month % 12 + 1, 1)
        return datetime.date(year, month, 1), following - datetime.timedelta(days=1)
    return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)


_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def is_date_prefix(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD in ASCII digits, a day that its month has."""
    match = _DATE.fullmatch(value)
    if not match:
        return False
    year, month, day = (int(part) if part else None for part in match.groups())
    if month is not None and not 1 <= month <= 12:
        return False
    return day is None or 1 <= day <= calendar.monthrange(year, month)[1]


def date_bounds(date: str | None) -> tuple[str | None, str | None]:
    """First and last day covered by an ISO date prefix: "2022-12" -> 2022-12-01..2022-12-31."""
    if not date:
        return None, None
    parts = date.split("-")
    start = "-".join(parts + ["01"] * (3 - len(parts)))
    end = "-".join(parts + (["12", "31"] if len(parts) == 1 else ["31"] if len(parts) == 2 else []))
    return start, end


def normalise_date(value: Any) -> str | None:
    """An ISO date prefix ("2022", "2022-12", "2022-12-15") from metadata, else None."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    pattern = r"^\s*(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?"
    match = re.match(pattern, str(value or ""), flags=re.ASCII)
    if not match:
        return None
    year, month, day = match.groups()
    if month and not 1 <= int(month) <= 12:
        return year
    if day and not 1 <= int(day) <= 31:
        day = None
    parts = [year] + [f"{int(part):02d}" for part in (month, day) if part]
    return "-".join(parts)
