"""SIGKILL builds at their steps, full and incremental, and count what breaks.

A child process builds the archive with the fake embedder (tests/fake_embedder.py) under a
line tracer over the build (qa/index/build.py, qa/index/versions.py) and the stores
(qa/store/: the catalog, the vectors and their parts), and sends
itself SIGKILL the moment a chosen line runs for the chosen time. A dry run first lists
every step of each kind of build: each line the first time it runs, and each line that runs
more than once (per document) the last time too, and every line of the catalog's commit
that switches versions. After each kill:

- broken index: the version in service does not open, fails SQLite's integrity check,
  holds other vectors than passages, or holds neither the old nor the new documents;
- orphan: after the next (unkilled) build, anything is left in the index folder beyond
  the new version and the one serving before it (unfinished folders, versions never
  switched to), or that build's documents are wrong.

    python scripts/campaigns/campaign_kill.py          # 40 points per kind of build
    python scripts/campaigns/campaign_kill.py --every  # every step (~750 of them, ~40 min)
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from campaign_common import campaign_folder, write_archive
from common import FINDS_FAKE_EMBEDDER, fake_settings
from fake_embedder import FakeEmbedder

import qa.store.catalog
from qa.core.config import Settings
from qa.index.build import build_index
from qa.index.versions import CATALOG_FILE, Manifest, current_version, open_index
from qa.service.assistant import Assistant
from qa.store import Catalog

#: The dry run and the killed runs hash strings alike, so that loops over sets run their
#: lines as often in each (a point is a line's n-th run).
SAME_RUN = {**os.environ, "PYTHONHASHSEED": "0"}
CHILD = (
    FINDS_FAKE_EMBEDDER
    + """
import json, os, signal, sys
import qa.index.build, qa.store.catalog, qa.store.dates, qa.store.vectors, qa.index.versions
import qa.store.parts
from qa.core.config import Settings
from fake_embedder import FakeEmbedder

corpus, index, kind, target = sys.argv[1:5]
modules = (qa.index.build, qa.index.versions, qa.store.catalog, qa.store.dates,
           qa.store.vectors, qa.store.parts)
files = {os.path.realpath(module.__file__) for module in modules}
runs = {}  # "file:line" -> times run so far
order = []

def local(frame, event, arg):
    if event == "line":
        key = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        runs[key] = runs.get(key, 0) + 1
        if runs[key] == 1:
            order.append(key)
        if f"{key}#{runs[key]}" == target:
            os.kill(os.getpid(), signal.SIGKILL)
    return local

def tracer(frame, event, arg):
    return local if os.path.realpath(frame.f_code.co_filename) in files else None

settings = Settings(corpus=corpus, index=index, embedder="fake", model="fake", progress=False)
sys.settrace(tracer)
qa.index.build.build_index(settings, FakeEmbedder(), full=kind == "full")
sys.settrace(None)
print(json.dumps([[key, runs[key]] for key in order]))
"""
)


def steps(corpus: Path, index: Path, kind: str) -> list[str]:
    """Every step of one build: 'file:line#n' for each line's first run, and its last run."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), str(index), kind, "-"],
        capture_output=True,
        text=True,
        check=True,
        env=SAME_RUN,
    )
    points = []
    for key, runs in json.loads(done.stdout):
        points.append(f"{key}#1")
        if runs > 1:
            points.append(f"{key}#{runs}")
    return points


def chosen(points: list[str], count: int | None) -> list[str]:
    """`count` points spread evenly over the build, plus every line of the catalog's commit
    that puts the new version in service (`Catalog.switch_to`)."""
    if count is None or count >= len(points):
        return points
    spread = [points[round(i * (len(points) - 1) / (count - 1))] for i in range(count)]
    lines, first = inspect.getsourcelines(qa.store.catalog.Catalog.switch_to)
    name = os.path.basename(inspect.getsourcefile(qa.store.catalog.Catalog.switch_to))
    switch = [f"{name}:{n}#1" for n in range(first, first + len(lines))]
    return list(dict.fromkeys(spread + [p for p in switch if p in points]))


def broken(settings: Settings, before: set[str], after: set[str]) -> str | None:
    """Why the index in service is broken, or None when it is whole."""
    live = current_version(settings.index)
    if live is None:
        return "no version in service"
    try:
        manifest = Manifest.read(live)
        check = Catalog(Path(settings.index) / CATALOG_FILE)
        integrity = check.integrity()
        check.close()
        if integrity != "ok":
            return f"catalog: {integrity}"
        index = open_index(settings)
        documents, passages = index.catalog.counts()
        stored = set(index.catalog.document_hashes())
        if stored not in (before, after):
            return f"documents: {len(stored)} in the catalog, neither before nor after"
        vectors = {int(i) for i in index.vectors.ids()}
        ids = set(index.catalog.passage_ids())
        if vectors != ids or passages != manifest.passages:
            return f"vectors: {len(vectors)} for {len(ids)} passages"
        index.close()
        assistant = Assistant(settings, FakeEmbedder())
        assistant.search("strike assembly unions")
    except Exception as error:  # any failure to open or search is what this counts
        return f"{type(error).__name__}: {error}"
    return None


def leftovers(settings: Settings, serving: Path | None, expected: set[str]) -> str | None:
    """What the next build leaves beyond its version and the one serving before it."""
    report = build_index(settings, FakeEmbedder())
    index = Path(settings.index)
    kept = {report.version} | ({serving.name} if serving else set())
    extra = {p.name for p in (index / "versions").iterdir()} - kept
    opened = open_index(settings)
    documents = set(opened.catalog.document_hashes())
    opened.close()
    if extra or documents != expected:
        return f"versions {sorted(extra)}, documents {len(documents)}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=40, help="kill points per kind of build")
    parser.add_argument("--every", action="store_true", help="kill at every step")
    options = parser.parse_args()
    with campaign_folder("qa-kill-") as work:
        corpus, base = work / "corpus", work / "base"
        write_archive(corpus, 30)
        settings = fake_settings(corpus, base)
        build_index(settings, FakeEmbedder())
        before = set(open_index(settings).catalog.document_hashes())
        # The killed builds' changes: three added, two changed, two removed.
        for n in range(3):
            (corpus / f"added-{n}.txt").write_text(f"Students in town {n} joined the strike.")
        for path in sorted(corpus.glob("*.md"))[:2]:
            path.write_text(path.read_text() + "\nA late correction was added.\n")
        for path in sorted(corpus.glob("*.html"))[:2]:
            path.unlink()
        after = set(write_expected(corpus, work))

        totals = {"points": 0, "killed": 0, "broken": 0, "orphans": 0}
        for kind in ("incremental", "full"):
            dry = work / f"dry-{kind}"
            shutil.copytree(base, dry)
            points = steps(corpus, dry, kind)
            picked = chosen(points, None if options.every else options.points)
            print(f"{kind} build: {len(points)} steps, killing at {len(picked)}", flush=True)
            for point in picked:
                run = work / "run"
                shutil.rmtree(run, ignore_errors=True)
                shutil.copytree(base, run)
                child = [sys.executable, "-c", CHILD, str(corpus), str(run), kind, point]
                died = subprocess.run(child, capture_output=True, text=True, env=SAME_RUN)
                totals["points"] += 1
                totals["killed"] += died.returncode == -signal.SIGKILL
                if died.returncode != -signal.SIGKILL:
                    print(f"  not killed at {point}: exit {died.returncode}", flush=True)
                settings = fake_settings(corpus, run)
                problem = broken(settings, before, after)
                if problem:
                    totals["broken"] += 1
                    print(f"  BROKEN after a kill at {point}: {problem}", flush=True)
                left = leftovers(settings, current_version(run), after)
                if left:
                    totals["orphans"] += 1
                    print(f"  LEFTOVERS after a kill at {point}: {left}", flush=True)
        print(
            f"SIGKILL points: {totals['points']} (builds that died by SIGKILL: "
            f"{totals['killed']}); broken indexes: {totals['broken']} (target 0); orphans or "
            f"leftovers after the next build: {totals['orphans']} (target 0)"
        )


def write_expected(corpus: Path, work: Path) -> list[str]:
    """The documents a build of the changed corpus holds (one unkilled build to see)."""
    reference = fake_settings(corpus, work / "reference")
    build_index(reference, FakeEmbedder())
    return list(open_index(reference).catalog.document_hashes())


if __name__ == "__main__":
    main()
