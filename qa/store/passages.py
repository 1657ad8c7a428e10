"""A stored passage as retrieval and answers read it: its text, its document's fields and its
sentence vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.core.types import Hit, Passage


@dataclass(frozen=True)
class StoredPassage:
    """A passage with the document fields that retrieval and answers show."""

    passage: Passage
    title: str
    language: str
    metadata: dict
    #: One unit vector per sentence of the passage, in order; None when not embedded.
    sentence_vectors: np.ndarray | None = None
    #: One unit vector per sentence, of the sentence with the one before it in the passage
    #: (what "it", "these devices" refer to); None when not embedded.
    context_vectors: np.ndarray | None = None

    def hit(self, rank: int, score: float = 0.0, dense: float = 0.0, lexical: float = 0.0) -> Hit:
        """The passage as a search hit at `rank` (unscored unless scores are given)."""
        passage = self.passage
        return Hit(
            passage_id=passage.id,
            document_id=passage.document_id,
            title=self.title,
            text=passage.text,
            score=round(score, 6),
            start=passage.start,
            end=passage.end,
            page=passage.page,
            rank=rank,
            dense_score=round(dense, 6),
            lexical_score=round(lexical, 6),
            metadata=self.metadata,
        )
