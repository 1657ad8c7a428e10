"""The question-vector cache that request threads share: no lost keys, no wrong vectors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.search.retriever import QueryVectors


class _YieldingText(str):
    """A question whose hashing yields the GIL: other threads run inside every dict step."""

    def __hash__(self) -> int:
        time.sleep(0)
        return str.__hash__(self)


class _NumberEmbedder:
    """A question's vector is its number; encoding yields the GIL so threads interleave."""

    def encode_query(self, text: str) -> np.ndarray:
        time.sleep(0)
        return np.array([float(text)], dtype=np.float32)


@pytest.mark.parametrize("size", [1, 2])
def test_threads_sharing_a_tiny_cache_each_get_their_own_vector(size):
    cache = QueryVectors(_NumberEmbedder(), size=size)
    errors: list[BaseException] = []
    wrong: list[tuple[str, float]] = []
    start = threading.Barrier(8)

    def ask(worker: int) -> None:
        start.wait()
        try:
            for turn in range(200):
                # Few keys, so most lookups hit an entry that another thread may evict.
                text = _YieldingText((worker + turn) % 3)
                for vector in (cache.get(text), cache.known(text)):
                    if vector is None:  # evicted by another thread meanwhile
                        continue
                    if vector[0] != float(text):
                        wrong.append((text, float(vector[0])))
        except Exception as error:  # noqa: BLE001 - reported below as the test's failure
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert wrong == []
    # Eviction still holds the cache to its size.
    assert len(cache._vectors) <= size
