"""Embedding a build's pending passages: their vectors into the vector store and, when the
settings ask for them, their sentences' vectors into the catalog, embedded separately or
pooled out of the passages' own passes (`Settings.sentence_vector_source`).

Computing a group's vectors (`embed_group`) is apart from storing them (`store_group`), so
that a cluster's workers compute and the build's one writer stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from qa.core.config import Settings
from qa.core.types import Passage
from qa.embedders import Embedder, pools_spans
from qa.store import Catalog, VectorStore


@dataclass
class EmbeddedGroup:
    """The vectors of one group of passages: each passage's, and (when the settings ask for
    them) its sentences' own and in context, by passage id."""

    ids: np.ndarray
    matrix: np.ndarray
    sentences: dict[int, np.ndarray] = field(default_factory=dict)
    context: dict[int, np.ndarray] = field(default_factory=dict)


def embed_pending(
    pending, embedder: Embedder, vectors: VectorStore, catalog: Catalog, settings: Settings
) -> int:
    """Embed the pending passages into the vector store and, when the settings ask for it,
    each of their sentences into the catalog (a sentence two passages share, once)."""
    if not pending:
        return 0
    store_group(embed_group(pending, embedder, settings), vectors, catalog)
    return len(pending)


def embed_group(pending, embedder: Embedder, settings: Settings) -> EmbeddedGroup:
    """The vectors of the pending (passage, embedded text) pairs, stored nowhere yet."""
    ids = np.fromiter((passage.id for passage, _ in pending), dtype=np.int64)
    texts = [text for _, text in pending]
    if settings.sentence_vectors and pooled_sentences(settings, embedder):
        return _embed_pooled(pending, texts, ids, embedder, settings)
    group = EmbeddedGroup(ids, embedder.encode_passages(texts, batch_size=settings.batch_size))
    if settings.sentence_vectors:
        _embed_sentences(pending, embedder, settings, group)
    return group


def store_group(group: EmbeddedGroup, vectors: VectorStore, catalog: Catalog) -> None:
    """Write an embedded group into the new version's stores."""
    vectors.add(group.ids, group.matrix)
    if group.sentences:
        catalog.set_sentence_vectors(group.sentences, group.context)


def pooled_sentences(settings: Settings, embedder: Embedder) -> bool:
    """Whether this build pools sentence vectors out of the passages' own passes."""
    source = settings.sentence_vector_source
    if source == "context" and not settings.sentence_context_vectors:
        return False  # nothing is pooled: sentences alone are embedded alone
    return source != "separate" and pools_spans(embedder)


def _embed_pooled(pending, texts, ids, embedder, settings: Settings) -> EmbeddedGroup:
    """Passages embedded with their sentences' vectors pooled out of the same pass:
    "passage", every vector; "context", the context vectors only (each sentence as read
    in its passage), the sentences alone embedded on their own."""
    every = settings.sentence_vector_source == "passage"
    pairs = every and settings.sentence_context_vectors
    spans = [_sentence_spans(passage, text, pairs) for passage, text in pending]
    matrix, pooled = embedder.encode_passages_pooled(texts, spans, settings.batch_size)
    group = EmbeddedGroup(ids, matrix)
    own, context = group.sentences, group.context
    for (passage, _), found in zip(pending, pooled, strict=True):
        if found is None:
            continue
        count = len(passage.sentences)
        if not every:
            context[passage.id] = found
            continue
        own[passage.id] = found[:count]
        if pairs:
            # A passage's first sentence has no pair and keeps its own vector.
            context[passage.id] = np.vstack([found[:1], found[count:]])
    if not every:
        done = [item for item, found in zip(pending, pooled, strict=True) if found is not None]
        _embed_sentences(done, embedder, settings, group, pooled_context=dict(context))
    # Passages it could not pool (embedded by the engine) get separate sentence passes.
    rest = [item for item, found in zip(pending, pooled, strict=True) if found is None]
    if rest:
        _embed_sentences(rest, embedder, settings, group)
    return group


def _sentence_spans(passage: Passage, text: str, pairs: bool) -> list[tuple[int, int]]:
    """Character spans, in the embedded `text` (the passage after its title line, if any), of
    each sentence of the passage, then (with `pairs`) of each sentence together with the one
    before it."""
    offset = len(text) - len(passage.text) - passage.start
    own = [(s.start + offset, s.end + offset) for s in passage.sentences]
    if not pairs:
        return own
    return own + [(before[0], after[1]) for before, after in pairwise(own)]


def _embed_sentences(
    pending,
    embedder: Embedder,
    settings: Settings,
    group: EmbeddedGroup,
    pooled_context: dict[int, np.ndarray] | None = None,
) -> None:
    """Each sentence of the pending passages on its own and, when the settings ask for it,
    with the sentence before it in its passage (a sentence or pair two passages share is
    embedded once; a passage's first sentence has no pair and keeps its own vector). With
    `pooled_context`, those are the passages' context vectors and no pair is embedded.
    The vectors go into `group`."""
    pairs = settings.sentence_context_vectors and pooled_context is None
    texts: dict[tuple, str] = {}
    for passage, _ in pending:
        for sentence in passage.sentences:
            texts[(passage.document_id, sentence.start)] = sentence.text
    if pairs:
        for passage, _ in pending:
            for before, sentence in pairwise(passage.sentences):
                key = (passage.document_id, before.start, sentence.start)
                texts[key] = f"{before.text} {sentence.text}"
    keys = list(texts)
    # A backend may embed sentences through another graph (`Settings.sentence_precision`).
    encode = getattr(embedder, "encode_sentences", embedder.encode_passages)
    encoded = encode([texts[k] for k in keys], batch_size=settings.batch_size)
    row = {key: n for n, key in enumerate(keys)}
    own, context = {}, {}
    for passage, _ in pending:
        document, sentences = passage.document_id, passage.sentences
        own[passage.id] = encoded[[row[(document, s.start)] for s in sentences]]
        if pairs and sentences:
            pairs_rows = [row[(document, b.start, s.start)] for b, s in pairwise(sentences)]
            context[passage.id] = np.vstack([own[passage.id][:1], encoded[pairs_rows]])
    group.sentences.update(own)
    group.context.update(pooled_context if pooled_context is not None else context)
