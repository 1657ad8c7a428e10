"""Incremental builds, atomic switching, interrupted builds and refusing a mismatched index."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from pdfs import write_pdf

from qa.errors import BuildInProgressError, IndexMismatchError, IndexMissingError
from qa.index import _build_lock, build_index, current_version, open_index
from qa.service import Assistant
from qa.text import terms


def write(corpus: Path, name: str, text: str) -> None:
    path = corpus / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_each_sentence_is_embedded_once_and_kept_with_its_passages(make_settings, fake_embedder):
    settings = make_settings(chunk_tokens=16, chunk_overlap_sentences=1)
    sentences = [f"Sentence number {n} tells of strike day {n} in the city." for n in range(8)]
    write(settings.corpus, "long.txt", " ".join(sentences))
    build_index(settings, fake_embedder)
    index = open_index(settings)
    stored = index.catalog.passages(index.vectors.ids().tolist())
    assert len(stored) > 2  # overlapping passages share sentences
    embedded_alone = [text for text in fake_embedder.encoded if text in sentences]
    assert sorted(embedded_alone) == sorted(sentences)  # each once, shared or not
    for entry in stored.values():
        texts = [sentence.text for sentence in entry.passage.sentences]
        expected = fake_embedder.encode_passages(texts)
        assert entry.sentence_vectors.shape == expected.shape
        np.testing.assert_allclose(entry.sentence_vectors, expected, atol=2e-3)  # float16


def test_without_sentence_vectors_only_passages_are_embedded(make_settings, fake_embedder):
    settings = make_settings(sentence_vectors=False)
    write(settings.corpus, "a.txt", "The strike began. It lasted two days.")
    report = build_index(settings, fake_embedder)
    assert len(fake_embedder.encoded) == report.embedded_passages == 1
    index = open_index(settings)
    (entry,) = index.catalog.passages(index.vectors.ids().tolist()).values()
    assert entry.sentence_vectors is None


def test_second_build_embeds_nothing_and_changes_are_incremental(make_settings, fake_embedder):
    settings = make_settings()
    corpus = settings.corpus
    write(corpus, "strike.txt", "The national strike was on 15 December. Unions joined it.")
    write(corpus, "assembly.txt", "The assembly met on 10 December in Lima.")
    write(corpus, "old.txt", "An old note about roads.")
    first = build_index(settings, fake_embedder)
    assert (first.added, first.documents) == (3, 3)
    assert first.embedded_passages == first.passages > 0

    again = build_index(settings, fake_embedder)
    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 3)
    assert again.embedded_passages == 0

    write(corpus, "assembly.txt", "The assembly met on 10 December in Lima with 200 delegates.")
    write(corpus, "new.txt", "Students called a strike.")
    (corpus / "old.txt").unlink()
    fake_embedder.encoded.clear()
    update = build_index(settings, fake_embedder)
    assert (update.added, update.changed, update.removed, update.unchanged) == (1, 1, 1, 1)
    assert all("national strike" not in text for text in fake_embedder.encoded)
    assert update.embedded_passages == 2
    assert len(fake_embedder.encoded) == 4  # the two passages, and the one sentence of each

    index = open_index(settings)
    assert set(index.manifest.documents) == {"strike.txt", "assembly.txt", "new.txt"}
    assert index.vectors.size == update.passages
    hits = Assistant(settings, fake_embedder).search("delegates assembly", k=3)
    assert hits[0].document_id == "assembly.txt"
    assert all(hit.document_id != "old.txt" for hit in hits)


def test_full_rebuild_reembeds_everything(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    report = build_index(settings, fake_embedder, full=True)
    assert report.embedded_passages == report.passages == 1


def test_manifest_describes_the_index(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    folder = current_version(settings.index)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "fake"
    assert manifest["dimension"] == 64 and manifest["normalised"] is True
    assert manifest["chunking"]["max_tokens"] <= 64
    assert set(manifest["documents"]) == {"a.txt"}
    assert len(manifest["documents"]["a.txt"]) == 64  # sha256 hex


def test_corrupt_pdf_is_named_and_skipped_and_the_rest_indexed(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "good.txt", "The strike was on 15 December.")
    (settings.corpus / "bad.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    write_pdf(settings.corpus / "ok.pdf", ["Page one text.", "Page two text."])
    report = build_index(settings, fake_embedder)
    assert report.documents == 2
    assert [(s.path, "PDF" in s.reason) for s in report.skipped] == [("bad.pdf", True)]


def test_a_changed_document_that_becomes_unreadable_keeps_its_old_version(
    make_settings, fake_embedder
):
    settings = make_settings()
    write(settings.corpus, "a.md", "---\ntitle: A\n---\nThe assembly met in Lima.")
    build_index(settings, fake_embedder)
    write(settings.corpus, "a.md", "---\ntitle: [broken\n---\nThe assembly met in Lima.")
    report = build_index(settings, fake_embedder)
    assert report.documents == 1
    assert "kept" in report.skipped[0].reason


def test_model_mismatch_is_refused_with_the_command_to_run(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    other = make_settings(model="another-model")
    with pytest.raises(IndexMismatchError, match=r"qa index --full"):
        open_index(other)
    with pytest.raises(IndexMismatchError, match="another-model"):
        build_index(other, fake_embedder)
    changed_chunks = make_settings(chunk_tokens=40)
    with pytest.raises(IndexMismatchError, match="chunking"):
        open_index(changed_chunks)


def test_format_mismatch_is_refused(make_settings, fake_embedder):
    settings = make_settings()
    write(settings.corpus, "a.txt", "Alpha text here.")
    build_index(settings, fake_embedder)
    manifest_path = current_version(settings.index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format 999"):
        open_index(settings)


def test_missing_index_names_the_build_command(make_settings):
    with pytest.raises(IndexMissingError, match="qa index"):
        open_index(make_settings())


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


def test_old_versions_are_closed_when_their_last_request_ends(make_settings, fake_embedder):
    """Open files stay flat across rebuilds, without waiting for the garbage collector."""
    settings = make_settings()
    write(settings.corpus, "a.txt", "The assembly met in Lima on 10 December.")
    assistant = Assistant(settings, fake_embedder)
    assistant.build()

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    def requests_from_every_thread(pool) -> None:
        list(pool.map(lambda _: assistant.search("assembly strike", k=3), range(32)))

    collecting = gc.isenabled()
    gc.disable()  # old versions must be closed on purpose, not by collection
    try:
        with ThreadPoolExecutor(8) as pool:
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
    from qa.testing import FakeEmbedder
    from qa.config import Settings
    from qa.index import build_index

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


def test_term_counts_follow_adds_changes_and_removals(make_settings, fake_embedder):
    """The vocabulary kept document by document equals what FTS5 counts from scratch."""
    settings = make_settings()
    corpus = settings.corpus
    write(corpus, "a.txt", "The strike began in Puno. Roads were blocked in Puno and Cusco.")
    write(corpus, "b.txt", "Students marched in Lima. The strike spread to Lima.")
    write(corpus, "c.txt", "Farmers joined the national strike.")
    build_index(settings, fake_embedder)
    write(corpus, "b.txt", "Students marched in Arequipa.")
    (corpus / "c.txt").unlink()
    write(corpus, "d.txt", "A curfew was declared in Puno.")
    build_index(settings, fake_embedder)

    index = open_index(settings)
    db = index.catalog.connection
    kept = dict(db.execute("SELECT term, passages FROM vocabulary"))
    db.execute("CREATE VIRTUAL TABLE temp.recount USING fts5vocab(main, passage_terms, 'row')")
    counted = dict(db.execute("SELECT term, doc FROM temp.recount"))
    assert kept == counted
    (farmers,) = terms("Farmers", "en")
    assert kept["puno"] == 2 and farmers not in kept and "lima" not in kept


def test_passages_per_document_counts_every_documents_passages(make_settings, fake_embedder):
    settings = make_settings(chunk_tokens=16, chunk_overlap_sentences=0)
    sentences = [f"Sentence number {n} tells of strike day {n} in the city." for n in range(6)]
    write(settings.corpus, "long.txt", " ".join(sentences))
    write(settings.corpus, "short.txt", "The strike ended.")
    build_index(settings, fake_embedder)
    index = open_index(settings)
    counts = index.catalog.passages_per_document()
    stored = {name: len(index.catalog.document_passages(name)) for name in counts}
    index.close()
    assert counts == stored
    assert counts["short.txt"] == 1 and counts["long.txt"] >= 3


CRASH_BEFORE_SWITCH = textwrap.dedent(
    """
    import os, signal, sys
    from qa.config import Settings
    from qa.index import build_index
    from qa.testing import FakeEmbedder

    real_replace = os.replace

    def crash_at_the_switch(source, target, *args, **kwargs):
        if os.path.basename(target) == "CURRENT":  # the manifest is written, CURRENT not yet
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(source, target, *args, **kwargs)

    os.replace = crash_at_the_switch
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
    assert list(settings.index.glob(".CURRENT.*.tmp"))

    report = build_index(settings, fake_embedder)
    assert report.documents == 3
    # Kept: the new version, and the one that was serving until now (for requests in flight).
    assert {p.name for p in versions.iterdir()} == {report.version, serving.name}
    assert not list(settings.index.glob(".CURRENT.*.tmp"))


FULL_DISK_BUILD = textwrap.dedent(
    """
    import resource, signal, sys
    import qa.cli
    from qa.service import Assistant
    from qa.testing import FakeEmbedder
    from qa.text import detect_language

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


FAKE_MODEL_CLI = textwrap.dedent(
    """
    import sys
    import qa.cli
    from qa.service import Assistant
    from qa.testing import FakeEmbedder

    qa.cli._assistant = lambda settings: Assistant(settings, FakeEmbedder())
    qa.cli.main(sys.argv[1:])
    """
)


def test_a_damaged_pdf_is_named_without_noise_on_stderr(make_settings):
    settings = make_settings()
    write(settings.corpus, "good.txt", "The strike was on 15 December.")
    (settings.corpus / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer garbage")
    done = subprocess.run(
        [sys.executable, "-c", FAKE_MODEL_CLI, "index"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "QA_EMBEDDER": "fake",
            "QA_MODEL": "fake",
            "QA_CORPUS": str(settings.corpus),
            "QA_INDEX": str(settings.index),
        },
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("Skipped bad.pdf: unreadable PDF: ")
