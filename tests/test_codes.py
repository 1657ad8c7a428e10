"""Sentence vectors as the catalog stores them (`qa.store.codes`): 8-bit or 6-bit codes with
a scale a row, each blob saying its bits; in 8 bits, predicted from the passage's other rows
and deflated, losing nothing more than the plain codes do."""

import numpy as np
import pytest

from qa.store.codes import (
    CODE_MAX,
    PREDICTED,
    pack_context,
    pack_rows,
    pack_sentences,
    stored_length,
    unpack_context,
    unpack_rows,
    unpack_sentences,
)


def unit_rows(rows: int, dimension: int, seed: int = 3) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.parametrize("bits", [8, 6])
@pytest.mark.parametrize("dimension", [384, 64, 65, 66, 67, 1, 3])
@pytest.mark.parametrize("rows", [1, 2, 3, 7])
def test_rows_come_back_within_half_a_code_step_whatever_their_shape(rows, dimension, bits):
    matrix = unit_rows(rows, dimension)
    blob = pack_rows(matrix, bits)
    # A header byte, a float32 scale a row, then a byte a number (8 bits) or three bytes
    # for each four numbers (6 bits).
    codes = rows * dimension if bits == 8 else 3 * -(-rows * dimension // 4)
    assert len(blob) == stored_length(rows, dimension, bits) == 1 + 4 * rows + codes
    back = unpack_rows(blob, rows)
    assert back.shape == matrix.shape and back.dtype == np.float32
    half_step = np.abs(matrix).max(axis=1, keepdims=True) / (2 * CODE_MAX[bits]) + 1e-7
    assert np.all(np.abs(back - matrix) <= half_step)
    # Each row's largest component is a whole code: it comes back exactly (to float32).
    largest = np.abs(matrix).argmax(axis=1)
    np.testing.assert_allclose(
        back[np.arange(rows), largest], matrix[np.arange(rows), largest], rtol=1e-6
    )


def test_six_bits_are_coarser_than_eight_and_a_quarter_smaller():
    matrix = unit_rows(7, 384)
    six, eight = pack_rows(matrix, 6), pack_rows(matrix, 8)
    assert len(six) == 1 + 7 * (4 + 288) and len(eight) == 1 + 7 * (4 + 384)
    error = {len(b): np.abs(unpack_rows(b, 7) - matrix).mean() for b in (six, eight)}
    assert error[len(six)] > 2 * error[len(eight)]


@pytest.mark.parametrize("bits", [8, 6])
def test_codes_span_the_whole_range_and_zeros_stay_zeros(bits):
    matrix = np.array([[1.0, -1.0, 0.5, -0.5, 0.0], [0.0] * 5], np.float32)
    back = unpack_rows(pack_rows(matrix, bits), 2)
    half = np.rint(CODE_MAX[bits] / 2) / CODE_MAX[bits]
    np.testing.assert_allclose(back[0], [1.0, -1.0, half, -half, 0.0], rtol=1e-6)
    assert not back[1].any()
    assert unpack_rows(None, 3) is None and pack_rows(None, bits) is None


@pytest.mark.parametrize("bits", [8, 6])
@pytest.mark.parametrize("dimension", [384, 67, 3])
@pytest.mark.parametrize("rows", [1, 2, 5])
def test_a_first_context_row_equal_to_the_own_is_stored_once(rows, dimension, bits):
    own = unit_rows(rows, dimension, seed=1)
    context = np.vstack([own[:1], unit_rows(rows - 1, dimension, seed=2)])
    blob = pack_context(own, context, bits)
    assert len(blob) == (stored_length(rows - 1, dimension, bits) if rows > 1 else 0)
    stored_own = unpack_rows(pack_rows(own, bits), rows)
    back = unpack_context(blob, stored_own, rows)
    assert back.shape == (rows, dimension)
    np.testing.assert_array_equal(back[0], stored_own[0])
    if rows > 1:
        np.testing.assert_array_equal(back[1:], unpack_rows(pack_rows(context[1:], bits), rows - 1))


@pytest.mark.parametrize("own_bits, context_bits", [(8, 8), (6, 6), (8, 6), (6, 8)])
def test_a_context_whose_first_row_differs_is_stored_whole(own_bits, context_bits):
    # Each blob says its bits: a passage embedded under one setting and read under another,
    # or own and context of different widths, come back alike.
    own, context = unit_rows(4, 67, seed=1), unit_rows(4, 67, seed=2)
    blob = pack_context(own, context, context_bits)
    assert len(blob) == stored_length(4, 67, context_bits)
    back = unpack_context(blob, unpack_rows(pack_rows(own, own_bits), 4), 4)
    np.testing.assert_array_equal(back, unpack_rows(pack_rows(context, context_bits), 4))


def passage_rows(rows: int, dimension: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Own and context vectors as a model makes them: in a narrow cone (a shared direction
    and each sentence's own part), each context between its sentence and the one before."""
    rng = np.random.default_rng(seed)
    own = 2.0 * rng.normal(size=dimension) + rng.normal(size=(rows, dimension))
    context = own.copy()
    context[1:] = (own[1:] + own[:-1]) / 2 + 0.3 * rng.normal(size=(rows - 1, dimension))
    unit = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in (own, context)]
    return unit[0].astype(np.float32), unit[1].astype(np.float32)


def plain(own, context, rows):
    """What plain 8-bit codes give back: what predicted codes must give back exactly."""
    stored_own = unpack_rows(pack_rows(own, 8), rows)
    return stored_own, unpack_context(pack_context(own, context, 8), stored_own, rows)


@pytest.mark.parametrize("dimension", [384, 67, 3])
@pytest.mark.parametrize("rows", [1, 2, 3, 7, 25])
@pytest.mark.parametrize("context_kind", ["first is own", "first differs", "none"])
def test_predicted_codes_give_back_the_plain_codes_exactly(rows, dimension, context_kind):
    own, context = passage_rows(rows, dimension)
    if context_kind == "first differs":
        context[0] = passage_rows(1, dimension, seed=9)[0][0]
    elif context_kind == "none":
        context = None
    blobs = pack_sentences(own, context)
    back = unpack_sentences(*blobs, rows)
    expected = plain(own, context, rows)
    np.testing.assert_array_equal(back[0], expected[0])
    assert back[0].dtype == np.float32
    if context is None:
        assert blobs[1] is None and back[1] is None
    else:
        np.testing.assert_array_equal(back[1], expected[1])
        assert back[1].dtype == np.float32


def test_predicted_codes_of_a_passage_take_a_sixth_fewer_bytes():
    own, context = passage_rows(7, 384)
    predicted = pack_sentences(own, context)
    assert all(blob[0] >> 4 == PREDICTED for blob in predicted)
    plain_bytes = len(pack_rows(own, 8)) + len(pack_context(own, context, 8))
    assert sum(map(len, predicted)) < 0.85 * plain_bytes


def test_rows_that_share_nothing_are_never_stored_larger_than_plain():
    # Independent rows: each predicted by rows it shares nothing with, the residuals are
    # wider than the codes (3,276 bytes against 2,717), so the plain codes are kept.
    own, context = unit_rows(7, 384, seed=1), unit_rows(7, 384, seed=2)
    blobs = pack_sentences(own, context)
    assert [b[0] >> 4 for b in blobs] == [8, 8]
    assert blobs == (pack_rows(own, 8), pack_context(own, context, 8))
    for got, expected in zip(unpack_sentences(*blobs, 7), plain(own, context, 7), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_residuals_beyond_a_byte_come_back():
    # One row far from its passage's others: some residuals need a ninth bit.
    own, context = passage_rows(7, 384)
    own[6] = -own[5]
    blobs = pack_sentences(own, context)
    assert blobs[0][0] >> 4 == PREDICTED and blobs[0][0] & 2  # the high bytes' plane
    for got, expected in zip(unpack_sentences(*blobs, 7), plain(own, context, 7), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_six_bits_stay_plain_codes():
    own, context = passage_rows(4, 67)
    assert pack_sentences(own, context, 6) == (pack_rows(own, 6), pack_context(own, context, 6))
