"""Calendar values of date mentions: ISO prefixes with a precision, and a document's date
as the reference that partial and relative expressions are read against."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Literal

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
