"""What the campaign scripts share: a scratch folder that says how long the campaign took,
a small varied archive, a live server over the fake embedder (tests/fake_embedder.py) in a
child process, and counting a process's open files. The campaigns build and serve with the
fake embedder: importing this module lets them import it (`from fake_embedder import ...`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from common import FINDS_FAKE_EMBEDDER, Server, find_fake_embedder, serving

find_fake_embedder()

TOPICS = [
    ("strike", "The national strike was called for December {n} by the assembly of unions."),
    ("harvest", "The potato harvest in province {n} doubled after the canals opened."),
    ("flood", "The river flooded the lower town {n} times in March."),
    ("glacier", "The glacier retreated {n} metres over the summer."),
    ("port", "El puerto cerró {n} días durante la huelga de los estibadores."),
]


@contextlib.contextmanager
def campaign_folder(prefix: str) -> Iterator[Path]:
    """A scratch folder for one campaign, removed afterwards (with the folders whose
    permissions the campaign took away); prints the minutes the campaign took when it ends."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
        print(f"{(time.monotonic() - started) / 60:.1f} min")
    finally:
        for parent, folders, _ in os.walk(work):
            for folder in folders:
                path = Path(parent, folder)
                if not path.is_symlink():
                    path.chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)


def write_archive(corpus: Path, documents: int = 30) -> list[str]:
    """A small archive of text, Markdown, HTML and JSON Lines; returns the document ids."""
    ids = []
    corpus.mkdir(parents=True, exist_ok=True)
    records = []
    for n in range(documents):
        name, sentence = TOPICS[n % len(TOPICS)]
        text = " ".join(sentence.format(n=n + k) for k in range(6))
        kind = n % 4
        if kind == 0:
            path = corpus / "notes" / f"{name}-{n}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"{name.title()} note {n}\n\n{text}\n", encoding="utf-8")
            ids.append(f"notes/{name}-{n}.txt")
        elif kind == 1:
            path = corpus / f"{name}-{n}.md"
            front = f"---\ntitle: {name.title()} report {n}\ndate: 2022-12-{n % 28 + 1:02d}\n---\n"
            path.write_text(front + text + "\n", encoding="utf-8")
            ids.append(path.name)
        elif kind == 2:
            path = corpus / f"{name}-{n}.html"
            body = f"<article><h1>{name.title()} {n}</h1><p>{text}</p></article>"
            path.write_text(f"<html><body><nav>Home</nav>{body}</body></html>", "utf-8")
            ids.append(path.name)
        else:
            records.append({"text": text, "title": f"{name.title()} record {n}", "date": "2021"})
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    (corpus / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids.extend(f"records.jsonl:{line}" for line in range(1, len(records) + 1))
    return sorted(ids)


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


SERVE = (
    FINDS_FAKE_EMBEDDER
    + """
import sys
import uvicorn
from qa.web.app import create_app
from qa.core.config import Settings
from qa.web.server import server_config
from qa.service.assistant import Assistant
from fake_embedder import FakeEmbedder

corpus, index, port, token, collect = sys.argv[1:6]
if collect == "no":
    import gc
    gc.disable()
settings = Settings(corpus=corpus, index=index, embedder="fake", model="fake", progress=False,
                    admin_token=token, port=int(port))
assistant = Assistant(settings, FakeEmbedder())
assistant.ensure_index()
uvicorn.Server(server_config(create_app(settings, assistant), settings)).run()
"""
)


def fake_server(
    corpus: Path, index: Path, token: str, collect_garbage: bool = True
) -> contextlib.AbstractContextManager[Server]:
    """`qa serve` as it runs (uvicorn, JSON-error protocol, middleware) over the fake
    embedder, in a child process, once /api/health answers (see common.serving). Without
    `collect_garbage`, only what the server closes on purpose is ever closed."""
    collect = "yes" if collect_garbage else "no"

    def command(port: int) -> list[str]:
        return [sys.executable, "-c", SERVE, str(corpus), str(index), str(port), token, collect]

    return serving(command, stderr=subprocess.PIPE, text=True)


def bound_by_permissions(command: list[str]) -> list[str]:
    """`command` run so that file permissions bind it: as root (whom chmod 000 denies
    nothing), without the capabilities that override them."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        raise SystemExit("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
