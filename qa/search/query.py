"""What is asked: a query checked against the settings' limits, and the language its words
are read in.

The CLI, the JSON API, the pages and the core's own entries (`Retriever.search`,
`Answerer.ask`, the timeline) all check their input here, so each limit is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.config import MAX_K, MAX_TIMELINE_EVENTS, MODES, SearchMode, Settings
from qa.core.errors import InvalidQueryError
from qa.store.filters import SearchFilters
from qa.text.languages import detect_question_language

#: What a question may not consist of alone: Python's whitespace and the `\s` of JSON
#: Schema's regular expressions (ECMA-262) together, so that the API schema's pattern
#: (`NOT_BLANK_PATTERN`) and this check agree on every character (U+001F, U+FEFF...).
BLANK = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


NOT_BLANK_PATTERN = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANK) + "]"


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


def search_filters(
    source: str | None = None,
    language: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> SearchFilters:
    """The filters of a form or a command line: an empty field means no filter."""
    return SearchFilters(source or None, language or None, date_from or None, date_to or None)


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
