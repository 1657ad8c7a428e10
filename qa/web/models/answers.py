"""Questions and their cited answers: `POST /api/ask` and `qa ask --json`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qa.core.types import Answer, Citation
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_TITLE,
    Text,
    document_url,
)
from qa.web.models.timeline import TimelineEventOut


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
