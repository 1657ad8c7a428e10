"""Split a SQuAD file's articles in two, for calibrating refusals honestly.

Writes `<out>/kept.json` (a SQuAD file of the articles with an even index) and
`<out>/unanswerable.txt` (the questions of the others, one a line): an archive built from
the kept articles cannot answer them. Both hold evaluation text, so write them under /tmp,
never into the repository:

    python scripts/tuning/make_unanswerable.py ../shared/eval/xquad-dev.en.json /tmp/split-en
    qa eval /tmp/split-en/kept.json --unanswerable /tmp/split-en/unanswerable.txt --json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def split(squad_file: str, out: str) -> None:
    data = json.loads(Path(squad_file).read_text(encoding="utf-8"))
    kept = [article for number, article in enumerate(data["data"]) if number % 2 == 0]
    held = [article for number, article in enumerate(data["data"]) if number % 2 == 1]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kept.json").write_text(
        json.dumps({"data": kept}, ensure_ascii=False), encoding="utf-8"
    )
    questions = [
        " ".join(qa["question"].split())
        for article in held
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    (folder / "unanswerable.txt").write_text("\n".join(questions) + "\n", encoding="utf-8")


if __name__ == "__main__":
    split(*sys.argv[1:3])
