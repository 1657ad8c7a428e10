"""Restrictions on the documents a search, a timeline or an answer may draw from, and the
SQL that applies them (and a lexical query's FTS5 expression)."""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.errors import InvalidQueryError
from qa.dates.values import date_bounds, is_date_prefix


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on document metadata; None means no restriction."""

    source: str | None = None
    language: str | None = None
    date_from: str | None = None  # ISO date prefix, inclusive
    date_to: str | None = None

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and not is_date_prefix(value):
                raise InvalidQueryError(
                    f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, not '{value}'."
                )

    def is_empty(self) -> bool:
        return not (self.source or self.language or self.date_from or self.date_to)

    @property
    def matches_nothing(self) -> bool:
        """A date range that ends before it starts holds no date, so no document."""
        if not (self.date_from and self.date_to):
            return False
        return date_bounds(self.date_from)[0] > date_bounds(self.date_to)[1]


def match_expression(query_terms: list[str]) -> str:
    # Terms are \w+ tokens, so quoting them is enough to keep FTS5 syntax out.
    unique = list(dict.fromkeys(term for term in query_terms if term))
    return " OR ".join(f'"{term}"' for term in unique)


def filter_clause(filters: SearchFilters) -> tuple[str, list]:
    clauses, values = ["1=1"], []
    if filters.matches_nothing:
        clauses.append("0")
    if filters.source:
        clauses.append("d.source = ?")
        values.append(filters.source)
    if filters.language:
        clauses.append("d.language = ?")
        values.append(filters.language)
    if filters.date_from:
        clauses.append("d.date_end >= ?")
        values.append(date_bounds(filters.date_from)[0])
    if filters.date_to:
        clauses.append("d.date_start <= ?")
        values.append(date_bounds(filters.date_to)[1])
    return " AND ".join(clauses), values
