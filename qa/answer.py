"""Extractive answers: the best sentences of the best passages, each cited, or an honest
"the archive does not say" with the closest passages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.config import Settings
from qa.retrieval import Retriever, validate_query
from qa.store import SearchFilters
from qa.text import stop_words, terms, words
from qa.types import Answer, AnswerSentence, Citation, Hit, Sentence

NO_ANSWER = (
    "The archive does not say. None of its passages answers this question; "
    "the closest ones are listed below, marked as not answering."
)
CLOSEST_SHOWN = 3
#: Passages retrieved for a question (the answer reads the best `answer_passages`).
RETRIEVED = 10


@dataclass
class ScoredSentence:
    sentence: Sentence
    hit: Hit
    score: float
    coverage: float


class Answerer:
    """Answers questions from one retriever's index."""

    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        question = validate_query(question, self.settings, what="question")
        hits = self.retriever.search(question, k=RETRIEVED, filters=filters)
        answer = self._answer(question, hits)
        answer.hits = hits
        return answer

    def _answer(self, question: str, hits: list[Hit]) -> Answer:
        if not hits:
            return self._abstain(question, hits, 0.0)
        scored = self._score_sentences(question, hits[: self.settings.answer_passages])
        best = scored[0] if scored else None
        confidence = self._confidence(best, hits)
        if best is None or confidence < self.settings.abstain_threshold:
            return self._abstain(question, hits, confidence)
        chosen = [best] + [
            s for s in scored[1 : self.settings.answer_sentences] if s.score >= 0.8 * best.score
        ]
        return self._compose(question, chosen, confidence)

    def _question_weights(self, question: str) -> dict[str, float]:
        """Rarity (BM25 idf) of each content term of the question, stop words left out."""
        language = self.retriever.query_language(question)
        stops = stop_words(language)
        content = [w for w in words(question) if w not in stops]
        question_terms = terms(" ".join(content), language)
        catalog = self.retriever.index.catalog
        total = max(1, catalog.counts()[1])
        frequencies = catalog.document_frequencies(question_terms)
        return {
            term: math.log(1 + (total - df + 0.5) / (df + 0.5))
            for term, df in frequencies.items()
        }

    def _score_sentences(self, question: str, hits: list[Hit]) -> list[ScoredSentence]:
        weights = self._question_weights(question)
        total_weight = sum(weights.values()) or 1.0
        passages = self.retriever.index.catalog.passages(hit.passage_id for hit in hits)
        best_passage = max(hit.score for hit in hits) or 1.0
        seen: set[tuple[str, int]] = set()
        scored: list[ScoredSentence] = []
        for hit in hits:
            stored = passages.get(hit.passage_id)
            if stored is None:
                continue
            for sentence in stored.passage.sentences:
                key = (hit.document_id, sentence.start)
                if key in seen:
                    continue
                seen.add(key)
                sentence_terms = set(terms(sentence.text, stored.language))
                coverage = sum(w for t, w in weights.items() if t in sentence_terms) / total_weight
                score = 0.7 * coverage + 0.3 * (hit.score / best_passage)
                scored.append(ScoredSentence(sentence, hit, score, coverage))
        scored.sort(key=lambda s: -s.score)
        return scored

    def _confidence(self, best: ScoredSentence | None, hits: list[Hit]) -> float:
        if best is None:
            return 0.0
        return 0.5 * best.coverage + 0.5 * max(hit.dense_score for hit in hits)

    def _compose(self, question: str, chosen: list[ScoredSentence], confidence: float) -> Answer:
        citations: dict[int, Citation] = {}
        sentences: list[AnswerSentence] = []
        for item in chosen:
            hit = item.hit
            citation = citations.get(hit.passage_id)
            if citation is None:
                citation = _citation(len(citations) + 1, hit)
                citations[hit.passage_id] = citation
            citation.highlights.append(
                (item.sentence.start - hit.start, item.sentence.end - hit.start)
            )
            sentences.append(AnswerSentence(item.sentence.text, citation.n, round(item.score, 4)))
        text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            sentences=sentences,
            citations=list(citations.values()),
            confidence=round(confidence, 4),
            resolved_query=question,
        )

    def _abstain(self, question: str, hits: list[Hit], confidence: float) -> Answer:
        closest = [_citation(n, hit) for n, hit in enumerate(hits[:CLOSEST_SHOWN], start=1)]
        return Answer(
            question=question,
            answer=NO_ANSWER,
            abstained=True,
            sentences=[],
            citations=closest,
            confidence=round(confidence, 4),
            resolved_query=question,
        )


def _citation(n: int, hit: Hit) -> Citation:
    return Citation(
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
