"""Typed records passed between the stages of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """A document of the archive, its text normalised and its metadata kept."""

    id: str
    path: str
    title: str
    text: str
    language: str
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Character offsets where each PDF page starts (page n starts at page_starts[n-1]).
    page_starts: tuple[int, ...] = ()
    content_hash: str = ""

    @property
    def date(self) -> str | None:
        value = self.metadata.get("date")
        return str(value) if value else None

    @property
    def source(self) -> str | None:
        value = self.metadata.get("source")
        return str(value) if value else None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, for paged documents."""
        if not self.page_starts:
            return None
        page = 0
        for number, start in enumerate(self.page_starts, start=1):
            if start <= offset:
                page = number
            else:
                break
        return page or 1


@dataclass(frozen=True)
class Sentence:
    """A sentence as the splitter cut it, with its span in the document text."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A run of consecutive sentences of one document: the unit that is embedded and retrieved."""

    id: int
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[Sentence, ...]
    page: int | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file (or JSON Lines record) that could not be read, and why."""

    path: str
    reason: str


@dataclass
class Hit:
    """A retrieved passage with its fused score and the document fields a caller shows."""

    passage_id: int
    document_id: str
    title: str
    text: str
    score: float
    start: int
    end: int
    page: int | None = None
    rank: int = 0
    dense_score: float = 0.0
    lexical_score: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Citation:
    """A passage an answer cites, numbered as the answer's markers are."""

    n: int
    document_id: str
    title: str
    passage_id: int
    text: str
    start: int
    end: int
    page: int | None = None
    #: Spans, relative to the passage text, of the sentences the answer took from it.
    highlights: list[tuple[int, int]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, n: int, hit: Hit) -> Citation:
        """Citation number `n`: the retrieved passage `hit`, nothing highlighted yet."""
        return cls(
            n=n,
            document_id=hit.document_id,
            title=hit.title,
            passage_id=hit.passage_id,
            text=hit.text,
            start=hit.start,
            end=hit.end,
            page=hit.page,
            metadata=hit.metadata,
        )


@dataclass
class AnswerSentence:
    """One sentence of an answer and the number of the citation it comes from."""

    text: str
    citation: int
    score: float = 0.0


@dataclass
class Answer:
    """An extractive answer, or an abstention with the closest passages."""

    question: str
    answer: str
    abstained: bool
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float = 0.0
    #: The query actually searched (the question, resolved against the conversation).
    resolved_query: str = ""
    #: Every passage retrieved for the question, best first (for evaluation; not shown).
    hits: list[Hit] = field(default_factory=list)
    #: Said beside an answer whose sentences are in another language than the question.
    language_note: str = ""
    #: The dated events of the cited sentences, oldest first (qa/timeline.py).
    events: list[TimelineEvent] = field(default_factory=list)


@dataclass
class BuildReport:
    """What an index build did."""

    documents: int = 0
    passages: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded_passages: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0
    version: str = ""


@dataclass
class EventSource:
    """One document's sentence telling a dated event, and the passage that cites it."""

    document_id: str
    title: str
    passage_id: int
    sentence: str
    #: The sentence's span in the document text.
    start: int
    end: int
    #: The date expression as the sentence writes it.
    mention: str
    metadata: dict[str, Any] = field(default_factory=dict)
    #: In an answer, the number of the citation this source is.
    citation: int | None = None


@dataclass
class TimelineEvent:
    """A dated event: its date (ISO, with precision; a range when the ends differ) and every
    source that tells it (same date, similar sentence)."""

    value_start: str
    value_end: str
    precision: str
    first_day: str
    last_day: str
    label: str
    text: str
    sources: list[EventSource] = field(default_factory=list)

    @property
    def value(self) -> str:
        if self.value_start == self.value_end:
            return self.value_start
        return f"{self.value_start}/{self.value_end}"
