"""Extractive answers: the best sentences of the best passages, each cited, or an honest
"the archive does not say" with the closest passages.

A question flows down once: read and checked (`qa.answer.question`, with a follow-up's
borrowed words), answered from the timeline when it asks what happened in a span of dates
(`qa.answer.span`), else its passages found (`qa.search.retriever`, fused by
`qa.search.fusion`), and then the answer read from their sentences here, its confidence
measured against the archive's floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from qa.answer.calibration import Calibration, calibration_for
from qa.answer.features import (
    SentenceFeatures,
    asks_quantity,
    holds_number,
    question_profile,
    sentence_features,
)
from qa.answer.question import Question, read_question
from qa.answer.span import cited_events, events_answer
from qa.answer.topic import (
    archive_words,
    background_cosine,
    barely_on_topic,
    candidate_lifts,
    off_topic,
)
from qa.answer.verdict import probability, verdict
from qa.core.config import Settings
from qa.core.types import Answer, AnswerSentence, Citation, Hit
from qa.index.versions import IndexVersion
from qa.search.retriever import Retriever
from qa.store.filters import SearchFilters

NO_ANSWER = (
    "The archive does not say. None of its passages answers this question; "
    "the closest ones are listed below, marked as not answering."
)
#: Said before the sentences of an 'uncertain' answer (the chat page says it too).
UNCERTAIN_NOTE = "The archive may not answer this; the closest it comes:"
CLOSEST_SHOWN = 3
#: Passages retrieved for a question; the answer reads the best `answer_passages` of them
#: after re-ranking the first `answer_rerank_depth` by the evidence of their sentences.
RETRIEVED = 10
#: Passages whose mean cosine to a question stands for "a typical passage of this archive".
FLOOR_SAMPLE = 1000


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


class ArchiveFloor:
    """The mean cosine of a question with a fixed sample of the archive's passages (the
    lowest passage ids, which are hashes, so the sample is arbitrary but stable).

    A model's cosines have a floor that depends on the language and the model (about 0.05
    for English questions over English passages with all-MiniLM-L6-v2, about 0.26 for
    Spanish over Spanish); measuring a sentence against this floor makes the dense evidence
    mean the same in either, and in an archive of any size."""

    def __init__(self, index: IndexVersion, sample: int = FLOOR_SAMPLE) -> None:
        self.index = index
        self.sample = sample
        self._vectors: np.ndarray | None = None

    def cosine(self, query_vector: np.ndarray) -> float:
        if self._vectors is None:
            ids = self.index.catalog.passage_ids(limit=self.sample)
            self._vectors = self.index.vectors.vectors(ids)
        if not len(self._vectors):
            return 0.0
        return float(np.mean(self._vectors @ query_vector))


class Answerer:
    """Answers questions from one retriever's index, with the embedding model's calibration
    (`qa.answer.calibration`) unless given another whole."""

    def __init__(
        self, retriever: Retriever, settings: Settings, calibration: Calibration | None = None
    ) -> None:
        self.retriever = retriever
        self.index = retriever.index
        self.settings = settings
        self.calibration = calibration or calibration_for(settings, retriever.embedder.backend)
        self.floor = ArchiveFloor(self.index)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        """The answer to a question as a user typed it (checked first): each stage is called
        once, in order, and hands its result down to the next."""
        asked = read_question(question, history, self.settings, self.index.languages)
        dated = events_answer(self.retriever, self.settings, asked.text, filters)
        if dated is not None:  # "What happened between 10 and 15 December?"
            return dated
        mode = self.settings.search_mode
        hits = self.retriever.ranked(asked.search, RETRIEVED, mode, filters)
        answer = self._answer(asked, hits, self.retriever.query_vector(asked.search.text))
        answer.resolved_query = asked.search.text
        answer.language_note = language_note(asked.language, answer)
        answer.events = cited_events(self.index.catalog, answer)
        return answer

    def _answer(self, asked: Question, hits: list[Hit], query_vector: np.ndarray) -> Answer:
        question = asked.text
        if not hits:
            return self._abstain(question, hits, 0.0)
        profile = question_profile(
            question,
            asked.terms_language,
            self.index.frequencies,
            self.index.passages_total,
            asked.borrowed,
            self.settings.followup_weight,
        )
        passages = self.index.catalog.passages(hit.passage_id for hit in hits)
        features = sentence_features(profile, hits, passages, query_vector)
        # Headings and title lines state nothing: they lend the sentences after them their
        # words (`context`) but are neither evidence nor an answer (`qa.text.headings`).
        scored = [ScoredSentence(f, self._score(f)) for f in features if not f.heading]
        retrieved = hits
        hits = _rerank(hits, scored, self.settings.answer_rerank_depth)
        readable = {hit.passage_id for hit in hits[: self.settings.answer_passages]}
        ranked = _distinct(
            sorted((s for s in scored if s.hit.passage_id in readable), key=lambda s: -s.score)
        )
        best = ranked[0] if ranked else None
        floor = self.floor.cosine(query_vector)
        confidence = self._confidence(best, hits, floor)
        signals = self._signals(best, confidence, floor, query_vector)
        # The off-topic check reads what the judge reads too, so it runs for every question.
        off = self._off_topic(asked, scored, query_vector, signals)
        refused = best is None or off or confidence < self.calibration.refusal_threshold
        chosen = self._chosen(best, ranked)
        if signals and asks_quantity(question):
            # "How many ...?" answered by sentences that hold no quantity: not an answer.
            held = any(holds_number(s.sentence.text, profile.words) for s in chosen[:2])
            signals["quantity_lacking"] = float(not held)
        chance = probability(signals, self.calibration)
        if refused:
            # No sentence answers: the closest passages are the search's, in its order.
            answer = self._abstain(question, retrieved, confidence)
            answer.hits, answer.signals = retrieved, signals
            answer.confidence = round(chance, 4)
            return answer
        answer = self._compose(question, chosen, confidence)
        answer.hits, answer.signals = hits, signals
        answer.confidence = round(chance, 4)
        answer.verdict = verdict(False, chance, self.calibration, signals)
        return answer

    def _chosen(
        self, best: ScoredSentence | None, ranked: list[ScoredSentence]
    ) -> list[ScoredSentence]:
        """The answer's sentences: the best, and after it those nearly as good while the answer
        stays short."""
        if best is None:
            return []
        chosen = [best]
        length = len(best.sentence.text)
        for extra in ranked[1 : self.settings.answer_sentences]:
            length += len(extra.sentence.text) + 1
            if extra.score < self.settings.answer_extra_ratio * best.score:
                break
            if length > self.settings.answer_max_chars:
                break
            chosen.append(extra)
        return chosen

    def _score(self, features: SentenceFeatures) -> float:
        """How well a sentence answers: the question's terms it holds, first of all."""
        weights = self.calibration
        return (
            features.coverage
            + weights.sentence_context_weight * features.context
            + weights.sentence_passage_weight * features.passage
            + weights.sentence_rank_weight * features.rank
            + weights.sentence_kind_weight * features.kind
            + weights.sentence_dense_weight * features.dense
            + weights.sentence_context_dense_weight * features.context_dense
        )

    def _confidence(self, best: ScoredSentence | None, hits: list[Hit], floor: float) -> float:
        """Share of the question the best sentence covers, blended with how far its cosine
        with the question (the best passage's, without sentence vectors) rises above the
        archive's typical cosine for this question, less a penalty when the sentence lacks a
        term that carries much of the question. `floor`: the question's mean cosine with the
        archive's sample."""
        if best is None:
            return 0.0
        dense = best.features.cosine or max(hit.dense_score for hit in hits)
        lift = _lift(dense, floor)
        weight = self.calibration.confidence_dense_weight
        confidence = (1 - weight) * best.features.coverage + weight * lift
        confidence -= self.calibration.confidence_missing_penalty * best.features.missing
        return confidence

    def _signals(
        self, best: ScoredSentence | None, confidence: float, floor: float, query_vector
    ) -> dict[str, float]:
        """What a judge of the answer may read (`Answer.signals`): the confidence, and the best
        sentence's signals, its cosine measured against the archive and, where the calibration
        checks it, against everyday text in its language (which no archive moves)."""
        if best is None:
            return {}
        features, cosine = best.features, best.features.cosine
        found = {
            "score": confidence,
            "coverage": features.coverage,
            "missing": features.missing,
            "kind": features.kind,
            "cosine": cosine,
            "archive_lift": _lift(cosine, floor) if cosine else 0.0,
        }
        if self.calibration.refusal_background_lift is not None and cosine:
            # Only where the off-topic check reads it (`_off_topic`).
            language = best.hit.metadata.get("language")
            everyday = background_cosine(self.retriever.embedder, query_vector, language)
            found["background_lift"] = _lift(cosine, everyday)
        return found

    def _off_topic(
        self,
        asked: Question,
        scored: list[ScoredSentence],
        query_vector: np.ndarray,
        signals: dict[str, float],
    ) -> bool:
        """Whether the question is about something the archive never mentions
        (`qa.answer.topic`): no candidate sentence of prose rises far enough above everyday
        text in its language, and further still when the question names something no document
        holds. (The confidence measures against the archive's own passages, which in an archive of
        one topic are all near any question about that topic.) Writes what it read into
        `signals`, and whether a question none of whose words the archive holds clears the
        check only barely (`words_unheld`: the answer is then 'uncertain')."""
        least = self.calibration.refusal_background_lift
        if least is None or not signals:
            return False
        lifts = candidate_lifts(
            self.retriever.embedder,
            query_vector,
            asked.language,
            ((s.sentence.text, s.features.cosine, s.hit.metadata.get("language")) for s in scored),
        )
        held = archive_words(
            asked.text,
            asked.language,
            self.index.languages,
            self.index.frequencies,
            self.index.has_term_with_prefix,
        )
        signals.update(
            topic_lift=-1.0 if lifts.same is None else lifts.same,
            topic_lift_across=-1.0 if lifts.across is None else lifts.across,
            known_share=held.known_share,
            unknown_names=float(len(held.unknown_names)),
            content_words=float(len(held.names) + len(held.words)),
        )
        calibration = self.calibration
        across = calibration.refusal_background_lift_across
        rule = (
            lifts,
            held,
            least,
            math.inf if across is None else across,
            calibration.refusal_unknown_name_lift,
        )
        signals["words_unheld"] = float(barely_on_topic(*rule))
        return off_topic(*rule)

    def _compose(self, question: str, chosen: list[ScoredSentence], score: float) -> Answer:
        citations: dict[int, Citation] = {}
        sentences: list[AnswerSentence] = []
        for item in chosen:
            hit = item.hit
            citation = citations.get(hit.passage_id)
            if citation is None:
                citation = Citation.of(len(citations) + 1, hit)
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
            score=round(score, 4),
        )

    def _abstain(self, question: str, hits: list[Hit], score: float) -> Answer:
        closest = [Citation.of(n, hit) for n, hit in enumerate(hits[:CLOSEST_SHOWN], start=1)]
        return Answer(
            question=question,
            answer=NO_ANSWER,
            abstained=True,
            sentences=[],
            citations=closest,
            verdict="not_in_archive",
            score=round(score, 4),
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


def _lift(cosine: float, floor: float) -> float:
    """How far a cosine rises above a floor, as a share of the room above it."""
    return (cosine - floor) / (1 - floor) if floor < 1 else 0.0


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
