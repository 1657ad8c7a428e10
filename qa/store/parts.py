"""An index version's vectors as immutable parts: each part a FAISS file with its passage
ids, and the ids removed from it since it was written (its deletion marks).

    <version folder>/
      <part>.faiss          the part's vectors (`VectorStore`), never changed once written
      <part>.ids.npy        its passage ids, sorted (which part holds a vector, without
                            reading the vectors)
      <part>.deleted.npy    the ids removed from it since, sorted (absent when none)

A build writes the vectors it embedded as one new part and marks the ids it removed in the
parts that hold them; every other file of the version before it is shared by a hard link,
never copied, so a build writes in proportion to what changed. A merge policy keeps the
parts few (`MERGE_RATIO`, `MAX_PARTS`): the newest parts are merged while the one before
the newest is not much larger, as a binary counter does, so each vector is rewritten about
log2(archive / change) times over its life, and a part with more removed than live vectors
is rewritten alone. Searches run over every part and keep the best.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.store.vectors import TRAIN_PER_LIST, PassingSearch, VectorStore, inverted_lists_for

#: The newest two parts are merged while the older holds at most this many times the
#: newer's live vectors.
MERGE_RATIO = 2
#: Most parts a version keeps (the oldest beyond it are merged).
MAX_PARTS = 8
#: An exact part of at most this many vectors is scanned with numpy, not FAISS: a build's
#: small new part costs microseconds, not the wake-up of FAISS's OpenMP threads (its
#: vectors are then held a second time, as float32: at most 30 MB a part).
SCANNED_PART = 20_000


@dataclass
class Part:
    """One part: its vectors (loaded when needed), its ids and its deletion marks."""

    name: str
    ids: np.ndarray  # sorted
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted
    store: VectorStore | None = None
    layout: str = "Flat"
    changed: bool = True  # written by this build (else: its files are linked)
    marks_changed: bool = False

    @property
    def live(self) -> int:
        return len(self.ids) - len(self.deleted)

    def live_ids(self) -> np.ndarray:
        if not len(self.deleted):
            return self.ids
        return np.setdiff1d(self.ids, self.deleted, assume_unique=True)

    def holds(self, ids: np.ndarray) -> np.ndarray:
        """Which of these ids are live in this part (a boolean mask)."""
        present = _members(self.ids, ids)
        if len(self.deleted):
            present &= ~_members(self.deleted, ids)
        return present

    def listing(self) -> dict:
        return {
            "name": self.name,
            "vectors": len(self.ids),
            "deleted": len(self.deleted),
            "layout": self.layout,
        }


def _members(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.searchsorted(sorted_ids, ids).clip(0, len(sorted_ids) - 1)
    return sorted_ids[at] == ids


def _read_part(folder: Path, entry: dict, probes: int, load: bool) -> Part:
    name = entry["name"]
    ids = np.load(folder / f"{name}.ids.npy")
    deleted = np.load(folder / f"{name}.deleted.npy") if entry.get("deleted") else ids[:0]
    store = VectorStore.load(folder / f"{name}.faiss", probes=probes) if load else None
    return Part(name, ids, deleted, store, entry.get("layout", "Flat"), changed=False)


class VectorParts(PassingSearch):
    """The vectors of an opened version: its parts searched together, deletions left out."""

    def __init__(self, parts: list[Part], dimension: int, probes: int) -> None:
        self.parts = parts
        self._dimension = dimension
        self.probes = probes

    @classmethod
    def open(cls, folder: Path, listing: list[dict], dimension: int, *, probes: int):
        parts = [_read_part(folder, entry, probes, load=True) for entry in listing]
        return cls(parts, dimension, probes)

    @property
    def size(self) -> int:
        return sum(part.live for part in self.parts)

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def layout(self) -> str:
        """The layout of the largest part (the others are the small, exact newest ones)."""
        if not self.parts:
            return "Flat"
        return max(self.parts, key=lambda part: len(part.ids)).layout

    def ids(self) -> np.ndarray:
        found = [part.live_ids() for part in self.parts]
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def vectors(self, ids: list[int]) -> np.ndarray:
        wanted = np.asarray(ids, dtype=np.int64)
        if len(self.parts) == 1:
            return self.parts[0].store.vectors(wanted)
        matrix = np.zeros((len(wanted), self.dimension), dtype=np.float32)
        missing = np.ones(len(wanted), dtype=bool)
        for part in reversed(self.parts):  # a passage re-added lives in the newest part
            found = missing & part.holds(wanted)
            if found.any():
                matrix[found] = part.store.vectors(wanted[found])
                missing &= ~found
        if missing.any():
            raise KeyError(f"no vector for passage ids {wanted[missing][:5].tolist()}")
        return matrix

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        found: list[tuple[int, float]] = []
        for part in self.parts:
            part.store.probes = self.probes
            if allowed is not None:
                mine = allowed[part.holds(allowed)]
                if len(mine):
                    found += part.store.search(query, k, mine)
            elif part.store.lists == 0 and part.store.size <= SCANNED_PART:
                found += part.store.scan(query, k, excluded=part.deleted)
            elif len(part.deleted):
                found += part.store.search(query, k, excluded=part.deleted)
            else:
                found += part.store.search(query, k)
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:k]

    def _scanned(self) -> int:
        return sum(part.store._scanned() for part in self.parts)

    def reorganised(self, lists: int) -> VectorStore:
        """The live vectors of every part as one store with `lists` inverted lists."""
        sources = [(part.store, part.live_ids()) for part in self.parts]
        if not sources:
            return VectorStore.create(self.dimension, probes=self.probes)
        return VectorStore.gathered(sources, lists, probes=self.probes)


class PartsWriter:
    """A new version's vectors: the base version's parts, linked, with this build's
    additions as a new part and its removals as deletion marks (`write` does the writing)."""

    def __init__(
        self, name: str, dimension: int, probes: int, base: Path | None, listing: list[dict]
    ) -> None:
        self.name = name
        self.probes = probes
        self.base = base
        self.parts = [_read_part(base, entry, probes, load=False) for entry in listing]
        self.new = VectorStore.create(dimension, probes=probes)

    @property
    def size(self) -> int:
        return sum(part.live for part in self.parts) + self.new.size

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.new.add(ids, vectors)

    def remove(self, ids: list[int]) -> None:
        """Mark these ids removed in the part holding each (ids this build added are
        removed from its new part)."""
        if not ids:
            return
        wanted = np.asarray(ids, dtype=np.int64)
        for part in self.parts:
            held = wanted[part.holds(wanted)]
            if len(held):
                part.deleted = np.union1d(part.deleted, held)
                part.marks_changed = True
        self.new.remove(ids)

    def write(self, folder: Path, factory: str, ivf_min_passages: int) -> list[dict]:
        """Write the new part, the changed deletion marks and any merge into `folder`,
        link the unchanged files of the base version, and return the parts' listing."""
        parts = [part for part in self.parts if part.live > 0]
        if self.new.size:
            ids = np.sort(self.new.ids())
            parts.append(Part(f"{self.name}-0", ids, store=self.new))
        parts = self._merged(parts, factory, ivf_min_passages)
        for part in parts:
            self._write_part(folder, part)
        return [part.listing() for part in parts]

    def _merged(self, parts: list[Part], factory: str, ivf_min_passages: int) -> list[Part]:
        counter = 1

        def lists(count: int) -> int:
            return inverted_lists_for(count, factory, ivf_min_passages)

        def merge(group: list[Part]) -> Part:
            nonlocal counter
            merged = _merge(group, lists(sum(p.live for p in group)), self._load, self.probes)
            name = f"{self.name}-{counter}"
            counter += 1
            return Part(name, np.sort(merged.ids()), store=merged, layout=merged.layout)

        # A part with more removed than live vectors, or in a layout the settings no longer
        # ask for (a changed `faiss_factory`), is rewritten alone.
        for n, part in enumerate(parts):
            if part.live < len(part.deleted) or not self._fits(part, lists(part.live)):
                parts[n] = merge([part])
        while len(parts) > 1 and (
            parts[-2].live <= MERGE_RATIO * parts[-1].live or len(parts) > MAX_PARTS
        ):
            parts[-2:] = [merge(parts[-2:])]
        for part in parts:
            if part.changed and part.store is not None:
                store = part.store.reorganised(lists(part.live))
                part.store, part.layout = store, store.layout
        return parts

    def _fits(self, part: Part, lists: int) -> bool:
        if part.store is not None:
            return True  # this build's new part: laid out when written
        wanted = min(lists, part.live // TRAIN_PER_LIST)
        have = 0 if part.layout == "Flat" else int(part.layout[3:].split(",")[0])
        return (wanted == 0) == (have == 0) and (have == 0 or wanted / 2 <= have <= wanted * 2)

    def _load(self, part: Part) -> VectorStore:
        if part.store is None:
            part.store = VectorStore.load(self.base / f"{part.name}.faiss", probes=self.probes)
        return part.store

    def _write_part(self, folder: Path, part: Part) -> None:
        files = [f"{part.name}.faiss", f"{part.name}.ids.npy"]
        if part.changed:
            part.store.save(folder / files[0])
            _save_array(folder / files[1], part.ids)
        else:
            for file in files:
                os.link(self.base / file, folder / file)
        marks = f"{part.name}.deleted.npy"
        if len(part.deleted) and (part.changed or part.marks_changed):
            _save_array(folder / marks, part.deleted)
        elif len(part.deleted):
            os.link(self.base / marks, folder / marks)


def _merge(group: list[Part], lists: int, load, probes: int) -> VectorStore:
    """The live vectors of these parts as one store with `lists` inverted lists."""
    sources = []
    for part in group:
        store = load(part)
        sources.append((store, part.live_ids()))
    return VectorStore.gathered(sources, lists, probes=probes)


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.asarray(array, dtype=np.int64))
        handle.flush()
        os.fsync(handle.fileno())
