"""Shared fixtures: the small deterministic fake embedder (fake_embedder.py) beside the real model,
settings for an archive under tmp_path, the small archive of the web tests with its
assistant and a client of the app over it, and the live archive with its real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from archives import BUNDLED_CORPUS, write_live_archive, write_web_archive
from fake_embedder import FakeEmbedder
from fastapi.testclient import TestClient
from http_helpers import ADMIN_TOKEN, free_port, running

from qa.core.config import Settings
from qa.core.types import Document, SkippedFile
from qa.embedders.sentence_transformer import BUNDLED_MODEL
from qa.ingest.documents import MetadataLimits, UnreadableDocument, load_document, scan_corpus
from qa.mcp.http import serving_app
from qa.service.assistant import Assistant
from qa.web.app import create_app
from qa.web.server import server_config

# Child processes that the tests start (CLIs, builds bound by permissions) find the tests'
# modules, the fake embedder among them, as the tests do.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
)


def read_corpus(root: Path, limits: MetadataLimits | None = None) -> list[Document | SkippedFile]:
    """Every document of `root`, parsed, or the reason it was skipped (what a build reads)."""
    limits = limits or MetadataLimits.of(Settings())
    scan = scan_corpus(root)
    found: list[Document | SkippedFile] = list(scan.skipped)
    for entry in scan.entries:
        try:
            found.append(load_document(entry, limits))
        except UnreadableDocument as error:
            found.append(SkippedFile(entry.id, str(error)))
    return found


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def files_read(monkeypatch) -> list[str]:
    """The names of the corpus files read from now on, in order (whatever reads them: the
    scan or a document's parse), and settled at once: a file just written counts as one
    the file system would show changed (its signature is trusted, `qa/ingest/files.py`)."""
    import qa.ingest.documents
    import qa.ingest.files

    monkeypatch.setattr(qa.ingest.files, "SETTLED_NS", 0)
    read: list[str] = []
    real_read = qa.ingest.documents.read_inside

    def reading(path, root):
        read.append(path.name)
        return real_read(path, root)

    monkeypatch.setattr(qa.ingest.documents, "read_inside", reading)
    return read


@pytest.fixture
def make_settings(tmp_path):
    """Settings for an archive under tmp_path, with the fake model unless told otherwise."""

    def make(**overrides) -> Settings:
        values = {
            "corpus": tmp_path / "corpus",
            "index": tmp_path / "index",
            "embedder": "fake",
            "model": "fake",
            "progress": False,
            # FastAPI's test client addresses the app as http://testserver.
            "allowed_hosts": ["testserver", "localhost", "127.0.0.1"],
        }
        values.update(overrides)
        Path(values["corpus"]).mkdir(parents=True, exist_ok=True)
        return Settings(**values)

    return make


@pytest.fixture
def bundled_corpus(tmp_path) -> Path:
    """A copy of the repository's bundled archive."""
    target = tmp_path / "bundled"
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


#: Capabilities that let root read and list what file permissions deny.
PERMISSION_OVERRIDES = "-dac_override,-dac_read_search"


def run_bound_by_permissions(code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs Python `code` in a child that file permissions bind. As root (whom chmod 000
    denies nothing) the child keeps its user but loses the capabilities that override
    permissions (`setpriv`), so the venv under /root stays usable; skipped without setpriv."""
    command = [sys.executable, "-c", code, *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a read fail")
        command = ["setpriv", f"--bounding-set={PERMISSION_OVERRIDES}", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """The cache folder of the real model's ONNX export, shared by the session's processes."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def real_embedder(model_cache):
    """The real bundled all-MiniLM-L6-v2 as serving uses it (questions through the ONNX
    query encoder, exported into a temporary cache), loaded once per test session."""
    from qa.embedders import EmbedderOptions, load_embedder

    options = EmbedderOptions(query_encoder="onnx", cache_dir=model_cache)
    return load_embedder("sentence-transformers", BUNDLED_MODEL, options)


@pytest.fixture(scope="module")
def module_fake_embedder() -> FakeEmbedder:
    """The fake embedder for archives that a test module builds once and shares."""
    return FakeEmbedder()


@pytest.fixture
def web_archive(make_settings, fake_embedder):
    """Settings and an assistant over a freshly built small archive, for tests that change it."""
    settings = make_settings(admin_token=ADMIN_TOKEN)
    write_web_archive(settings.corpus)
    assistant = Assistant(settings, fake_embedder)
    assistant.build()
    return settings, assistant


@pytest.fixture(scope="module")
def shared_web_archive(tmp_path_factory, module_fake_embedder):
    """Settings and an assistant over one small archive that a module's read-only tests share."""
    folder = tmp_path_factory.mktemp("shared")
    settings = Settings(
        corpus=folder / "corpus",
        index=folder / "index",
        embedder="fake",
        model="fake",
        progress=False,
        admin_token=ADMIN_TOKEN,
        allowed_hosts=["testserver"],
    )
    settings.corpus.mkdir()
    write_web_archive(settings.corpus)
    assistant = Assistant(settings, module_fake_embedder)
    assistant.build()
    return settings, assistant


@pytest.fixture(scope="module")
def client(shared_web_archive):
    """A client of the app over the shared small archive."""
    settings, assistant = shared_web_archive
    with TestClient(create_app(settings, assistant)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def live_archive(tmp_path_factory, model_cache, real_embedder) -> tuple[Settings, Assistant]:
    """Settings and an assistant over the live archive (`write_live_archive`), built once
    per session with the real model: the archive of the real servers the tests talk to."""
    folder = tmp_path_factory.mktemp("live")
    settings = Settings(
        corpus=folder / "corpus",
        index=folder / "index",
        embedder="sentence-transformers",
        model=BUNDLED_MODEL,
        cache_dir=model_cache,
        progress=False,
        port=free_port(),
    )
    write_live_archive(settings.corpus)
    assistant = Assistant(settings, real_embedder)
    assistant.build()
    return settings, assistant


@pytest.fixture(scope="session")
def server_url(live_archive) -> Iterator[str]:
    """The address of a real server over the live archive, serving what `qa serve` serves."""
    settings, assistant = live_archive
    with running(uvicorn.Server(server_config(serving_app(settings, assistant), settings))):
        yield f"http://127.0.0.1:{settings.port}"
