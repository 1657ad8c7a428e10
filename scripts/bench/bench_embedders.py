"""Embedders that `scripts/bench/bench.py` puts in the pipeline's place: the real model
timed, the real model with vectors it already computed, and a cheap stand-in for a
100,000-passage index. Each has the Embedder interface of `qa.embedders`."""

from __future__ import annotations

import re
import time
import zlib

import numpy as np

from qa.embedders import Embedder


class Wrapped:
    """Carries the wrapped embedder's identity, tokenizer and question encoder."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_tokens = inner.max_tokens

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return self.inner.token_spans(texts)

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.inner.encode_passages(texts, batch_size=batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)


class TimedEmbedder(Wrapped):
    """Adds up the seconds of the model's calls and keeps the texts it encoded, in order."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.reset()

    def reset(self) -> None:
        self.encoded: list[str] = []
        self.encode_seconds = 0.0
        self.token_seconds = 0.0

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        started = time.perf_counter()
        spans = self.inner.token_spans(texts)
        self.token_seconds += time.perf_counter() - started
        return spans

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.encode_passages(texts, batch_size=batch_size)
        self.encode_seconds += time.perf_counter() - started
        self.encoded.extend(texts)
        return vectors


class RecordedEmbedder(Wrapped):
    """The real model with vectors it already computed looked up instead of recomputed."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray]) -> None:
        super().__init__(inner)
        self.known = known
        self.computed = 0

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self.known]
        if missing:
            vectors = self.inner.encode_passages(missing, batch_size=batch_size)
            self.known.update(zip(missing, vectors, strict=True))
            self.computed += len(missing)
        return np.stack([self.known[text] for text in texts]).astype(np.float32)


class TorchQueries(Wrapped):
    """The same model with questions embedded by torch, as before the ONNX query encoder:
    the "before" of the query-encoder comparison."""

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_passages([text])[0]


class HashEmbedder(Wrapped):
    """A cheap deterministic stand-in for a model (same backend, dimension and token limit):
    hashed bag of words. Passages are sized with the model's tokenizer, so they are as long
    as real ones."""

    def __init__(self, tokenizer: Embedder) -> None:
        super().__init__(tokenizer)
        self.name = synthetic_model(tokenizer)
        self._buckets: dict[str, int] = {}

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        rows, buckets = [], []
        for row, text in enumerate(texts):
            found = [self._bucket(word) for word in _words(text)]
            rows += [row] * len(found)
            buckets += found
            if not found:
                matrix[row, 0] = 1.0
        # Every (row, bucket) pair counted at once: the word counts of the whole batch.
        np.add.at(matrix, (np.asarray(rows, dtype=np.int64), np.asarray(buckets, np.int64)), 1)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def _bucket(self, word: str) -> int:
        bucket = self._buckets.get(word)
        if bucket is None:
            bucket = self._buckets[word] = zlib.crc32(word.encode()) % self.dimension
        return bucket

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


def synthetic_model(tokenizer: Embedder) -> str:
    """The model name a synthetic index's manifest records."""
    return f"synthetic-hash-{tokenizer.dimension}"


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())
