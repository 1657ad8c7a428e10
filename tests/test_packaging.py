"""The wheel, as `pip install .` or pipx would install it: built from the source tree, installed
in a fresh virtual environment outside the repository, and serving the chat and its static
files from another folder with `qa serve` on the real default model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from archives import REPOSITORY
from http_helpers import free_port, request

pytestmark = pytest.mark.model

#: What a wheel is built from (everything else in the checkout is left behind).
SOURCES = ("pyproject.toml", "README.md", "qa", "web")
CORPUS_TEXT = "The national strike was called for December 15 by the assembly of unions.\n"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built offline by this venv's setuptools from a copy of the sources
    (so the build leaves nothing in the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = REPOSITORY / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-q", "-w", str(out), str(source)], check=True, timeout=300)
    (built,) = out.glob("archive_qa-*.whl")
    return built


def test_the_wheel_carries_every_module_template_and_static_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(REPOSITORY).as_posix()
        for path in (REPOSITORY / "qa").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    expected |= {
        "qa/web/assets/" + path.relative_to(REPOSITORY / "web").as_posix()
        for path in (REPOSITORY / "web").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "qa/web/assets/templates/chat.html" in expected
    assert "qa/web/assets/static/app.css" in expected
    assert expected - names == set()


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel. The heavy dependencies (torch, FAISS, the models) are
    not installed again: a .pth file lets it import them from this test's environment, after
    its own site-packages, so `qa` is the wheel's."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [path for path in sys.path if path.endswith(("site-packages", "dist-packages"))]
    (Path(site_packages) / "test-dependencies.pth").write_text("\n".join(ours) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, timeout=300)
    return venv


def test_the_installed_package_is_the_wheels(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import qa; print(qa.__file__)"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    ).stdout.strip()
    assert Path(where).is_relative_to(installed), where


def test_qa_serve_from_the_wheel_serves_the_chat_and_its_static_files(installed, tmp_path):
    corpus = tmp_path / "archive" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "strike.txt").write_text(CORPUS_TEXT, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"  # neither the checkout nor the venv
    elsewhere.mkdir()
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("QA_")
    }
    environment["QA_CACHE_DIR"] = str(tmp_path / "cache")
    command = [str(installed / "bin" / "qa"), "serve", "--corpus", str(corpus)]
    command += ["--index", str(tmp_path / "archive" / "index"), "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        command, cwd=elsewhere, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if request(port, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("qa serve did not answer in 120 s")
            time.sleep(0.2)

        status, headers, body = request(port, "GET", "/")
        assert status == 200, body
        assert headers["content-type"].startswith("text/html")
        page = body.decode("utf-8")
        assert "<h1>Ask the archive</h1>" in page
        assert "1 document · 1 passage indexed" in page
        assert 'src="/static/chat.js"' in page

        status, headers, body = request(port, "GET", "/static/chat.js")
        assert status == 200
        assert "javascript" in headers["content-type"]
        assert body == (REPOSITORY / "web" / "static" / "chat.js").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
