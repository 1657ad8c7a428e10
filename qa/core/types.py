"""Typed records passed between the stages of the pipeline.

They are also the shapes of the HTTP API and of the CLI's `--json` (qa/web/models derives its
models from them): a field's `described` text is its description in the API's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NewType

#: A passage's stable id: a 63-bit integer hashed from its document and text
#: (qa/index/chunking.py). The API writes it as a string (qa/web/models/common.py).
PassageId = NewType("PassageId", int)


def described(description: str, **options: Any) -> Any:
    """A dataclass field (`options` as for `dataclasses.field`) with `description` in its
    metadata, where the API's schema reads it: one text documents the field everywhere."""
    return field(metadata={"description": description}, **options)


@dataclass(frozen=True)
class Document:
    """A document of the archive, its text normalised and its metadata kept."""

    id: str
    path: str = described("Path of the file in the corpus folder.")
    title: str
    text: str
    language: str
    metadata: dict[str, Any] = field(default_factory=dict)
    page_starts: tuple[int, ...] = described(
        "Character offset where each page starts, for paged documents (PDF): page n starts "
        "at page_starts[n-1].",
        default=(),
    )
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

    id: PassageId = described("Stable id of the passage.")
    document_id: str
    ordinal: int = described("Position of the passage in its document, from 0.")
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

    passage_id: PassageId = described("Stable id of the passage.")
    document_id: str
    title: str
    text: str = described("The passage text.")
    score: float = described("Fused relevance score, higher is better.")
    start: int = described("Character offset of the passage in the document text.")
    end: int
    page: int | None = described("Page of a paged document (PDF), else null.", default=None)
    rank: int = 0
    dense_score: float = 0.0
    lexical_score: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Citation:
    """A passage an answer cites, numbered as the answer's markers are."""

    n: int = described("The number the answer's markers use: [n].")
    document_id: str
    title: str
    passage_id: PassageId = described("Stable id of the cited passage.")
    text: str = described("The cited passage.")
    start: int
    end: int
    page: int | None = None
    highlights: list[tuple[int, int]] = described(
        "Spans (in characters of `text`) of the sentences the answer took from it.",
        default_factory=list,
    )
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


#: What an answer is: see `Answer.verdict`.
Verdict = Literal["answered", "uncertain", "not_in_archive"]


@dataclass
class AnswerSentence:
    """One sentence of an answer and the number of the citation it comes from."""

    text: str
    citation: int = described("The `n` of the citation this sentence comes from.")
    score: float = 0.0


@dataclass
class Answer:
    """An extractive answer, or an abstention with the closest passages."""

    question: str
    answer: str = described("The answer's sentences with their [n] markers.")
    abstained: bool = described(
        "True when the archive does not answer (`verdict` 'not_in_archive'); `citations` then "
        "holds the closest passages, which are not an answer."
    )
    sentences: list[AnswerSentence]
    citations: list[Citation]
    confidence: float = described(
        "The chance, from 0 to 1, that the answer's first two sentences hold the answer, "
        "calibrated on the project's question sets over several archives and checked on sets "
        "held out from the fitting (docs/evaluation.md#verdicts-and-a-calibrated-confidence); "
        "for a refusal, the chance that the closest sentence would have.",
        default=0.0,
    )
    verdict: Verdict = described(
        "'answered': the sentences answer the question; 'uncertain': the archive may not "
        "answer it, and the sentences are the closest it comes (shown apart from an answer); "
        "'not_in_archive': the archive does not say, and `abstained` is true.",
        default="answered",
    )
    #: The answer step's raw score, which the refusal threshold applies to (not shown).
    score: float = 0.0
    #: The signals the answer step read its verdict and confidence from
    #: (`qa.answer.verdict`), for calibrating them (`scripts/tuning/fit_verdicts.py`); not shown.
    signals: dict[str, float] = field(default_factory=dict)
    resolved_query: str = described(
        "The query searched: the question, resolved against the conversation (follow-ups).",
        default="",
    )
    #: Every passage retrieved for the question, best first (for evaluation; not shown).
    hits: list[Hit] = field(default_factory=list)
    language_note: str = described(
        "Said beside an answer whose sentences are in another language than the question "
        "(answers are the archive's own sentences, never translated); empty otherwise.",
        default="",
    )
    events: list[TimelineEvent] = described(
        "The dated events of the cited sentences (or, for 'what happened between ... and "
        "...?', of the span asked about), oldest first.",
        default_factory=list,
    )


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
    #: Passages whose vectors an earlier, unfinished cluster build had computed (not embedded).
    staged_passages: int = 0
    #: The Ray cluster the build ran on ("" for this process), its embedding workers, and the
    #: tasks run again after a worker or node was lost.
    cluster: str = ""
    workers: int = 1
    retried_tasks: int = 0


@dataclass
class EventSource:
    """One document's sentence telling a dated event, and the passage that cites it."""

    document_id: str
    title: str
    passage_id: PassageId = described("The passage that holds the sentence.")
    sentence: str = described("The sentence that tells the event.")
    start: int = described("Character offset of the sentence in the document text.")
    end: int
    mention: str = described("The date expression as the sentence writes it.")
    metadata: dict[str, Any] = field(default_factory=dict)
    citation: int | None = described(
        "In an answer, the `n` of the citation this sentence comes from.", default=None
    )


@dataclass
class TimelineEvent:
    """A dated event: its date (ISO, with precision; a range when the ends differ) and every
    source that tells it (same date, similar sentence)."""

    value_start: str = described("The date, or the start of a range (ISO, to its precision).")
    value_end: str = described("The end of a range; the date again when the event is one date.")
    precision: str = described("'day', 'month' or 'year'.")
    first_day: str = described("First day the date covers (YYYY-MM-DD).")
    last_day: str
    label: str = described("The date for people: '10 Dec 2022', '13–15 Dec 2022'.")
    text: str = described("The sentence of the first source.")
    sources: list[EventSource] = described(
        "Every document that tells the event.", default_factory=list
    )

    @property
    def value(self) -> str:
        if self.value_start == self.value_end:
            return self.value_start
        return f"{self.value_start}/{self.value_end}"
