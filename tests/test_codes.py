"""Sentence vectors as the catalog stores them (`qa.store.codes`): 6-bit codes, a scale a row."""

import numpy as np
import pytest

from qa.store.codes import (
    CODE_MAX,
    pack_context,
    pack_rows,
    stored_length,
    unpack_context,
    unpack_rows,
)


def unit_rows(rows: int, dimension: int, seed: int = 3) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(rows, dimension)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.parametrize("dimension", [384, 64, 65, 66, 67, 1, 3])
@pytest.mark.parametrize("rows", [1, 2, 3, 7])
def test_rows_come_back_within_half_a_code_step_whatever_their_shape(rows, dimension):
    matrix = unit_rows(rows, dimension)
    blob = pack_rows(matrix)
    # A padding byte, a float32 scale a row, three bytes for each four codes (or fewer).
    assert len(blob) == stored_length(rows, dimension) == 1 + 4 * rows + 3 * -(-rows * dimension // 4)
    back = unpack_rows(blob, rows)
    assert back.shape == matrix.shape and back.dtype == np.float32
    half_step = np.abs(matrix).max(axis=1, keepdims=True) / (2 * CODE_MAX) + 1e-7
    assert np.all(np.abs(back - matrix) <= half_step)
    # Each row's largest component is a whole code: it comes back exactly (to float32).
    largest = np.abs(matrix).argmax(axis=1)
    np.testing.assert_allclose(
        back[np.arange(rows), largest], matrix[np.arange(rows), largest], rtol=1e-6
    )


def test_codes_span_the_whole_range_and_zeros_stay_zeros():
    matrix = np.array([[1.0, -1.0, 0.5, -0.5, 0.0], [0.0] * 5], np.float32)
    back = unpack_rows(pack_rows(matrix), 2)
    np.testing.assert_allclose(back[0], [1.0, -1.0, 16 / 31, -16 / 31, 0.0], rtol=1e-6)
    assert not back[1].any()
    assert unpack_rows(None, 3) is None and pack_rows(None) is None


@pytest.mark.parametrize("dimension", [384, 67, 3])
@pytest.mark.parametrize("rows", [1, 2, 5])
def test_a_first_context_row_equal_to_the_own_is_stored_once(rows, dimension):
    own = unit_rows(rows, dimension, seed=1)
    context = np.vstack([own[:1], unit_rows(rows - 1, dimension, seed=2)])
    blob = pack_context(own, context)
    assert len(blob) == (stored_length(rows - 1, dimension) if rows > 1 else 0)
    stored_own = unpack_rows(pack_rows(own), rows)
    back = unpack_context(blob, stored_own, rows)
    assert back.shape == (rows, dimension)
    np.testing.assert_array_equal(back[0], stored_own[0])
    if rows > 1:
        np.testing.assert_array_equal(back[1:], unpack_rows(pack_rows(context[1:]), rows - 1))


def test_a_context_whose_first_row_differs_is_stored_whole():
    own, context = unit_rows(4, 67, seed=1), unit_rows(4, 67, seed=2)
    blob = pack_context(own, context)
    assert len(blob) == stored_length(4, 67)
    back = unpack_context(blob, unpack_rows(pack_rows(own), 4), 4)
    np.testing.assert_array_equal(back, unpack_rows(pack_rows(context), 4))
