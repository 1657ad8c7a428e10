"""Shared fixtures: the small deterministic fake embedder (qa.testing) beside the real model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import Settings
from qa.documents import MetadataLimits, UnreadableDocument, load_document, scan_corpus
from qa.testing import FakeEmbedder
from qa.types import Document, SkippedFile

REPOSITORY = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPOSITORY / "corpus"


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
def real_embedder(tmp_path_factory):
    """The real bundled all-MiniLM-L6-v2 as serving uses it (questions through the ONNX
    query encoder, exported into a temporary cache), loaded once per test session."""
    from qa.embedders import EmbedderOptions, load_embedder

    cache = tmp_path_factory.mktemp("model-cache")
    options = EmbedderOptions(query_encoder="onnx", cache_dir=cache)
    return load_embedder("sentence-transformers", "bundled:all-MiniLM-L6-v2", options)


@pytest.fixture(scope="module")
def module_fake_embedder() -> FakeEmbedder:
    """The fake embedder for archives that a test module builds once and shares."""
    return FakeEmbedder()
