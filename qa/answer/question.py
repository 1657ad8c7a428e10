"""A question as the answer step takes it: checked, its language told, a follow-up's borrowed
words added; retrieval and the answer step take it from there."""

from __future__ import annotations

from dataclasses import dataclass

from qa.answer.followup import resolve
from qa.core.config import Settings
from qa.search.query import (
    SearchQuery,
    question_language,
    search_query,
    terms_language,
    validate_query,
)


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
    content words of the earlier turns it leans on (`qa.answer.followup`). The length limit applies
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
