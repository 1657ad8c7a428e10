"""Shared fixtures: a small deterministic fake embedder beside the real bundled model."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embedders import register
from qa.text import terms

REPOSITORY = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPOSITORY / "corpus"


class FakeEmbedder:
    """Hashes stemmed words into a fixed-size vector: texts sharing words are similar.

    Same interface as the real embedder, deterministic and instant; its "wordpieces" are
    the text's \\w+ words, so chunk sizes can be reasoned about in tests.
    """

    backend = "fake"
    name = "fake"
    dimension = 64
    max_tokens = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in re.finditer(r"\w+", text)] for text in texts]

    def encode_passages(self, texts, batch_size: int = 32) -> np.ndarray:
        self.encoded.extend(texts)
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text, "en"):
                digest = hashlib.blake2b(term.encode(), digest_size=4).digest()
                matrix[row, int.from_bytes(digest, "big") % self.dimension] += 1.0
            norm = np.linalg.norm(matrix[row])
            matrix[row] = matrix[row] / norm if norm else matrix[row]
            if not norm:
                matrix[row, 0] = 1.0
        return matrix

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


@register("fake", "fake")
def _fake_backend(model, options) -> FakeEmbedder:
    """Settings with `embedder="fake"` load the fake embedder (the CLI tests use it)."""
    return FakeEmbedder()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def make_settings(tmp_path):
    """Settings for an archive under tmp_path, with the fake model unless told otherwise."""

    def make(**overrides) -> Settings:
        values = {
            "corpus": tmp_path / "corpus",
            "index": tmp_path / "index",
            "embedder": "fake",
            "model": "fake",
            "progress": False,
        }
        values.update(overrides)
        Path(values["corpus"]).mkdir(parents=True, exist_ok=True)
        return Settings(**values)

    return make


@pytest.fixture
def bundled_corpus(tmp_path) -> Path:
    """A copy of the repository's bundled archive."""
    target = tmp_path / "bundled"
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory):
    """The real bundled all-MiniLM-L6-v2 as serving uses it (questions through the ONNX
    query encoder, exported into a temporary cache), loaded once per test session."""
    from qa.embedders import EmbedderOptions, load_embedder

    cache = tmp_path_factory.mktemp("model-cache")
    options = EmbedderOptions(query_encoder="onnx", cache_dir=cache)
    return load_embedder("sentence-transformers", "bundled:all-MiniLM-L6-v2", options)


@pytest.fixture(scope="module")
def module_fake_embedder() -> FakeEmbedder:
    """The fake embedder for archives that a test module builds once and shares."""
    return FakeEmbedder()
