"""Vectors as the catalog stores them: 8-bit or 6-bit codes with one float32 scale a row.

A passage's sentence vectors are stored as two blobs, its sentences' own vectors and the same
sentences in context (`pack_sentences`). In 8 bits, the default, both are predicted and
deflated (`PREDICTED`, below): lossless, the same vectors as plain codes in about a sixth
fewer bytes. In 6 bits they are plain codes (`pack_rows`, `pack_context`).

A matrix of R rows is stored as one byte (its codes' bits times 16, plus how many codes of
padding end it), R float32 scales (each row's largest magnitude over the codes' largest),
then its codes row after row: in 8 bits, an int8 a component in [-127, 127]; in 6 bits, a
component's code in [-31, 31] plus 32, four to three bytes, the last group padded with
zeros. Each blob says its bits, so a catalog may hold both (`sentence_vector_bits` decides
what a build writes): 6 bits take a quarter fewer bytes than 8, and move a few answers
(docs/benchmarks.md#sentence-vectors-in-6-bits).
"""

from __future__ import annotations

import zlib

import numpy as np

#: Bits a component's code may take, and each one's largest magnitude.
CODE_MAX = {8: 127, 6: 31}
_OFFSET = 32  # a 6-bit code is stored plus this, in [1, 63]
#: Codes in a group of three bytes, in 6 bits.
_GROUP = 4


def pack_rows(matrix: np.ndarray | None, bits: int = 8) -> bytes | None:
    """A matrix as its header byte, its rows' float32 scales, then its codes in `bits`."""
    if matrix is None:
        return None
    scales, codes = _codes(matrix, bits)
    head = scales.tobytes()
    if bits == 8:
        return bytes([bits << 4]) + head + codes.astype(np.int8).tobytes()
    flat = (codes.reshape(-1) + _OFFSET).astype(np.uint32)
    padding = -len(flat) % _GROUP
    groups = np.concatenate([flat, np.zeros(padding, np.uint32)]).reshape(-1, _GROUP)
    word = groups[:, 0] | groups[:, 1] << 6 | groups[:, 2] << 12 | groups[:, 3] << 18
    three = np.stack([word & 0xFF, word >> 8 & 0xFF, word >> 16], axis=1).astype(np.uint8)
    return bytes([bits << 4 | padding]) + head + three.tobytes()


def unpack_rows(blob: bytes | None, rows: int) -> np.ndarray | None:
    """The float32 matrix of `rows` rows that `pack_rows` stored."""
    if blob is None:
        return None
    if not rows:
        return np.zeros((0, 0), np.float32)
    bits, padding = blob[0] >> 4, blob[0] & 0x0F
    scales = np.frombuffer(blob, dtype=np.float32, count=rows, offset=1)
    start = 1 + 4 * rows
    if bits == 8:
        codes = np.frombuffer(blob, dtype=np.int8, offset=start).astype(np.float32)
        return codes.reshape(rows, -1) * scales[:, None]
    three = np.frombuffer(blob, dtype=np.uint8, offset=start).reshape(-1, 3).astype(np.int32)
    word = three[:, 0] | three[:, 1] << 8 | three[:, 2] << 16
    shifts = np.arange(0, 6 * _GROUP, 6, dtype=np.int32)
    codes = (word[:, None] >> shifts & 0x3F).reshape(-1)
    codes = codes[: len(codes) - padding] - _OFFSET
    return codes.reshape(rows, -1).astype(np.float32) * scales[:, None]


def stored_length(rows: int, dimension: int, bits: int = 8) -> int:
    """The bytes `pack_rows` makes of a matrix of `rows` rows of `dimension` components."""
    if bits == 8:
        return 1 + 4 * rows + rows * dimension
    return 1 + 4 * rows + 3 * -(-rows * dimension // _GROUP)


def pack_context(own: np.ndarray | None, context: np.ndarray | None, bits: int = 8) -> bytes | None:
    """A passage's context vectors as `pack_rows` stores them, but for the first row when it
    is the first sentence's own vector (a first sentence has no sentence before it in its
    passage, and keeps its own vector): `unpack_context` takes it from the own vectors."""
    if context is None or own is None or not len(context) or not len(own):
        return pack_rows(context, bits)
    if np.array_equal(np.asarray(context[0], np.float32), np.asarray(own[0], np.float32)):
        return pack_rows(context[1:], bits) if len(context) > 1 else b""
    return pack_rows(context, bits)


def unpack_context(blob: bytes | None, own: np.ndarray | None, rows: int) -> np.ndarray | None:
    """The context vectors `pack_context` stored, its first row restored from `own` (the
    passage's own vectors, as `unpack_rows` gave them back)."""
    if blob is None or own is None or not rows:
        return unpack_rows(blob, rows)
    if blob and len(blob) == stored_length(rows, own.shape[1], blob[0] >> 4):
        return unpack_rows(blob, rows)
    if rows == 1:
        return own[:1].copy()
    return np.vstack([own[:1], unpack_rows(blob, rows - 1)])


# --- Predicted 8-bit codes ---
#: A blob's header nibble for 8-bit codes stored as what earlier rows do not predict,
#: deflated. A sentence's vectors share much with its passage's other sentences (the
#: model's vectors sit in a narrow cone) and a sentence in context with the sentence and the
#: one before it: each own row is predicted by the mean of the rows before it in its passage,
#: each context row by the mean of its sentence's and the one before's own rows (the first
#: by its sentence's own). What is left, zigzagged to bytes, takes 6-7 bits a component on
#: average once deflated's Huffman codes take it (docs/benchmarks.md#predicted-sentence-codes).
PREDICTED = 9
_FIRST_OMITTED = 1  # header flag: the context's first row is its sentence's own, not stored
_HIGH_BYTES = 2  # header flag: a second plane holds the zigzagged values' high bytes


def pack_sentences(
    own: np.ndarray | None, context: np.ndarray | None, bits: int = 8
) -> tuple[bytes | None, bytes | None]:
    """A passage's sentence vectors, own and in context, as their two stored blobs: in 8 bits
    predicted and deflated unless that takes more bytes than plain codes; in 6 bits plain
    (`pack_rows`, `pack_context`, which a context of one row equal to its own leaves empty)."""
    if bits != 8 or own is None or not len(own):
        return pack_rows(own, bits), pack_context(own, context, bits)
    plain = pack_rows(own, bits), pack_context(own, context, bits)
    own_scales, own_codes = _codes(own)
    blobs = _predicted(0, own_scales, own_codes - _running_means(own_codes)), plain[1]
    if context is not None and plain[1]:
        scales, codes = _codes(context)
        predicted = np.vstack([own_codes[:1], (own_codes[1:] + own_codes[:-1]) >> 1])
        flags = 0
        if len(plain[1]) < stored_length(len(own), own.shape[1]):  # its first row left out
            scales, codes, predicted, flags = scales[1:], codes[1:], predicted[1:], _FIRST_OMITTED
        blobs = blobs[0], _predicted(flags, scales, codes - predicted)
    # Rows that share nothing (no passage's, but any test's) take more bytes predicted.
    smaller = sum(len(b or b"") for b in blobs) < sum(len(b or b"") for b in plain)
    return blobs if smaller else plain


def unpack_sentences(
    own_blob: bytes | None, context_blob: bytes | None, rows: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The float32 own and context vectors of a passage of `rows` sentences, from the blobs
    `pack_sentences` (or, for either, `pack_rows` and `pack_context`) stored."""
    if not own_blob or own_blob[0] >> 4 != PREDICTED:
        own = unpack_rows(own_blob, rows)
        return own, unpack_context(context_blob, own, rows)
    _, own_scales, residuals = _unpredicted(own_blob, rows)
    own_codes = _from_running_means(residuals)
    own = own_codes.astype(np.float32) * own_scales[:, None]
    if not context_blob or context_blob[0] >> 4 != PREDICTED:
        return own, unpack_context(context_blob, own, rows)
    predicted = np.vstack([own_codes[:1], (own_codes[1:] + own_codes[:-1]) >> 1])
    omitted = bool(context_blob[0] & _FIRST_OMITTED)
    _, scales, residuals = _unpredicted(context_blob, rows - omitted)
    context = (residuals + predicted[omitted:]).astype(np.float32) * scales[:, None]
    return own, np.vstack([own[:1], context]) if omitted else context


def _codes(matrix: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Each row's float32 scale (its largest magnitude over the codes' largest) and its int32
    codes in [-CODE_MAX[bits], CODE_MAX[bits]]."""
    largest = CODE_MAX[bits]
    matrix = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    scales = np.abs(matrix).max(axis=1) / largest
    scales[scales == 0] = 1.0
    codes = np.rint(matrix / scales[:, None]).clip(-largest, largest)
    return scales.astype(np.float32), codes.astype(np.int32)


def _running_means(codes: np.ndarray) -> np.ndarray:
    """Each row's prediction: the rounded mean of the rows before it (zeros for the first),
    in integers, so that packing and unpacking compute it alike on any machine."""
    sums = np.cumsum(codes, axis=0)[:-1]
    counts = np.arange(1, len(codes), dtype=np.int32)[:, None]
    means = (2 * sums + counts) // (2 * counts)
    return np.vstack([np.zeros_like(codes[:1]), means])


def _from_running_means(residuals: np.ndarray) -> np.ndarray:
    """The codes whose `codes - _running_means(codes)` these residuals are."""
    codes = np.empty_like(residuals)
    codes[0] = residuals[0]
    total = residuals[0].copy()
    for row in range(1, len(residuals)):
        np.add(residuals[row], (2 * total + row) // (2 * row), out=codes[row])
        total += codes[row]
    return codes


def _predicted(flags: int, scales: np.ndarray, residuals: np.ndarray) -> bytes:
    """A header byte, the rows' float32 scales, then the residuals zigzagged (0, -1, 1, -2,
    ... as 0, 1, 2, 3, ...) as a plane of low bytes and, if any is needed, one of high
    bytes, raw-deflated."""
    zigzag = np.where(residuals >= 0, 2 * residuals, -2 * residuals - 1).astype(np.uint16)
    planes = [(zigzag & 0xFF).astype(np.uint8).tobytes()]
    if (zigzag > 0xFF).any():
        flags |= _HIGH_BYTES
        planes.append((zigzag >> 8).astype(np.uint8).tobytes())
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
    packed = deflate.compress(b"".join(planes)) + deflate.flush()
    return bytes([PREDICTED << 4 | flags]) + scales.astype(np.float32).tobytes() + packed


def _unpredicted(blob: bytes, rows: int) -> tuple[int, np.ndarray, np.ndarray]:
    """A `_predicted` blob of `rows` rows as its flags, its scales and its int32 residuals."""
    flags = blob[0] & 0x0F
    scales = np.frombuffer(blob, dtype=np.float32, count=rows, offset=1)
    planes = np.frombuffer(zlib.decompress(memoryview(blob)[1 + 4 * rows :], -15), np.uint8)
    if flags & _HIGH_BYTES:
        half = len(planes) // 2
        zigzag = planes[:half].astype(np.int32) | planes[half:].astype(np.int32) << 8
        return flags, scales, _UNZIGZAG[zigzag].reshape(rows, -1)
    return flags, scales, _UNZIGZAG[planes].reshape(rows, -1)


#: Zigzagged values (to 9 bits: residuals of codes in [-127, 127]) -> the residuals.
_UNZIGZAG = np.array([-(z >> 1) - 1 if z & 1 else z >> 1 for z in range(512)], dtype=np.int32)
