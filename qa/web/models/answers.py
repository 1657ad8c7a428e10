"""Questions and their cited answers: `POST /api/ask` and `qa ask --json`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from qa.core.types import Answer, AnswerSentence, Citation
from qa.web.models.common import (
    EXAMPLE_DOCUMENT_ID,
    EXAMPLE_METADATA,
    EXAMPLE_PASSAGE_ID,
    EXAMPLE_PASSAGE_TEXT,
    EXAMPLE_PASSAGE_URL,
    EXAMPLE_TITLE,
    Text,
)
from qa.web.models.derived import PassageLink, derived
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


class AnswerSentenceOut(derived(AnswerSentence)):
    pass


class CitationOut(derived(Citation), PassageLink):
    pass


class AnswerResponse(
    derived(
        Answer,
        # The retrieval behind the answer, its signals and raw score: evaluation and calibration.
        exclude={"hits", "signals", "score"},
        models=[AnswerSentenceOut, CitationOut, TimelineEventOut],
    )
):
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
                            "passage_id": EXAMPLE_PASSAGE_ID,
                            "text": EXAMPLE_PASSAGE_TEXT,
                            "start": 1163,
                            "end": 1310,
                            "page": 2,
                            "highlights": [[0, 82]],
                            "metadata": EXAMPLE_METADATA,
                            "url": EXAMPLE_PASSAGE_URL,
                        }
                    ],
                    "confidence": 0.79,
                    "verdict": "answered",
                    "resolved_query": "When was the national strike scheduled?",
                }
            ]
        }
    )
