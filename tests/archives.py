"""Archives the tests build: where the bundled one lies, writing a document (with its
metadata sidecar), the small varied archive of the web tests, and the live archive of the
tests against a real server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPOSITORY / "corpus"

#: A hostile document of the web tests' archive: markup in its title and text.
EVIL_TITLE = "<script>window.__pwned = 1</script> Evil memo"
EVIL_TEXT = (
    "The lighthouse keeper logged a storm on the island. "
    'Attached image: <img src=x onerror="window.__pwned = 2"> and nothing more.'
)


def write(corpus: Path, name: str, text: str, meta: dict | None = None) -> None:
    """The document `name` of `corpus` (its folders made), with `meta` in its sidecar."""
    path = corpus / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if meta:
        (corpus / f"{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")


def write_web_archive(corpus: Path) -> None:
    """A small archive: sidecar metadata, front matter, a sub-folder, JSON Lines, a hostile file."""
    write(
        corpus,
        "strike.txt",
        "The national strike was called for December 15 by the assembly of unions.\n"
        "Teachers and students joined the strike in the capital.\n",
        {"title": "Strike bulletin", "date": "2022-12", "source": "Union press", "language": "en"},
    )
    write(
        corpus,
        "reports/harvest.md",
        "---\ntitle: Harvest report\ndate: 2019-05-02\nsource: Farm office\n---\n"
        "The potato harvest in the highlands doubled after the new irrigation canals opened.\n",
    )
    records = [
        {
            "text": "The river flooded the lower town in March.",
            "title": "Flood note",
            "date": "2021",
        },
        {"text": "El puerto cerró durante la huelga de los estibadores.", "title": "Puerto"},
    ]
    write(
        corpus,
        "news.jsonl",
        "\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n",
    )
    write(
        corpus,
        "reports/field notes #3.txt",
        "The glacier retreated forty metres over the summer.\n",
    )
    write(
        corpus, "evil.txt", EVIL_TEXT + "\n", {"title": EVIL_TITLE, "source": "<b>bold</b> source"}
    )


#: The hostile document of the live archive: markup that would run if it were not escaped.
LIGHTHOUSE_TITLE = (
    "<script>document.body.dataset.pwned='title';alert('title')</script> Lighthouse log"
)
LIGHTHOUSE_TEXT = (
    "The lighthouse keeper on Isla Zafiro logged a violent storm on 3 March 1998. "
    "<img src=x onerror=\"document.body.dataset.pwned='img';alert('img')\"> "
    "<script>document.body.dataset.pwned='script';alert('script')</script>\n"
)


def write_live_archive(corpus: Path) -> None:
    """The bundled archive plus the hostile lighthouse log, in `corpus`."""
    shutil.copytree(BUNDLED_CORPUS, corpus)
    write(
        corpus,
        "lighthouse.txt",
        LIGHTHOUSE_TEXT,
        {"title": LIGHTHOUSE_TITLE, "date": "1998-03-04", "source": "<b>Harbour</b> office"},
    )
