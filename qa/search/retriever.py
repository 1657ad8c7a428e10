"""Hybrid retrieval: lexical (BM25, `qa.search.lexical`) and dense (FAISS) candidates, fused by a
convex combination of normalised scores (`qa.search.fusion`).

Both retrievers propose candidates; each candidate then gets *both* scores exactly (its
cosine from its stored vector, its BM25 from its stored terms), so fusion never has to
guess a missing score. Queries arrive checked and with their language (`qa.query`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from qa.core.config import SearchMode, Settings
from qa.core.types import Hit
from qa.embedders import Embedder
from qa.index.versions import IndexVersion
from qa.search.fusion import Candidate, convex
from qa.search.lexical import bm25_scores, idf_robertson, query_terms, selective_terms
from qa.search.query import SearchQuery, search_limits, search_query, validate_query
from qa.store.filters import SearchFilters
from qa.store.vectors import EXACT_FILTER_LIMIT

#: Questions whose vectors a retriever keeps (a follow-up or a repeated search reuses them).
QUERY_CACHE_SIZE = 256
#: Lexical searches run at once beside their question's embedding, across retrievers and
#: requests.
LEXICAL_WORKERS = 4

_lexical_pool: ThreadPoolExecutor | None = None
_lexical_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One process-wide pool for the lexical side of hybrid searches (created on first use,
    never per index version, so reloads leak no threads)."""
    global _lexical_pool
    with _lexical_pool_lock:
        if _lexical_pool is None:
            _lexical_pool = ThreadPoolExecutor(LEXICAL_WORKERS, thread_name_prefix="lexical-search")
        return _lexical_pool


class QueryVectors:
    """The vectors of the latest queries: each is embedded once, whoever asks for it.

    Request threads share it, so a lock guards the dict (a lookup and its move to the end
    would otherwise race another thread's eviction); embedding happens outside the lock, so
    questions are not serialised behind one another.
    """

    def __init__(self, embedder: Embedder, size: int = QUERY_CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray:
        vector = self.known(text)
        if vector is None:
            vector = self.embedder.encode_query(text)
            self._keep(text, vector)
        return vector

    def known(self, text: str) -> np.ndarray | None:
        """The cached vector of `text` (now the most recent), or None."""
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def _keep(self, text: str, vector: np.ndarray) -> None:
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            if len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


@dataclass
class LexicalSide:
    """What a query's lexical side found: its terms with their passage counts, its candidates
    (best first) and their BM25."""

    terms: list[str] = field(default_factory=list)
    frequencies: dict[str, int] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)


class Retriever:
    """Searches one index version with one embedder."""

    def __init__(self, index: IndexVersion, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._vectors = QueryVectors(embedder)

    def query_vector(self, text: str) -> np.ndarray:
        return self._vectors.get(text)

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        """The best `k` passages for `query` as a user typed it (checked first), best first."""
        text = validate_query(query, self.settings)
        k, mode = search_limits(k, mode, self.settings)
        return self.ranked(search_query(text, self.index.languages), k, mode, filters)

    def ranked(
        self, query: SearchQuery, k: int, mode: str, filters: SearchFilters | None = None
    ) -> list[Hit]:
        """The best `k` passages for a query built from checked input (a follow-up's question
        with the words it borrows may be longer than users may type), best first."""
        candidates = self.candidates(query, mode, filters, max(k, self.settings.candidates))
        return self.hits(candidates[:k])

    def candidates(
        self, query: SearchQuery, mode: str, filters: SearchFilters | None, limit: int
    ) -> list[Candidate]:
        """Scored candidates, best first (all scored by both retrievers in hybrid mode)."""
        filtered = filters is not None and not filters.is_empty()
        vector = None
        if mode == "lexical":
            lexical = self._lexical(query, limit, filters)
        elif mode == "dense":
            lexical, vector = LexicalSide(), self._vectors.get(query.text)
        elif (vector := self._vectors.known(query.text)) is not None:
            lexical = self._lexical(query, limit, filters)
        else:
            lexical, vector = self._beside_embedding(query, limit, filters)
        found = {passage_id: Candidate(passage_id) for passage_id in lexical.ids}
        if vector is not None:
            dense = self._dense(vector, limit, filters if filtered else None)
            for passage_id, score in dense:
                found.setdefault(passage_id, Candidate(passage_id)).dense = score
        ranked = list(found.values())
        if not ranked:
            return []
        scores = lexical.scores
        if mode == "hybrid":
            self._complete_dense_scores(vector, ranked)
            # The dense side's own candidates get their BM25 too.
            unscored = [c.passage_id for c in ranked if c.passage_id not in scores]
            scores.update(self.bm25(lexical.terms, lexical.frequencies, unscored))
        for candidate in ranked:
            candidate.lexical = scores.get(candidate.passage_id, 0.0)
        if mode == "hybrid":
            self._mark_languages(query.language, ranked)
            convex(
                ranked,
                self.settings.search_dense_weight,
                self.settings.cross_language_lexical_share,
            )
        else:
            for candidate in ranked:
                candidate.fused = candidate.dense if mode == "dense" else candidate.lexical
        ranked.sort(key=lambda c: (-c.fused, c.passage_id))
        return ranked

    def _lexical(
        self, query: SearchQuery, limit: int, filters: SearchFilters | None
    ) -> LexicalSide:
        """The lexical side's candidates, best first, with their BM25."""
        terms = query_terms(query.text, query.language, self.index.languages)
        frequencies = self.index.frequencies(terms)
        selective = selective_terms(terms, frequencies, self.settings.lexical_max_postings)
        ids = [
            passage_id
            for passage_id, _ in self.index.catalog.lexical_search(selective, limit, filters)
        ]
        return LexicalSide(terms, frequencies, ids, self.bm25(terms, frequencies, ids))

    def _beside_embedding(
        self, query: SearchQuery, limit: int, filters: SearchFilters | None
    ) -> tuple[LexicalSide, np.ndarray]:
        """The lexical side, on another thread while this one embeds the question. The engines
        release the GIL while they compute; the thread that embeds holds it only to tokenize
        and to pool, and had it to wait behind the lexical side's Python at each of those
        steps (as a pool thread that embeds does), the question would take that much longer."""
        future = _pool().submit(self._lexical, query, limit, filters)
        try:
            vector = self._vectors.get(query.text)
        except BaseException:
            wait([future])  # it reads the index, which the caller may close once we return
            raise
        return future.result(), vector

    def _dense(
        self, vector: np.ndarray, limit: int, filters: SearchFilters | None
    ) -> list[tuple[int, float]]:
        """The dense side's candidates. Through a filter, the vectors' own best candidates are
        checked against it first, which needs no list of what it allows; a filter too narrow
        for that has its passages listed (at most EXACT_FILTER_LIMIT) and searched exactly."""
        vectors = self.index.vectors
        if filters is None:
            return vectors.search(vector, limit)
        catalog = self.index.catalog
        found, complete = vectors.search_passing(
            vector, limit, lambda ids: catalog.passing_filters(filters, ids)
        )
        if complete:
            return found
        allowed = catalog.filtered_passage_ids(filters, limit=EXACT_FILTER_LIMIT + 1)
        if len(allowed) <= EXACT_FILTER_LIMIT:
            return vectors.search(vector, limit, allowed)
        return found  # too many to list, too few among the candidates: what passed

    def bm25(
        self, terms: list[str], frequencies: dict[str, int], ids: list[int]
    ) -> dict[int, float]:
        """Okapi BM25 of these passages, as SQLite FTS5 computes it, from their stored terms:
        exact for every candidate, whichever retriever proposed it."""
        total = max(1, self.index.passages_total)
        weights = {}
        for term in set(terms):
            df = frequencies.get(term, 0)
            if df:
                weights[term] = idf_robertson(df, total)
        if not weights or not ids:
            return {}
        stored = self.index.catalog.passage_terms(ids)
        return bm25_scores(weights, stored, self.index.average_terms)

    def _complete_dense_scores(self, vector: np.ndarray, ranked: list[Candidate]) -> None:
        """Give every candidate its exact cosine, from its stored vector."""
        ids = [c.passage_id for c in ranked]
        cosines = self.index.vectors.vectors(ids) @ vector
        for candidate, cosine in zip(ranked, cosines, strict=True):
            candidate.dense = float(cosine)

    def _mark_languages(self, language: str, ranked: list[Candidate]) -> None:
        """Mark the candidates whose document is in another language than the question."""
        archive = self.index.languages
        if archive == [language]:
            return
        if len(archive) == 1:
            languages = dict.fromkeys((c.passage_id for c in ranked), archive[0])
        else:
            languages = self.index.catalog.passage_languages(c.passage_id for c in ranked)
        for candidate in ranked:
            candidate.same_language = languages.get(candidate.passage_id) == language

    def hits(self, candidates: list[Candidate]) -> list[Hit]:
        stored = self.index.catalog.passages((c.passage_id for c in candidates), vectors=False)
        hits: list[Hit] = []
        for candidate in candidates:
            entry = stored.get(candidate.passage_id)
            if entry is not None:
                scores = candidate.fused, candidate.dense, candidate.lexical
                hits.append(entry.hit(len(hits) + 1, *scores))
        return hits
