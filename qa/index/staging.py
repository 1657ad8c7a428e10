"""Vectors a cluster build computed, kept per document until a build finishes with them, so
that a build whose driver died resumes from what was embedded and a moved file reuses its
vectors.

    index/staging/<ab>/<key>.npz   one document's passage (and sentence) vectors

A document's key is a hash of what shaped its vectors: the model and the settings that
change them, the document's content hash and each passage's text as embedded. Files are
written whole (a temporary name, then a rename), so a driver killed mid-write leaves none
half-written; one that cannot be read is embedded again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from qa.core.config import Settings
from qa.embedders import model_identity
from qa.embedders.e5_onnx import SMOOTHING_VERSION
from qa.embedders.smoothing import weights_tag
from qa.index.chunking import ChunkingParameters
from qa.index.embedding import EmbeddedGroup

#: Raised into the key when what a staged file holds changes shape.
STAGING_FORMAT = 1


def vector_identity(settings: Settings, params: ChunkingParameters) -> str:
    """What, besides a document's text, decides its vectors."""
    backend, model = model_identity(settings)
    # The int8 passage graph changed once (smoothed with passage ranges, version 1): vectors
    # staged by the graph before are not this one's. float32's identity is as it was; so is
    # int8's where the weights are s8 (u8 where this CPU's s8 products saturate).
    graph = {}
    if "int8" in (settings.passage_precision, settings.sentence_precision):
        graph = {"int8_graph": SMOOTHING_VERSION, "sentence_precision": settings.sentence_precision}
        if weights_tag():
            graph["int8_weights"] = "u8"
    return json.dumps(
        {
            **graph,
            "format": STAGING_FORMAT,
            "embedder": backend,
            "model": model,
            "passage_encoder": settings.passage_encoder,
            "passage_precision": settings.passage_precision,
            "batch_size": settings.batch_size,
            "max_tokens": params.max_tokens,
            "overlap": params.overlap_sentences,
            "title_in_passage": params.title_in_passage,
            "sentence_vectors": settings.sentence_vectors,
            "sentence_context_vectors": settings.sentence_context_vectors,
            "sentence_vector_source": settings.sentence_vector_source,
        },
        sort_keys=True,
    )


class Staging:
    """The staged vectors of one index folder, under one vector identity."""

    def __init__(self, folder: Path, identity: str) -> None:
        self.folder = folder
        self.identity = identity
        self.used: set[str] = set()  # keys this build read or wrote

    def key(self, content_hash: str, texts: list[str]) -> str:
        digest = hashlib.sha256(self.identity.encode())
        digest.update(content_hash.encode())
        for text in texts:
            digest.update(b"\0")
            digest.update(text.encode())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def load(self, key: str, ids: list[int]) -> EmbeddedGroup | None:
        """The staged vectors of a document whose passages now have `ids`, or None."""
        try:
            with np.load(self._path(key)) as data:
                matrix = data["passages"]
                sentence_counts, context_counts = data["sentences_counts"], data["context_counts"]
                sentences, context = data["sentences"], data["context"]
        except (OSError, KeyError, ValueError):
            return None  # not staged, or unreadable: embedded again
        if len(matrix) != len(ids):
            return None
        self.used.add(key)
        group = EmbeddedGroup(np.asarray(ids, dtype=np.int64), matrix)
        for target, rows, counts in (
            (group.sentences, sentences, sentence_counts),
            (group.context, context, context_counts),
        ):
            ends = np.cumsum(np.maximum(counts, 0))
            for passage_id, count, end in zip(ids, counts, ends, strict=True):
                if count >= 0:
                    target[passage_id] = rows[end - count : end] if count else rows[:0]
        return group

    def save(self, key: str, group: EmbeddedGroup, ids: list[int]) -> None:
        """Stage the rows of `group` that belong to one document's passages `ids`."""
        rows = {passage_id: n for n, passage_id in enumerate(group.ids.tolist())}
        dimension = group.matrix.shape[1]
        arrays: dict[str, np.ndarray] = {"passages": group.matrix[[rows[i] for i in ids]]}
        for name, found in (("sentences", group.sentences), ("context", group.context)):
            parts = [found[i] for i in ids if i in found]
            # -1: the passage has no such vectors (none were asked for, or none pooled).
            arrays[f"{name}_counts"] = np.array(
                [len(found[i]) if i in found else -1 for i in ids], dtype=np.int64
            )
            arrays[name] = np.vstack(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
        self.used.add(key)

    def keep_only_used(self) -> None:
        """After a build that finished: keep what it read or wrote (a document moved before
        the next build reuses its vectors), remove the rest."""
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("*/*.npz"):
            if path.stem not in self.used:
                path.unlink(missing_ok=True)
