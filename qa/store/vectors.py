"""FAISS vectors of an index version, keyed by the stable 63-bit passage id."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Fewest training vectors per inverted list (FAISS warns below 39).
TRAIN_PER_LIST = 40
#: Most training vectors per inverted list (more adds k-means time, not quality).
TRAIN_MAX_PER_LIST = 128
#: Vectors moved at a time between layouts (`VectorStore.reorganised`): 32,768 vectors of
#: 384 floats are 48 MB.
MOVE_CHUNK = 32_768
#: A filtered dense search over at most this many allowed passages is exact.
EXACT_FILTER_LIMIT = 20_000
#: A filtered search first checks this many times the candidates it needs against the filter
#: (`VectorStore.search_passing`), and at most MAX_FETCH (as many as an exact search reads).
OVERFETCH = 4
MAX_FETCH = EXACT_FILTER_LIMIT


def inverted_lists_for(count: int, factory: str, ivf_min_passages: int) -> int:
    """Inverted lists the vectors of `count` passages should have; 0 means exact (flat).

    'auto' stays exact below `ivf_min_passages` (a flat scan of 50,000 vectors takes a few
    milliseconds), then takes about 4·√N lists, the usual balance of list scans against
    the coarse search; 'IVF<n>,Flat' asks for n lists whatever the size."""
    if factory == "Flat":
        return 0
    if factory == "auto":
        return 0 if count < ivf_min_passages else int(round(4 * math.sqrt(count)))
    match = re.fullmatch(r"IVF(\d+),Flat", factory)
    if match is None:
        raise ValueError(f"Unsupported FAISS layout '{factory}'.")
    return int(match.group(1))


class PassingSearch:
    """A filtered search that needs no list of what the filter allows, for any store with
    `search`, `size` and `_scanned` (one FAISS index, or an index version's parts)."""

    def search_passing(
        self, query: np.ndarray, k: int, passing: Callable[[list[int]], set[int]]
    ) -> tuple[list[tuple[int, float]], bool]:
        """The best `k` vectors among those whose ids `passing` keeps, found without listing
        the ids a filter allows: the unfiltered search's best OVERFETCH·k candidates are
        checked, then as many more as the share that passed says `k` need. Returns them with
        True when complete: `k` passed, or every vector was a candidate; False when the filter
        is too narrow to fill `k` from MAX_FETCH candidates or from all that an inverted file
        scans (`probes` lists, whatever `k`): the caller then lists the ids it allows. A
        filter that keeps a fraction f of the archive costs about k / f candidates, whatever
        the archive's size."""
        fetch, kept, checked = k * OVERFETCH, [], 0
        while True:
            found = self.search(query, fetch)
            passed = passing([i for i, _ in found[checked:]])
            kept += [(i, score) for i, score in found[checked:] if i in passed]
            checked = len(found)
            if len(kept) >= k:
                return kept[:k], True
            needed = k * checked // max(len(kept), 1)
            # A quarter more than the share so far asks for, at least twice as many.
            wanted = needed + needed // 4
            # An inverted file's probed lists hold no more candidates than it scans.
            short = wanted > self._scanned() and self._scanned() < self.size
            if len(found) < fetch or needed > MAX_FETCH or short:
                # All it scans holds too few, or would take too many candidates to find.
                return kept, len(found) == self.size
            fetch = min(MAX_FETCH, max(2 * fetch, wanted))


class VectorStore(PassingSearch):
    """FAISS vectors keyed by passage id; inner product on unit vectors is cosine similarity.

    Two layouts: exact (IndexIDMap2 over an IndexScalarQuantizer) and inverted-file
    (IndexIVFScalarQuantizer with the passage ids as its own ids and a hash-table direct map,
    so vectors can be read back and removed by id, as incremental builds need). Both hold
    each vector in half precision (768 bytes at 384 dimensions, half of float32's), exact to
    about 1e-4 of a cosine, which is what a candidate's cosine is read back from. Which
    layout is decided at the end of each build (`reorganised`) from the archive's size;
    changing it needs no re-embedding, since every vector can be read back."""

    def __init__(self, index, probes: int) -> None:
        import faiss

        self._index = index
        self._ivf = index if isinstance(index, faiss.IndexIVF) else None
        self.probes = probes
        self._scanned_matrix: np.ndarray | None = None  # `scan`'s float32 copy, once made

    @classmethod
    def create(cls, dimension: int, lists: int = 0, *, probes: int) -> VectorStore:
        import faiss

        half, inner = faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        if lists <= 0:
            exact = faiss.IndexScalarQuantizer(dimension, half, inner)
            return cls(faiss.IndexIDMap2(exact), probes)
        quantizer = faiss.IndexFlatIP(dimension)
        # The vectors themselves in half precision (not their residuals from a list's centre).
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dimension, lists, half, inner, False)
        ivf.own_fields = True
        quantizer.this.disown()
        return cls(ivf, probes)

    @classmethod
    def load(cls, path: Path, *, probes: int) -> VectorStore:
        import faiss

        return cls(faiss.read_index(str(path)), probes)

    def save(self, path: Path) -> None:
        import faiss

        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as error:  # FAISS reports a failed write (a full disk) this way
            raise OSError(f"cannot write {path}: {str(error).strip().splitlines()[-1]}") from None

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def lists(self) -> int:
        """Inverted lists; 0 for the exact layout."""
        return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def layout(self) -> str:
        return f"IVF{self.lists},Flat" if self._ivf is not None else "Flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(vectors.astype(np.float32), ids.astype(np.int64))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: list[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """Every stored passage id."""
        import faiss

        if self._ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._ivf.invlists
        found = [
            faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
            for n in range(self._ivf.nlist)
            if lists.list_size(n)
        ]
        return np.concatenate(found).astype(np.int64) if found else np.zeros(0, np.int64)

    def reorganised(self, lists: int) -> VectorStore:
        """These vectors in the layout with `lists` inverted lists (0: exact); self when it
        already fits (an inverted file within a factor 2 of the lists wanted). Each list
        needs TRAIN_PER_LIST vectors to train on, which caps the lists of a small archive.
        The lists are trained on a sample and the vectors moved in chunks, so that besides
        the two layouts only the sample and one chunk are held."""
        lists = min(lists, self.size // TRAIN_PER_LIST)
        if lists <= 0 and self._ivf is None:
            return self
        if lists > 0 and self._ivf is not None and lists / 2 <= self.lists <= lists * 2:
            return self
        return VectorStore.gathered([(self, self.ids())], lists, probes=self.probes)

    @classmethod
    def gathered(
        cls, sources: list[tuple[VectorStore, np.ndarray]], lists: int, *, probes: int
    ) -> VectorStore:
        """The vectors of these (store, ids) pairs as one new store with `lists` inverted
        lists (0: exact), trained on a sample and filled a chunk at a time, so that besides
        the sources only the sample and one chunk are held."""
        dimension = sources[0][0].dimension
        total = sum(len(ids) for _, ids in sources)
        lists = min(lists, total // TRAIN_PER_LIST)
        store = cls.create(dimension, lists, probes=probes)
        if store._ivf is not None:
            # A fixed-seed sample: the same vectors train the same lists.
            sample = np.sort(
                np.random.default_rng(0).permutation(total)[: lists * TRAIN_MAX_PER_LIST]
            )
            starts = np.cumsum([0] + [len(ids) for _, ids in sources])
            pieces = []
            for (source, ids), begin, end in zip(sources, starts[:-1], starts[1:], strict=True):
                mine = sample[(sample >= begin) & (sample < end)] - begin
                pieces.append(source.vectors(ids[mine]))
            store._ivf.train(np.vstack(pieces))
            del pieces
            store._ivf.set_direct_map_type(_hashtable_direct_map())
        # Moved a chunk at a time: the vectors are never all held a third time, as one matrix.
        for source, ids in sources:
            for start in range(0, len(ids), MOVE_CHUNK):
                chunk = ids[start : start + MOVE_CHUNK]
                store.add(chunk, source.vectors(chunk))
        return store

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """The best `k` vectors: of all, of the `allowed` ids, or of all but the `excluded`
        ids (a part's deletion marks; not combined with `allowed`)."""
        import faiss

        if self.size == 0 or k <= 0:
            return []
        query = query.reshape(1, -1).astype(np.float32)
        if allowed is not None:
            if len(allowed) == 0:
                return []
            if self._ivf is not None and len(allowed) <= EXACT_FILTER_LIMIT:
                return self._exact(query[0], allowed, k)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        elif excluded is not None and len(excluded):
            kept = faiss.IDSelectorBatch(excluded.astype(np.int64))
            selector = faiss.IDSelectorNot(kept)
        else:
            selector = None
        if self._ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.probes)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def scan(
        self, query: np.ndarray, k: int, excluded: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The best `k` of an exact store's vectors, but for the `excluded` ids, scanned with
        numpy on the calling thread: for a small part, cheaper than FAISS waking its OpenMP
        threads for a few vectors."""
        import faiss

        count, index = self.size, self._index
        if not count or k <= 0:
            return []
        ids = faiss.vector_to_array(index.id_map)
        scores = self._matrix() @ query.reshape(-1).astype(np.float32)
        if excluded is not None and len(excluded):
            scores[np.isin(ids, excluded)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in top if scores[i] > -np.inf]

    def _matrix(self) -> np.ndarray:
        """An exact store's vectors as one float32 matrix, made once: a scanned store is
        small (`parts.SCANNED_PART`) and immutable once written, and numpy multiplies half
        precision several times slower than float32."""
        import faiss

        if self._scanned_matrix is None or len(self._scanned_matrix) != self.size:
            flat = faiss.downcast_index(self._index.index)
            count, dimension = self.size, self.dimension
            codes = faiss.rev_swig_ptr(flat.codes.data(), count * dimension * 2)
            matrix = codes.view(np.float16).reshape(count, dimension).astype(np.float32)
            self._scanned_matrix = matrix
        return self._scanned_matrix

    def _scanned(self) -> int:
        """About how many vectors one search scans: all, or its probed lists' share."""
        if self._ivf is None:
            return self.size
        return self.size * min(self.probes, self.lists) // max(1, self.lists)

    def _exact(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact inner product over the allowed ids (a narrow filter defeats inverted lists);
        the ids come from the same index version's catalog, so each has its vector."""
        scores = self.vectors(allowed.tolist()) @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(allowed[i]), float(scores[i])) for i in top]


def _hashtable_direct_map():
    import faiss

    return faiss.DirectMap.Hashtable
