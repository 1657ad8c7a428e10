"""Hybrid retrieval: lexical (BM25) and dense (FAISS) candidates fused by a convex
combination of normalised scores (`qa.fusion`).

Both retrievers propose candidates; each candidate then gets *both* scores exactly (its
cosine from its stored vector, its BM25 from its stored terms), so fusion never has to
guess a missing score.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from qa.config import SearchMode, Settings
from qa.embedders import Embedder
from qa.fusion import Candidate, convex
from qa.index import IndexVersion
from qa.lexical import bm25_scores, idf_robertson, query_terms, selective_terms
from qa.query import SearchFilters, search_limits, validate_query
from qa.text import detect_question_language
from qa.types import Hit

QUERY_CACHE_SIZE = 256
#: Passages whose mean cosine to a question stands for "a typical passage of this archive".
BACKGROUND_SAMPLE = 1000
FREQUENCY_CACHE_SIZE = 100_000


class Retriever:
    """Searches one index version with one embedder."""

    def __init__(self, index: IndexVersion, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.languages = self.index.catalog.languages() or ["en"]
        # The index version never changes once built, so its statistics are read once.
        self.passages_total, self.average_terms = self.index.catalog.lexical_statistics()
        self._frequencies: dict[str, int] = {}
        self._background: np.ndarray | None = None

    def background(self, query: str) -> float:
        """Mean cosine of the query with a fixed sample of the archive's passages (the
        lowest passage ids, which are hashes, so the sample is arbitrary but stable).

        A model's cosines have a floor that depends on the language and the model (about
        0.05 for English questions over English passages with all-MiniLM-L6-v2, about 0.26
        for Spanish over Spanish); measuring a passage against this floor makes the dense
        evidence mean the same in either, and in an archive of any size."""
        if self._background is None:
            ids = self.index.catalog.passage_ids(limit=BACKGROUND_SAMPLE)
            self._background = self.index.vectors.vectors(ids)
        if not len(self._background):
            return 0.0
        return float(np.mean(self._background @ self.query_vector(query)))

    def question_language(self, query: str) -> str:
        """The query's language (the archive's main one when the query is too short to tell)."""
        return detect_question_language(query, default=self.languages[0])

    def query_language(self, query: str) -> str:
        """The language a query's terms are weighed in: its own if the archive has documents
        in it, else the archive's main one."""
        detected = self.question_language(query)
        return detected if detected in self.languages else self.languages[0]

    def query_terms(self, query: str) -> list[str]:
        return query_terms(query, self.question_language(query), self.languages)

    def frequencies(self, query_terms: list[str]) -> dict[str, int]:
        """Passages holding each term; remembered, since an index version never changes."""
        missing = [t for t in query_terms if t not in self._frequencies]
        if missing:
            if len(self._frequencies) > FREQUENCY_CACHE_SIZE:
                self._frequencies.clear()
            self._frequencies.update(self.index.catalog.document_frequencies(missing))
        return {t: self._frequencies[t] for t in query_terms}

    def bm25(
        self, query_terms: list[str], frequencies: dict[str, int], ids: list[int]
    ) -> dict[int, float]:
        """Okapi BM25 of these passages, as SQLite FTS5 computes it, from their stored terms:
        exact for every candidate, whichever retriever proposed it."""
        total = max(1, self.passages_total)
        weights = {}
        for term in set(query_terms):
            df = frequencies.get(term, 0)
            if df:
                weights[term] = idf_robertson(df, total)
        if not weights:
            return {}
        return bm25_scores(weights, self.index.catalog.passage_terms(ids), self.average_terms)

    def query_vector(self, query: str) -> np.ndarray:
        vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embedder.encode_query(query)
            self._query_vectors[query] = vector
            if len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(query)
        return vector

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        """The best `k` passages for `query` as a user typed it (checked first), best first."""
        return self.ranked(validate_query(query, self.settings), k, mode, filters)

    def ranked(
        self,
        query: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        """The best `k` passages for a query the caller built from checked input (a
        follow-up's question with the words it borrows may be longer than users may type)."""
        k, mode = search_limits(k, mode, self.settings)
        candidates = self.candidates(query, mode, filters, max(k, self.settings.candidates))
        return self.hits(candidates[:k])

    def candidates(
        self, query: str, mode: str, filters: SearchFilters | None, limit: int
    ) -> list[Candidate]:
        """Scored candidates, best first (all scored by both retrievers in hybrid mode)."""
        catalog, vectors = self.index.catalog, self.index.vectors
        allowed = None
        if filters is not None and not filters.is_empty():
            allowed = catalog.filtered_passage_ids(filters)
        query_terms = self.query_terms(query)
        frequencies = self.frequencies(query_terms)
        selective = selective_terms(query_terms, frequencies, self.settings.lexical_max_postings)
        found: dict[int, Candidate] = {}
        if mode in ("dense", "hybrid"):
            for passage_id, score in vectors.search(self.query_vector(query), limit, allowed):
                found.setdefault(passage_id, Candidate(passage_id)).dense = score
        if mode in ("lexical", "hybrid"):
            for passage_id, _ in catalog.lexical_search(selective, limit, filters):
                found.setdefault(passage_id, Candidate(passage_id))
        if not found:
            return []
        ranked = list(found.values())
        if mode == "hybrid":
            self._complete_dense_scores(query, ranked)
        if mode in ("lexical", "hybrid"):
            scores = self.bm25(query_terms, frequencies, [c.passage_id for c in ranked])
            for candidate in ranked:
                candidate.lexical = scores.get(candidate.passage_id, 0.0)
        if mode == "hybrid":
            self._mark_languages(query, ranked)
            convex(ranked, self.settings.dense_weight, self.settings.cross_language_lexical_share)
        else:
            for candidate in ranked:
                candidate.fused = candidate.dense if mode == "dense" else candidate.lexical
        ranked.sort(key=lambda c: (-c.fused, c.passage_id))
        return ranked

    def _complete_dense_scores(self, query: str, ranked: list[Candidate]) -> None:
        """Give every candidate its exact cosine, from its stored vector."""
        ids = [c.passage_id for c in ranked]
        cosines = self.index.vectors.vectors(ids) @ self.query_vector(query)
        for candidate, cosine in zip(ranked, cosines, strict=True):
            candidate.dense = float(cosine)

    def _mark_languages(self, query: str, ranked: list[Candidate]) -> None:
        """Mark the candidates whose document is in another language than the question."""
        language = self.question_language(query)
        if self.languages == [language]:
            return
        if len(self.languages) == 1:
            languages = dict.fromkeys((c.passage_id for c in ranked), self.languages[0])
        else:
            languages = self.index.catalog.passage_languages(c.passage_id for c in ranked)
        for candidate in ranked:
            candidate.same_language = languages.get(candidate.passage_id) == language

    def hits(self, candidates: list[Candidate]) -> list[Hit]:
        stored = self.index.catalog.passages(c.passage_id for c in candidates)
        hits: list[Hit] = []
        for candidate in candidates:
            entry = stored.get(candidate.passage_id)
            if entry is None:
                continue
            passage = entry.passage
            hits.append(
                Hit(
                    passage_id=passage.id,
                    document_id=passage.document_id,
                    title=entry.title,
                    text=passage.text,
                    score=round(candidate.fused, 6),
                    start=passage.start,
                    end=passage.end,
                    page=passage.page,
                    rank=len(hits) + 1,
                    dense_score=round(candidate.dense, 6),
                    lexical_score=round(candidate.lexical, 6),
                    metadata=entry.metadata,
                )
            )
        return hits
