"""A build's documents prepared and passages embedded on a Ray cluster (`Settings.cluster`).

The driver (the `qa index` process) keeps what must happen once: scanning and diffing the
corpus, the build lock, writing the version, the manifest and the switch. The cluster's
workers, Ray actors that each load the model once, read and chunk the documents (from the
corpus at the same path; each checks the content hash the scan found) and embed the same
groups of passages a local build embeds, so the vectors are the same.

Faults: a worker (or node) lost mid-task has its task sent to another worker and counted in
`retried_tasks`; each embedded group is staged per document (`qa.index.staging`), so a
driver killed mid-build leaves the version in service as it was and the next build embeds
only what was not staged. No wait lasts longer than `Settings.cluster_step_timeout`: a
build that gets no result from any worker stops and names the step it waited for.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.core.config import Settings
from qa.core.errors import BuildError, BuildStalledError, ConfigurationError
from qa.core.types import Passage
from qa.embedders import Embedder, embedder_for
from qa.index.chunking import ChunkingParameters
from qa.index.embedding import EmbeddedGroup, embed_group
from qa.index.preparing import PreparedDocument, prepare_document
from qa.index.staging import Staging, vector_identity
from qa.ingest.documents import MetadataLimits, SourceEntry

#: Documents a worker prepares in one call.
PREPARE_BATCH = 8
#: CPUs each worker takes: one embedding thread each, as many workers as CPUs.
WORKER_CPUS = 1
#: Times a task is sent to a worker before the build gives up on it.
MAX_ATTEMPTS = 4
#: What the build tells a user whose build stopped.
UNCHANGED = "The version in service is unchanged; what was embedded is staged for the next build."


class EmbeddingWorker:
    """One cluster worker: the model loaded once, then documents prepared and groups
    embedded as the driver sends them (a Ray actor's methods run one at a time)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from qa.index.build import chunking_parameters

        self.settings = Settings(**settings)
        self.embedder = embedder_for(self.settings)
        self.params = chunking_parameters(self.settings, self.embedder)
        self.limits = MetadataLimits.of(self.settings)

    def ready(self) -> tuple[int, str]:
        """Where the worker runs: its process id and its Ray node's id."""
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def prepare(self, entries: list[SourceEntry]) -> list[PreparedDocument]:
        return [
            prepare_document(entry, self.limits, self.embedder, self.params, check_hash=True)
            for entry in entries
        ]

    def embed(self, pending: list[tuple[Passage, str]]) -> EmbeddedGroup:
        return embed_group(pending, self.embedder, self.settings)


def connect(address: str) -> bool:
    """Join the Ray cluster at `address` ('local' starts one here); True if this call
    started or joined it (and so should shut it down), False if Ray was already running."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # Ray reports usage unless told not to
    try:
        import ray
    except ImportError:
        raise ConfigurationError(
            f"QA_CLUSTER={address} needs Ray: pip install 'archive-qa[cluster]'."
        ) from None
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            # "local": a new cluster of its own, never one a `ray start` left running here.
            ray.init(address="local", include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise BuildError(
            f"Cannot join the Ray cluster at {address}: {error}. A cluster that `ray start` "
            "began asks for its token: set RAY_AUTH_MODE=token (docs/cluster.md)."
        ) from None
    return True


@dataclass
class _Task:
    method: str  # the worker method: "prepare" or "embed"
    payload: list
    describe: str
    documents: list[tuple[str, list[int]]] = field(default_factory=list)  # staging key, ids
    result: Any = None
    done: bool = False
    attempts: int = 1


class ClusterExecutor:
    """Prepares and embeds on a Ray cluster's workers, returning results in the build's order."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        params: ChunkingParameters,
        limits: MetadataLimits,
        staging_folder: Path,
    ) -> None:
        self.cluster = settings.cluster
        self.timeout = settings.cluster_step_timeout
        self.retried_tasks = 0
        self._started = connect(settings.cluster)
        import ray

        self._ray = ray
        self._actors: list = []
        cpus = WORKER_CPUS
        count = settings.cluster_workers or max(
            1, int(ray.cluster_resources().get("CPU", 0)) // cpus
        )
        worker_settings = settings.model_copy(update={"index_threads": cpus, "progress": False})
        # Restarted after a crash or a lost node; their tasks are resent by this driver.
        worker = ray.remote(EmbeddingWorker).options(
            num_cpus=cpus, max_restarts=-1, max_task_retries=0
        )
        self._actors = [worker.remote(worker_settings.model_dump()) for _ in range(count)]
        self._load = [0] * count
        self._running: dict[Any, tuple[_Task, int]] = {}
        self._groups: deque[_Task] = deque()
        self._keys: dict[str, str] = {}  # document id -> staging key, until its group goes
        self._group_count = 0
        self.workers = count
        self.started_workers: list[tuple[int, str]] = []  # (process id, node id) of each
        self.staging = Staging(staging_folder, vector_identity(settings, params))
        try:
            self._wait_ready(f"starting {count} workers (each loads the model)")
        except BaseException:
            self.close()
            raise

    # --- What the build calls (qa.index.preparing.BuildExecutor) ---

    def prepare(self, entries: list[SourceEntry]) -> Iterator[PreparedDocument]:
        # Workers read the corpus at the path the driver scanned, whatever their folder.
        entries = [replace(entry, path=Path(os.path.abspath(entry.path))) for entry in entries]
        batches = [entries[i : i + PREPARE_BATCH] for i in range(0, len(entries), PREPARE_BATCH)]
        tasks: list[_Task] = []
        window = 2 * len(self._actors)
        for index in range(len(batches)):
            while len(tasks) < len(batches) and len(tasks) < index + window:
                first = len(tasks) * PREPARE_BATCH
                last = first + len(batches[len(tasks)])
                describe = f"preparing documents {first + 1}-{last} of {len(entries)}"
                tasks.append(_Task("prepare", batches[len(tasks)], describe))
                self._submit(tasks[-1])
            while not tasks[index].done:
                self._wait_one()
            yield from tasks[index].result
            tasks[index].result = None

    def staged(self, prepared: PreparedDocument) -> EmbeddedGroup | None:
        key = self.staging.key(prepared.entry.content_hash, prepared.texts)
        found = self.staging.load(key, [passage.id for passage in prepared.passages])
        if found is None:
            self._keys[prepared.entry.id] = key
        return found

    def embed(self, pending: list[tuple[Passage, str]]) -> Iterable[EmbeddedGroup]:
        if pending:
            self._group_count += 1
            documents: dict[str, list[int]] = {}
            for passage, _ in pending:
                documents.setdefault(passage.document_id, []).append(passage.id)
            task = _Task(
                "embed",
                list(pending),
                f"embedding group {self._group_count} ({len(pending)} passages)",
                [(self._keys.pop(document), ids) for document, ids in documents.items()],
            )
            self._submit(task)
            self._groups.append(task)
        # Enough groups queued to keep every worker busy: wait for the oldest.
        while len(self._groups) > 2 * len(self._actors) and not self._groups[0].done:
            self._wait_one()
        self._collect()
        return self._finished_groups()

    def finish(self) -> Iterator[EmbeddedGroup]:
        while self._groups:
            while not self._groups[0].done:
                self._wait_one()
            yield from self._finished_groups()

    def close(self, finished: bool = False) -> None:
        """Stop the workers (and Ray, if this build started it); after a build that
        finished, keep only the staged vectors it used."""
        if finished:
            self.staging.keep_only_used()
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._started:
            self._ray.shutdown()

    # --- Scheduling ---

    def _finished_groups(self) -> list[EmbeddedGroup]:
        """The groups done at the head of the queue, in order, staged as they leave it."""
        finished = []
        while self._groups and self._groups[0].done:
            task = self._groups.popleft()
            for key, ids in task.documents:
                self.staging.save(key, task.result, ids)
            finished.append(task.result)
        return finished

    def _submit(self, task: _Task, avoid: int | None = None) -> None:
        """Send the task to the least busy worker (another than `avoid`, if there is one)."""
        choices = [n for n in range(len(self._actors)) if n != avoid] or [avoid or 0]
        actor = min(choices, key=lambda n: self._load[n])
        reference = getattr(self._actors[actor], task.method).remote(task.payload)
        self._running[reference] = (task, actor)
        self._load[actor] += 1

    def _wait_ready(self, step: str) -> None:
        references = [actor.ready.remote() for actor in self._actors]
        ready, _ = self._ray.wait(references, num_returns=len(references), timeout=self.timeout)
        if len(ready) < len(references):
            raise BuildStalledError(
                f"The cluster build stalled while {step}: {len(ready)} of {len(references)} "
                f"ready after {self.timeout:g} s (too few CPUs free in the cluster?). "
                "The version in service is unchanged."
            )
        try:
            self.started_workers = self._ray.get(references)
        except self._ray.exceptions.RayError as error:
            raise BuildError(f"The cluster's workers could not start: {error}") from None

    def _wait_one(self) -> None:
        """Wait for one result (at most the step timeout); resend a lost worker's task."""
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=self.timeout)
        if not ready:
            waiting = next(iter(self._running.values()))[0].describe
            raise BuildStalledError(
                f"The cluster build stalled: no worker returned a result in {self.timeout:g} s "
                f"(QA_CLUSTER_STEP_TIMEOUT) while {waiting}. {UNCHANGED}"
            )
        self._complete(ready[0])

    def _collect(self) -> None:
        """Take every result already there, without waiting."""
        if self._running:
            ready, _ = self._ray.wait(
                list(self._running), num_returns=len(self._running), timeout=0
            )
            for reference in ready:
                self._complete(reference)

    def _complete(self, reference) -> None:
        exceptions = self._ray.exceptions
        task, actor = self._running.pop(reference)
        self._load[actor] -= 1
        try:
            task.result = self._ray.get(reference)
        except (
            exceptions.RayActorError,
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.ObjectLostError,
        ) as error:
            if task.attempts >= MAX_ATTEMPTS:
                raise BuildError(
                    f"The cluster build failed: {task.describe} was lost {task.attempts} "
                    f"times ({type(error).__name__}). {UNCHANGED}"
                ) from None
            task.attempts += 1
            self.retried_tasks += 1
            self._submit(task, avoid=actor)
            return
        except exceptions.RayTaskError as error:
            cause = error.cause if error.cause is not None else error
            raise BuildError(
                f"A cluster worker failed while {task.describe}: {type(cause).__name__}: "
                f"{cause}. Workers read the corpus at the path the build scanned "
                f"(docs/cluster.md). {UNCHANGED}"
            ) from None
        task.done = True
