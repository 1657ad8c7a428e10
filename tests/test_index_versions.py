"""Index versions: one build at a time, atomic switching, old versions closed when their last
request ends, and builds killed, crashed or out of disk space leaving the old version
serving and no orphan behind."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from archives import write

from qa.core.errors import BuildInProgressError
from qa.index.build import _build_lock, build_index
from qa.index.versions import current_version
from qa.service.assistant import Assistant


def test_only_one_build_at_a_time(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    with _build_lock(settings.index):
        with pytest.raises(BuildInProgressError):
            build_index(settings, fake_embedder)


def test_serving_switches_to_a_new_build_and_old_readers_keep_working(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima.")
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    with assistant.using() as old_engine:  # a request that started on the old version
        write(settings.corpus, "b.txt", "Students called a strike in Cusco.")
        assistant.build()
        assert assistant.health()["documents"] == 2
        # ... can still finish on it.
        assert old_engine.retriever.search("assembly Lima", k=1)[0].document_id == "a.txt"
    assert old_engine.index.catalog.closed and not assistant.engine().index.catalog.closed


#: Threads searching at once, each with its own connection to the version in service.
REQUEST_THREADS = 8


def test_old_versions_are_closed_when_their_last_request_ends(make_settings, fake_embedder):
    """Open files stay flat across rebuilds, without waiting for the garbage collector."""
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima on 10 December.")
    assistant = Assistant(settings, fake_embedder)
    assistant.build()

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    def requests_from_every_thread(pool) -> None:
        # Each of the pool's threads searches (all share the connection to the version in
        # service): none can pass the barrier until all eight wait at it.
        barrier = threading.Barrier(REQUEST_THREADS)

        def request(_) -> None:
            barrier.wait(timeout=30)
            for _ in range(4):
                assistant.search("assembly strike", k=3)

        list(pool.map(request, range(REQUEST_THREADS)))

    collecting = gc.isenabled()
    gc.disable()  # old versions must be closed on purpose, not by collection
    try:
        with ThreadPoolExecutor(REQUEST_THREADS) as pool:
            # Two rebuilds first: SQLite keeps the descriptor of a connection closed while
            # another connection of the process locks the same file (the catalog every
            # version shares), at most one for reading and one for writing, and the next
            # open of the file reuses it.
            for number in range(2):
                write(settings.corpus, f"warm-{number}.txt", "Students called a strike.")
                assistant.build()
                requests_from_every_thread(pool)
            before = open_files()
            for number in range(12):
                write(settings.corpus, f"b{number}.txt", f"Students {number} called a strike.")
                assistant.build()
                requests_from_every_thread(pool)
            assert open_files() <= before
    finally:
        if collecting:
            gc.enable()


KILLED_BUILD = textwrap.dedent(
    """
    import signal, time
    from fake_embedder import FakeEmbedder
    from qa.core.config import Settings
    from qa.index.build import build_index

    # Ctrl-C must stop this build even when the parent ignored SIGINT (a background shell
    # does), since an ignored disposition is inherited across exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    class SlowEmbedder(FakeEmbedder):
        def encode_passages(self, texts, batch_size=32):
            open({flag!r}, "w").close()
            time.sleep(60)
            return super().encode_passages(texts)

    settings = Settings(
        corpus={corpus!r}, index={index!r}, embedder="fake", model="fake", progress=False
    )
    build_index(settings, SlowEmbedder(), full={full})
    """
)


def ignore_sigint() -> None:
    """What a background shell or some CI runners do to the processes they start."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("how", "inherited"),
    [
        pytest.param(signal.SIGKILL, None, id="SIGKILL"),
        pytest.param(signal.SIGINT, None, id="SIGINT"),
        pytest.param(signal.SIGINT, ignore_sigint, id="SIGINT-ignored-by-the-parent"),
    ],
)
@pytest.mark.parametrize("full", [False, True])
def test_a_killed_build_leaves_the_old_index_serving(
    make_settings, fake_embedder, tmp_path, how, inherited, full
):
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima on 10 December.")
    build_index(settings, fake_embedder)
    before = current_version(settings.index)
    write(settings.corpus, "b.txt", "Students called a strike in Cusco.")

    flag = tmp_path / "embedding-started"
    script = KILLED_BUILD.format(
        flag=str(flag),
        corpus=str(settings.corpus),
        index=str(settings.index),
        full=full,
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.DEVNULL, preexec_fn=inherited
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert flag.exists(), "the build never reached the embedding step"
        os.kill(process.pid, how)
        process.wait(timeout=30)
    finally:
        process.kill()

    assert current_version(settings.index) == before
    if how == signal.SIGINT:  # an interrupted build removes its unfinished folder at once
        assert [p.name for p in (settings.index / "versions").iterdir()] == [before.name]
    assistant = Assistant(settings, fake_embedder)
    assert assistant.health()["documents"] == 1
    assert assistant.search("assembly Lima", k=1)[0].document_id == "a.txt"

    report = build_index(settings, fake_embedder)
    assert report.documents == 2 and report.added == 1
    leftovers = sorted(p.name for p in (settings.index / "versions").iterdir())
    assert current_version(settings.index).name in leftovers and len(leftovers) <= 2


CRASH_BEFORE_SWITCH = textwrap.dedent(
    """
    import os, signal, sys
    from qa.core.config import Settings
    from qa.index.build import build_index
    from qa.store.catalog import Catalog
    from fake_embedder import FakeEmbedder

    def crash_at_the_switch(catalog, version):
        # The manifest and the vector parts are written, the catalog's commit not yet.
        os.kill(os.getpid(), signal.SIGKILL)

    Catalog.switch_to = crash_at_the_switch
    settings = Settings(
        corpus=sys.argv[1], index=sys.argv[2], embedder="fake", model="fake", progress=False
    )
    build_index(settings, FakeEmbedder())
    """
)


def test_a_crash_between_the_manifest_and_the_switch_leaves_no_orphan(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima on 10 December.")
    build_index(settings, fake_embedder)
    write(settings.corpus, "b.txt", "Students called a strike in Cusco.")
    build_index(settings, fake_embedder)
    serving = current_version(settings.index)

    write(settings.corpus, "c.txt", "Farmers blocked the roads near Puno.")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_BEFORE_SWITCH, str(settings.corpus), str(settings.index)]
    )
    assert crashed.returncode == -signal.SIGKILL
    assert current_version(settings.index) == serving
    versions = settings.index / "versions"
    orphans = [p for p in versions.iterdir() if (p / "manifest.json").is_file() and p != serving]
    assert len(orphans) == 2  # the version before the one serving, and the crashed build's
    # The crashed build's catalog changes were never committed: the archive is as it was.
    assistant = Assistant(settings, fake_embedder)
    assert assistant.health()["documents"] == 2
    assert all(hit.document_id != "c.txt" for hit in assistant.search("farmers Puno", k=3))

    report = build_index(settings, fake_embedder)
    assert report.documents == 3 and report.added == 1
    # Kept: the new version, and the one that was serving until now (for requests in flight).
    assert {p.name for p in versions.iterdir()} == {report.version, serving.name}


FULL_DISK_BUILD = textwrap.dedent(
    """
    import resource, signal, sys
    import qa.cli
    from qa.service.assistant import Assistant
    from fake_embedder import FakeEmbedder
    from qa.text.languages import detect_language

    # Writes past this size fail, as on a full disk (SIGXFSZ would kill instead). The
    # language detector unpacks its model into a file first: it is loaded before.
    detect_language("The assembly met in Lima on the tenth of December.")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    qa.cli._assistant = lambda settings: Assistant(settings, FakeEmbedder())
    qa.cli.main(["index", "--corpus", sys.argv[1], "--index", sys.argv[2]])
    """
)


def test_a_full_disk_is_one_line_and_leaves_no_unfinished_version(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima on 10 December.")
    build_index(settings, fake_embedder)
    serving = current_version(settings.index)
    largest = max(p.stat().st_size for p in serving.iterdir())
    sentences = [f"Delegate number {n} from province {n % 97} spoke." for n in range(20_000)]
    write(settings.corpus, "minutes.txt", " ".join(sentences))

    arguments = [str(settings.corpus), str(settings.index), str(largest + 64 * 1024)]
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_BUILD, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "QA_EMBEDDER": "fake", "QA_MODEL": "fake"},
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("Error: The build failed") and "still in service" in lines[0]
    assert current_version(settings.index) == serving
    assert [p.name for p in (settings.index / "versions").iterdir()] == [serving.name]
