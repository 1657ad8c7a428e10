"""What is asked: a query or a question checked against the settings' limits, the filters on
the documents it may find, and the language its words are read in.

The CLI, the JSON API, the pages and the core's own entries (`Retriever.search`,
`Answerer.ask`, the timeline) all check their input here, so each limit is written once.
A question leaves this module as a `Question`: checked, its language told, a follow-up's
borrowed words added; retrieval and the answer step take it from there.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

from qa.config import MAX_K, MAX_TIMELINE_EVENTS, MODES, SearchMode, Settings
from qa.errors import InvalidQueryError
from qa.followup import resolve
from qa.text import detect_question_language

#: What a question may not consist of alone: Python's whitespace and the `\s` of JSON
#: Schema's regular expressions (ECMA-262) together, so that the API schema's pattern
#: (`NOT_BLANK_PATTERN`) and this check agree on every character (U+001F, U+FEFF...).
BLANK = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
NOT_BLANK_PATTERN = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANK) + "]"
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def validate_query(query: str, settings: Settings, what: str = "query") -> str:
    """The query stripped; InvalidQueryError if blank or longer than the settings allow."""
    query = query or ""
    stripped = query.strip(BLANK)
    if not stripped:
        raise InvalidQueryError(f"The {what} is empty.")
    # The length as sent, spaces included: what the API schema's maxLength promises.
    if len(query) > settings.max_question_chars:
        raise InvalidQueryError(
            f"The {what} has {len(query)} characters; the limit is {settings.max_question_chars}."
        )
    return stripped


def search_limits(k: int | None, mode: str | None, settings: Settings) -> tuple[int, SearchMode]:
    """The number of hits and the retrieval mode asked for, the settings' defaults for those
    not given; InvalidQueryError for k outside 1..MAX_K or an unknown mode."""
    k = settings.search_k if k is None else k
    if not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k must be between 1 and {MAX_K}, not {k}.")
    mode = mode or settings.search_mode
    if mode not in MODES:
        raise InvalidQueryError(f"mode must be one of {', '.join(MODES)}, not '{mode}'.")
    return k, mode


def timeline_limit(limit: int | None, settings: Settings) -> int:
    """The most events a timeline lists (the settings' default when not given)."""
    limit = settings.timeline_limit if limit is None else limit
    if not 1 <= limit <= MAX_TIMELINE_EVENTS:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_TIMELINE_EVENTS}, not {limit}.")
    return limit


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
            if value is not None and not valid_date(value):
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


def search_filters(
    source: str | None = None,
    language: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> SearchFilters:
    """The filters of a form or a command line: an empty field means no filter."""
    return SearchFilters(source or None, language or None, date_from or None, date_to or None)


def valid_date(value: str) -> bool:
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


def question_language(text: str, languages: list[str]) -> str:
    """The language of a query or question among the languages the lexical index stems
    (`languages[0]`, the archive's main one, when it is too short to tell)."""
    return detect_question_language(text, default=languages[0])


def terms_language(text: str, languages: list[str]) -> str:
    """The language a question's terms are weighed in: its own if the archive has documents
    in it, else the archive's main one."""
    detected = question_language(text, languages)
    return detected if detected in languages else languages[0]


@dataclass(frozen=True)
class SearchQuery:
    """A checked query and the language its words are read in."""

    text: str
    language: str


def search_query(text: str, languages: list[str]) -> SearchQuery:
    """`text` (already checked) as a search query of an archive in these languages (the
    language of most documents first)."""
    return SearchQuery(text, question_language(text, languages))


@dataclass(frozen=True)
class Question:
    """A checked question, its language, and the words a follow-up borrows from earlier turns."""

    text: str
    language: str
    #: The language its terms are weighed in (see `terms_language`).
    terms_language: str
    borrowed: tuple[str, ...]
    #: What retrieval searches: the question followed by the borrowed words.
    search: SearchQuery


def read_question(
    question: str, history: list[dict] | None, settings: Settings, languages: list[str]
) -> Question:
    """The question as typed, checked (InvalidQueryError if blank or too long), with the
    content words of the earlier turns it leans on (`qa.followup`). The length limit applies
    to what the user typed; the borrowed words have their own."""
    text = validate_query(question, settings, what="question")
    weighed_in = terms_language(text, languages)
    resolved = resolve(
        text,
        history,
        weighed_in,
        settings.max_history_turns,
        max_borrowed_chars=settings.max_question_chars,
    )
    return Question(
        text=text,
        language=question_language(text, languages),
        terms_language=weighed_in,
        borrowed=resolved.borrowed,
        search=search_query(resolved.query, languages),
    )
