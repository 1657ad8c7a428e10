"""The lexical side of retrieval as small pure functions: a query's terms, the idf variants
and Okapi BM25 (after bm25s's `scoring.py`, where each variant is a named function).

Two idf variants are used, each where it was measured:
- `idf_robertson` (Robertson–Spärck Jones, floored as SQLite FTS5 floors it) scores the
  candidates of a search exactly as FTS5's `bm25()` ranks the lexical index;
- `idf_lucene` (never below zero, so a term found in most passages still counts a little)
  weighs a question's terms when the answer step scores sentences.
"""

from __future__ import annotations

import math
from collections import Counter

from ahocorasick_rs import AhoCorasick

from qa.text.terms import stop_words, terms, words

#: Okapi BM25's term-frequency saturation and length normalisation (FTS5's own values).
BM25_K1 = 1.2
BM25_B = 0.75
#: Archive languages whose stemming a query is matched with.
MATCH_LANGUAGES = 3


def idf_robertson(document_frequency: int, total: int) -> float:
    """log((N − df + 0.5) / (df + 0.5)), at least 1e-6: the idf of FTS5's `bm25()`."""
    return max(1e-6, math.log((total - document_frequency + 0.5) / (document_frequency + 0.5)))


def idf_lucene(document_frequency: int, total: int) -> float:
    """log(1 + (N − df + 0.5) / (df + 0.5)): Lucene's idf, positive for every term."""
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def length_norm(
    length: int, average_length: float, k1: float = BM25_K1, b: float = BM25_B
) -> float:
    """BM25's k1·(1 − b + b·|D| / avgdl): how much a passage's length damps its term counts."""
    return k1 * (1 - b + b * length / average_length)


def term_score(idf: float, frequency: int, norm: float, k1: float = BM25_K1) -> float:
    """One term's BM25 contribution: idf · tf·(k1 + 1) / (tf + norm)."""
    return idf * frequency * (k1 + 1) / (frequency + norm)


def bm25_scores(
    weights: dict[str, float], passage_terms: dict[int, str], average_length: float
) -> dict[int, float]:
    """BM25 of each passage (its terms joined by single spaces) for query terms with these
    idf weights; passages that hold none of the terms are left out."""
    average_length = average_length or 1.0
    if not weights:
        return {}
    # Terms are \w+ tokens joined by single spaces: " term " finds a term. Matches may
    # overlap, so a term repeated back to back ("strike strike", the second sharing the
    # first's space) counts each time, as FTS5 counts it. One pass over a passage's terms
    # finds every query term (Aho-Corasick), not one pass a term.
    ordered = list(weights)
    finder = AhoCorasick([f" {term} " for term in ordered])
    idf = [weights[term] for term in ordered]
    scores: dict[int, float] = {}
    for passage_id, text in passage_terms.items():
        found = finder.find_matches_as_indexes(f" {text} ", overlapping=True)
        if not found:
            continue
        frequencies = Counter(index for index, _, _ in found)
        norm = length_norm(text.count(" ") + 1, average_length)
        score = 0.0
        for index in sorted(frequencies):  # in the weights' order, as FTS5 sums them
            score += term_score(idf[index], frequencies[index], norm)
        scores[passage_id] = score
    return scores


def query_terms(query: str, language: str, archive_languages: list[str]) -> list[str]:
    """The query's terms, its language's stop words left out, stemmed as the query's
    language and each of the archive's main languages stem them: a short query's language
    is often unclear, and a stem that no document has costs nothing. A query of stop
    words alone keeps them."""
    others = [x for x in archive_languages[:MATCH_LANGUAGES] if x != language]
    stops = stop_words(language)
    for drop in (True, False):
        kept = " ".join(w for w in words(query) if not (drop and w in stops))
        found: list[str] = []
        for stemmed_as in [language, *others]:
            found += [t for t in terms(kept, stemmed_as, drop) if t not in found]
        if found:
            return found
    return []


def selective_terms(
    query_terms: list[str], frequencies: dict[str, int], max_postings: int
) -> list[str]:
    """The terms that find lexical candidates: those in at most `max_postings` passages (or
    the two rarest). A common term's long posting list costs FTS5 time in proportion to the
    archive, for little evidence; it still counts in the scoring."""
    present = [t for t in query_terms if frequencies.get(t, 0) > 0]
    selective = [t for t in present if frequencies[t] <= max_postings]
    if selective:
        return selective
    return sorted(present, key=lambda t: frequencies[t])[:2]
