"""`qa index --cluster`: the build's documents prepared and passages embedded on a real Ray
cluster (one per test session: `ray.cluster_utils.Cluster`, three one-CPU nodes on this
machine) with the real default model, and the result the same as a local build's, also when
a worker is killed, a node is removed or the driver is killed; a cluster started with
`ray start --head` is joined by its address."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from archives import BUNDLED_CORPUS  # noqa: E402

from qa.core.config import Settings  # noqa: E402
from qa.core.errors import BuildStalledError  # noqa: E402
from qa.embedders import embedder_for  # noqa: E402
from qa.index.build import STAGING_FOLDER, build_index, current_version  # noqa: E402
from qa.index.cluster import ClusterExecutor  # noqa: E402
from qa.service.assistant import Assistant  # noqa: E402

pytestmark = pytest.mark.cluster

#: Copies of the bundled archive in the larger corpus (11 passages each), and passages a
#: group holds there: enough groups that a fault strikes mid-build.
COPIES = 6
GROUP = 6
QA = str(Path(sys.executable).parent / "qa")


@pytest.fixture(scope="session")
def cluster():
    """The session's Ray cluster: a head without CPUs (the driver's) and three one-CPU nodes,
    one of them spare for the workers of a node that leaves."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 0})
    for _ in range(3):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e5-cache")


@pytest.fixture(scope="session")
def embedder(e5_cache):
    return embedder_for(Settings(cache_dir=e5_cache))


@pytest.fixture(scope="session")
def large_corpus(tmp_path_factory) -> Path:
    """The bundled archive six times over, each copy in its own folder."""
    root = tmp_path_factory.mktemp("large") / "corpus"
    for number in range(COPIES):
        shutil.copytree(BUNDLED_CORPUS, root / f"copy{number}")
    return root


def settings_for(corpus: Path, index: Path, cache: Path, **overrides) -> Settings:
    values = {"corpus": corpus, "index": index, "cache_dir": cache, "progress": False}
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="session")
def local_bundled(tmp_path_factory, embedder, e5_cache) -> Settings:
    settings = settings_for(BUNDLED_CORPUS, tmp_path_factory.mktemp("local") / "i", e5_cache)
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def local_large(tmp_path_factory, embedder, e5_cache, large_corpus) -> Settings:
    index = tmp_path_factory.mktemp("local-large") / "i"
    settings = settings_for(large_corpus, index, e5_cache, embed_group=GROUP)
    build_index(settings, embedder)
    return settings


def hits_of(settings: Settings, embedder, queries: list[str]) -> list[list[tuple[int, float]]]:
    assistant = Assistant(settings.model_copy(update={"cluster": ""}), embedder)
    return [[(hit.passage_id, hit.score) for hit in assistant.search(q, k=10)] for q in queries]


def queries_of(settings: Settings, embedder) -> list[str]:
    assistant = Assistant(settings, embedder)
    found = []
    for document_id in assistant.document_ids(20):
        document, passages = assistant.document(document_id)
        found += [document.title, passages[-1].text[:80]]
    return found


def assert_same_index(built: Settings, local: Settings, embedder) -> None:
    """The same passages in the same order, scores within 1e-4, for each query."""
    queries = queries_of(local, embedder)
    for query, ours, theirs in zip(
        queries, hits_of(built, embedder, queries), hits_of(local, embedder, queries), strict=True
    ):
        assert [p for p, _ in ours] == [p for p, _ in theirs], query
        assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-4), query
    assert (
        Assistant(built, embedder).health()["passages"]
        == Assistant(local, embedder).health()["passages"]
    )


def test_a_cluster_build_is_the_local_build(cluster, tmp_path, embedder, e5_cache, local_bundled):
    settings = settings_for(BUNDLED_CORPUS, tmp_path / "index", e5_cache, cluster=cluster.address)
    report = build_index(settings, embedder)
    assert (report.cluster, report.workers, report.retried_tasks) == (cluster.address, 3, 0)
    assert report.embedded_passages == report.passages > 0
    assert_same_index(settings, local_bundled, embedder)


def strike_at_first_group(monkeypatch, strike) -> list:
    """Call `strike(executor, actor index)` once, on a worker that has tasks queued, when the
    first embedded group comes back (a real fault at a chosen point of a real build)."""
    struck: list = []
    original = ClusterExecutor._finished_groups

    def finished_groups(self):
        groups = original(self)
        busy = [n for n, load in enumerate(self._load) if load > 0]
        if groups and busy and not struck:
            struck.append(busy[0])
            strike(self, busy[0])
        return groups

    monkeypatch.setattr(ClusterExecutor, "_finished_groups", finished_groups)
    return struck


def test_a_killed_worker_is_replaced_and_the_result_is_the_same(
    cluster, tmp_path, embedder, e5_cache, large_corpus, local_large, monkeypatch
):
    def kill(executor, actor):
        pid, _ = executor.started_workers[actor]
        os.kill(pid, signal.SIGKILL)

    struck = strike_at_first_group(monkeypatch, kill)
    settings = settings_for(
        large_corpus, tmp_path / "i", e5_cache, cluster=cluster.address, embed_group=GROUP
    )
    report = build_index(settings, embedder)
    assert struck and report.retried_tasks >= 1
    assert_same_index(settings, local_large, embedder)


def test_a_removed_node_is_survived_and_the_result_is_the_same(
    cluster, tmp_path, embedder, e5_cache, large_corpus, local_large, monkeypatch
):
    def remove_node(executor, actor):
        _, node_id = executor.started_workers[actor]
        node = next(node for node in cluster.worker_nodes if node.node_id == node_id)
        cluster.remove_node(node, allow_graceful=False)

    struck = strike_at_first_group(monkeypatch, remove_node)
    settings = settings_for(
        large_corpus,
        tmp_path / "i",
        e5_cache,
        cluster=cluster.address,
        embed_group=GROUP,
        cluster_workers=2,
    )
    try:
        report = build_index(settings, embedder)
    finally:
        cluster.add_node(num_cpus=1)  # the session's cluster as it was
        cluster.wait_for_nodes()
    assert struck and report.retried_tasks >= 1 and report.workers == 2
    assert_same_index(settings, local_large, embedder)


def test_a_killed_driver_leaves_the_old_version_and_the_next_build_resumes(
    cluster, tmp_path, embedder, e5_cache, large_corpus, local_large
):
    corpus = tmp_path / "corpus"
    shutil.copytree(large_corpus / "copy0", corpus / "copy0")
    settings = settings_for(
        corpus, tmp_path / "i", e5_cache, cluster=cluster.address, embed_group=GROUP
    )
    build_index(settings.model_copy(update={"cluster": ""}), embedder)
    old = current_version(settings.index)
    old_hits = hits_of(settings, embedder, ["citations", "formats"])
    for number in range(1, COPIES):
        shutil.copytree(large_corpus / f"copy{number}", corpus / f"copy{number}")

    environment = {**os.environ, "QA_CACHE_DIR": str(e5_cache), "QA_EMBED_GROUP": str(GROUP)}
    command = [QA, "index", "--corpus", str(corpus), "--index", str(settings.index)]
    driver = subprocess.Popen([*command, "--cluster", cluster.address], env=environment)
    staging = settings.index / STAGING_FOLDER
    # Staged files: a document's vectors, complete (a file being written has a dot name).
    while not any(staging.glob("*/[!.]*.npz")) and driver.poll() is None:
        time.sleep(0.05)
    driver.kill()
    assert driver.wait() == -signal.SIGKILL
    staged = len(list(staging.glob("*/[!.]*.npz")))

    assert current_version(settings.index) == old
    assert hits_of(settings, embedder, ["citations", "formats"]) == old_hits
    report = build_index(settings, embedder)
    assert report.staged_passages > 0 and staged > 0
    assert report.embedded_passages == (COPIES - 1) * 11 - report.staged_passages
    assert_same_index(settings, local_large, embedder)


def test_a_moved_folder_reuses_its_staged_vectors(cluster, tmp_path, embedder, e5_cache):
    corpus = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, corpus / "before")
    settings = settings_for(corpus, tmp_path / "i", e5_cache, cluster=cluster.address)
    first = build_index(settings, embedder)
    (corpus / "before").rename(corpus / "after")
    moved = build_index(settings, embedder)
    assert (moved.added, moved.removed) == (first.added, first.added)
    assert moved.staged_passages == first.passages and moved.embedded_passages == 0
    local = settings_for(corpus, tmp_path / "local", e5_cache)
    build_index(local, embedder)
    assert_same_index(settings, local, embedder)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster_token(tmp_path) -> dict[str, str]:
    """The token of a cluster that asks for one, in a file of the test's own: nothing is read
    from or written to ~/.ray, so the test runs alike on a machine where `ray.init` has made
    a token there and on one where it never has."""
    token = tmp_path / "ray-token"
    token.write_text(secrets.token_hex(32))
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


@pytest.fixture
def started_cluster(tmp_path, cluster_token):
    """A Ray cluster started as an operator would (`ray start --head`), with token
    authentication on, stopped after: its processes are the ones that name its temporary
    folder."""
    port = free_port()
    temporary = Path("/tmp") / f"qa-ray-{port}"  # short: Ray's socket paths have a limit
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **cluster_token}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block"]
    command += [f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2"]
    command += ["--include-dashboard=false", f"--temp-dir={temporary}"]
    head = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
        for pid in processes_naming(str(temporary)):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temporary, ignore_errors=True)


def processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_cluster_started_elsewhere_is_joined_by_its_address(
    started_cluster, cluster_token, tmp_path, embedder, e5_cache, local_bundled
):
    index = tmp_path / "index"
    # The cluster asks for its token; the driver sends it (docs/cluster.md).
    environment = {**os.environ, "QA_CACHE_DIR": str(e5_cache), **cluster_token}
    command = [QA, "index", "--corpus", str(BUNDLED_CORPUS), "--index", str(index), "--json"]
    deadline = time.monotonic() + 120
    while True:  # the head takes a few seconds to listen
        done = subprocess.run(
            [*command, "--cluster", started_cluster],
            env=environment,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["cluster"] == started_cluster and report["workers"] == 2
    settings = settings_for(BUNDLED_CORPUS, index, e5_cache)
    assert_same_index(settings, local_bundled, embedder)


def test_a_build_that_waits_too_long_names_the_step_and_changes_nothing(
    cluster, tmp_path, embedder, e5_cache, local_bundled
):
    index = tmp_path / "index"
    shutil.copytree(local_bundled.index, index)
    settings = settings_for(
        BUNDLED_CORPUS,
        index,
        e5_cache,
        cluster=cluster.address,
        cluster_workers=8,  # more than the cluster's three CPUs: five never start
        cluster_step_timeout=5,
    )
    before = current_version(index)
    with pytest.raises(BuildStalledError, match="while starting 8 workers"):
        build_index(settings, embedder)
    assert current_version(index) == before
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 3  # the workers that started stopped
