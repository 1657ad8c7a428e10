"""Fusing the lexical and dense evidence of retrieval candidates into one score.

Each candidate carries both raw scores (its cosine and its BM25). They are normalised per
query, BM25 by the best BM25 (its floor is 0) and cosine min-max over the candidates, which
keeps the fusion independent of the archive's size and of any one raw scale; then combined
convexly. A convex combination was chosen over reciprocal rank fusion by measurement: on
XQuAD, RRF lost to BM25 alone at top-1 and collapsed when one side was weak.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Candidate:
    """A passage proposed for a query, with its raw and fused scores."""

    passage_id: int
    dense: float = 0.0
    lexical: float = 0.0
    fused: float = 0.0
    #: Whether the passage is in the question's language (lexical terms can match it).
    same_language: bool = True


def lexical_scale(candidates: list[Candidate]) -> float:
    """What BM25 is divided by: the best BM25 among the candidates."""
    return max((c.lexical for c in candidates), default=0.0)


def dense_range(candidates: list[Candidate]) -> tuple[float, float]:
    """The lowest cosine among the candidates and the span up to the highest."""
    low = min((c.dense for c in candidates), default=0.0)
    return low, max((c.dense for c in candidates), default=0.0) - low


def convex(candidates: list[Candidate], dense_weight: float, cross_language_share: float) -> None:
    """fused = w·dense + (1 − w)·lexical, normalised as the module says.

    A passage in another language than the question's shares only names and numbers with
    it, so its lexical evidence says little either way: it keeps `cross_language_share` of
    the lexical side's weight and the dense side takes the rest. Measured on XQuAD with
    multilingual-e5-small, Spanish questions over the English articles, dense weight 0.5:
    top-1 0.56 with the lexical weight kept whole (200-token passages); with 300-token
    passages 0.84 with half of it, 0.86 with a quarter, 0.82 with none."""
    best_lexical = lexical_scale(candidates)
    dense_low, dense_span = dense_range(candidates)
    for candidate in candidates:
        lexical = candidate.lexical / best_lexical if best_lexical > 0 else 0.0
        dense = (candidate.dense - dense_low) / dense_span if dense_span > 0 else 1.0
        weight = dense_weight
        if not candidate.same_language:
            weight = 1 - (1 - dense_weight) * cross_language_share
        candidate.fused = weight * dense + (1 - weight) * lexical
