"""Extractive answers: the best sentences of the best passages, each cited, or an honest
"the archive does not say" with the closest passages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qa.config import Settings
from qa.embedders import calibration_for
from qa.features import (
    QuestionProfile,
    SentenceFeatures,
    question_profile,
    sentence_features,
)
from qa.followup import ResolvedQuestion, resolve
from qa.query import SearchFilters, validate_query
from qa.retrieval import Retriever
from qa.timeline import cited_events, events_answer
from qa.types import Answer, AnswerSentence, Citation, Hit

NO_ANSWER = (
    "The archive does not say. None of its passages answers this question; "
    "the closest ones are listed below, marked as not answering."
)
CLOSEST_SHOWN = 3
#: Passages retrieved for a question; the answer reads the best `answer_passages` of them
#: after re-ranking the first `answer_rerank_depth` by the evidence of their sentences.
RETRIEVED = 10


@dataclass
class ScoredSentence:
    features: SentenceFeatures
    score: float

    @property
    def sentence(self):
        return self.features.sentence

    @property
    def hit(self) -> Hit:
        return self.features.hit


class Answerer:
    """Answers questions from one retriever's index."""

    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings
        self.calibration = calibration_for(settings, retriever.embedder.backend)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        question = validate_query(question, self.settings, what="question")
        dated = events_answer(self.retriever, self.settings, question, filters)
        if dated is not None:  # "What happened between 10 and 15 December?"
            return dated
        language = self.retriever.query_language(question)
        resolved = resolve(
            question,
            history,
            language,
            self.settings.max_history_turns,
            max_borrowed_chars=self.settings.max_question_chars,
        )
        # The limit applies to what the user typed; the borrowed words have their own.
        hits = self.retriever.ranked(resolved.query, k=RETRIEVED, filters=filters)
        answer = self._answer(resolved, language, hits)
        answer.resolved_query = resolved.query
        answer.language_note = language_note(self.retriever.question_language(question), answer)
        answer.events = cited_events(self.retriever.index.catalog, answer)
        return answer

    def _answer(self, resolved: ResolvedQuestion, language: str, hits: list[Hit]) -> Answer:
        question = resolved.question
        if not hits:
            return self._abstain(question, hits, 0.0)
        catalog = self.retriever.index.catalog
        profile = question_profile(
            question,
            language,
            self.retriever.frequencies,
            self.retriever.passages_total,
            resolved.borrowed,
            self.settings.followup_weight,
        )
        passages = catalog.passages(hit.passage_id for hit in hits)
        query_vector = self.retriever.query_vector(resolved.query)
        features = sentence_features(profile, hits, passages, query_vector)
        scored = [ScoredSentence(f, self._score(f)) for f in features]
        hits = _rerank(hits, scored, self.settings.answer_rerank_depth)
        readable = {hit.passage_id for hit in hits[: self.settings.answer_passages]}
        ranked = _distinct(
            sorted((s for s in scored if s.hit.passage_id in readable), key=lambda s: -s.score)
        )
        best = ranked[0] if ranked else None
        confidence = self._confidence(profile, best, hits, resolved.query)
        if best is None or confidence < self.calibration.threshold:
            answer = self._abstain(question, hits, confidence)
        else:
            chosen = [best]
            length = len(best.sentence.text)
            for extra in ranked[1 : self.settings.answer_sentences]:
                # A further sentence only when it is nearly as good, and the answer stays short.
                length += len(extra.sentence.text) + 1
                if extra.score < self.settings.answer_extra_ratio * best.score:
                    break
                if length > self.settings.answer_max_chars:
                    break
                chosen.append(extra)
            answer = self._compose(question, chosen, confidence)
        answer.hits = hits
        return answer

    def _score(self, features: SentenceFeatures) -> float:
        """How well a sentence answers: the question's terms it holds, first of all."""
        settings = self.settings
        return (
            features.coverage
            + settings.answer_context_weight * features.context
            + settings.answer_passage_weight * features.passage
            + settings.answer_rank_weight * features.rank
            + settings.answer_kind_weight * features.kind
            + settings.answer_dense_weight * features.dense
        )

    def _confidence(
        self, profile: QuestionProfile, best: ScoredSentence | None, hits: list[Hit], query: str
    ) -> float:
        """Share of the question the best sentence covers, blended with how far its cosine
        with the question (the best passage's, without sentence vectors) rises above the
        archive's typical cosine for this question, less a penalty when the sentence lacks a
        term that carries much of the question."""
        if best is None:
            return 0.0
        dense = best.features.cosine or max(hit.dense_score for hit in hits)
        floor = self.retriever.background(query)
        lift = (dense - floor) / (1 - floor) if floor < 1 else 0.0
        weight = self.calibration.dense_weight
        confidence = (1 - weight) * best.features.coverage + weight * lift
        confidence -= self.settings.abstain_missing_penalty * best.features.missing
        return confidence

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
        )


#: Names of the languages a note may name (others are named by their code).
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "fr": "French",
    "it": "Italian",
    "de": "German",
    "ca": "Catalan",
    "nl": "Dutch",
}


def language_note(question_language: str, answer: Answer) -> str:
    """A plain note when the answer's sentences are in another language than the question:
    answers are the archive's own sentences, never translated."""
    if answer.abstained:
        return ""
    cited = {answer.citations[s.citation - 1].metadata.get("language") for s in answer.sentences}
    others = sorted(code for code in cited if code and code != question_language)
    if not others:
        return ""
    names = " and ".join(LANGUAGE_NAMES.get(code, code) for code in others)
    asked = LANGUAGE_NAMES.get(question_language, question_language)
    return (
        f"The archive's answer is in {names}, as its documents are; your question was in "
        f"{asked}. Answers are the archive's own sentences, not translations."
    )


def _rerank(hits: list[Hit], scored: list[ScoredSentence], depth: int) -> list[Hit]:
    """The first `depth` hits re-ordered by their best sentence's score (retrieval order
    breaks ties), then the rest in retrieval order."""
    best: dict[int, float] = {}
    for item in scored:
        passage_id = item.hit.passage_id
        best[passage_id] = max(best.get(passage_id, item.score), item.score)
    ordered = sorted(hits[:depth], key=lambda hit: -best.get(hit.passage_id, 0.0)) + hits[depth:]
    return [replace(hit, rank=rank) for rank, hit in enumerate(ordered, start=1)]


def _distinct(ranked: list[ScoredSentence]) -> list[ScoredSentence]:
    """The first occurrence of each sentence (overlapping passages share sentences)."""
    seen: set[tuple[str, int]] = set()
    kept = []
    for item in ranked:
        key = (item.hit.document_id, item.sentence.start)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


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
