"""`qa eval-dates`: precision and recall of date extraction on a hand-labelled file.

The file (tests/data/dates-labelled.json) holds sentences, each with its document's date,
its language, its split ("tuning", "held-out", "fresh", "fresh2") and the mentions a reader
finds in it, each a normalised value (YYYY, YYYY-MM, YYYY-MM-DD, or START/END for a range)
and a precision. A mention found counts as right when a labelled mention of the same
sentence has the same value and precision (each labelled mention is matched once).

A sentence holds its `text`, or, when it comes from the BBC News archive, whose articles may
not be copied into the project, a reference `bbc`: the article's title in bbc-dev.json, the
sentence's span in the article's context and the first 12 hex digits of the SHA-256 of its
text. References are read from the BBC file by path; without it those sentences are left
out, and the scores say how many and why.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from qa.core.errors import EvalFileError
from qa.dates.mentions import find_dates

#: Where the BBC archive sits next to a checkout, relative to the current directory.
DEFAULT_BBC = Path("../shared/eval/bbc-dev.json")


@dataclass
class LabelledSet:
    """The labelled sentences that can be read, and those left out with the reason."""

    sentences: list[dict]
    left_out: list[dict] = field(default_factory=list)
    reason: str | None = None


def sentence_hash(text: str) -> str:
    """The short hash a BBC reference keeps of its sentence."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def read_json(path: Path, what: str) -> object:
    """The JSON of an evaluation file; EvalFileError naming `what` if it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalFileError(f"No {what} at {path}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EvalFileError(f"{path} is not JSON: {error}") from None


def read_bbc_articles(path: Path) -> dict[str, str]:
    """Article title -> context of a SQuAD-format BBC file."""
    data = read_json(path, "BBC file")
    try:
        return {
            article["title"]: "".join(p["context"] for p in article["paragraphs"])
            for article in data["data"]
        }
    except (KeyError, TypeError) as error:
        raise EvalFileError(f"{path} is not a SQuAD-format file: missing {error}.") from None


def _resolve(sentence: dict, number: int, articles: dict[str, str], bbc: Path) -> dict:
    reference = sentence["bbc"]
    name = f"sentence {number} ({sentence.get('source', 'bbc')})"
    context = articles.get(reference["title"])
    if context is None:
        raise EvalFileError(f"{name}: no article {reference['title']!r} in {bbc}.")
    text = context[reference["start"] : reference["end"]]
    if sentence_hash(text) != reference["sha256"]:
        raise EvalFileError(
            f"{name}: the text at {reference['start']}-{reference['end']} of "
            f"{reference['title']} in {bbc} has hash {sentence_hash(text)}, not the labelled "
            f"{reference['sha256']} (another version of the BBC file, or a changed reference)."
        )
    return {**sentence, "text": text}


def load_labelled(path: Path, bbc: Path | None = None) -> LabelledSet:
    """The labelled sentences of `path`, BBC references read from the BBC file `bbc`.

    Without a BBC file (None, or no file at that path) the BBC sentences are left out and
    the reason is kept; a reference whose text does not match its hash is an error.
    """
    data = read_json(path, "labelled file")
    try:
        sentences = data["sentences"]
        for sentence in sentences:
            sentence["mentions"]  # noqa: B018 - it must be there
            if "text" not in sentence:
                for key in ("title", "start", "end", "sha256"):
                    sentence["bbc"][key]  # noqa: B018 - a reference needs them all
    except (KeyError, TypeError) as error:
        raise EvalFileError(f"{path} is not a labelled dates file: missing {error}.") from None
    references = [s for s in sentences if "text" not in s]
    if not references:
        return LabelledSet(sentences)
    if bbc is None or not Path(bbc).is_file():
        where = "no BBC file given" if bbc is None else f"no BBC file at {bbc}"
        inline = [s for s in sentences if "text" in s]
        return LabelledSet(inline, references, f"{where} (--bbc PATH)")
    articles = read_bbc_articles(bbc)
    return LabelledSet(
        [
            _resolve(s, number, articles, bbc) if "text" not in s else s
            for number, s in enumerate(sentences, start=1)
        ]
    )


def score(sentences: list[dict]) -> dict:
    """Precision, recall and F1 of `find_dates` over these labelled sentences."""
    right = found_total = expected_total = 0
    misses: list[dict] = []
    started = time.perf_counter()
    for sentence in sentences:
        found = find_dates(sentence["text"], sentence.get("document_date"))
        expected = Counter((m["value"], m["precision"]) for m in sentence["mentions"])
        got = Counter((m.value, m.precision) for m in found)
        hits = sum((expected & got).values())
        right += hits
        found_total += sum(got.values())
        expected_total += sum(expected.values())
        if hits != sum(expected.values()) or hits != sum(got.values()):
            misses.append(
                {
                    "text": sentence["text"],
                    "document_date": sentence.get("document_date"),
                    "expected": sorted(f"{v} {p}" for v, p in expected.elements()),
                    "found": sorted(f"{v} {p}" for v, p in got.elements()),
                }
            )
    seconds = time.perf_counter() - started
    precision = right / found_total if found_total else 1.0
    recall = right / expected_total if expected_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "sentences": len(sentences),
        "expected": expected_total,
        "found": found_total,
        "right": right,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "ms_per_sentence": round(1000 * seconds / max(1, len(sentences)), 3),
        "errors": misses,
    }


def evaluate_labelled(labelled: LabelledSet) -> dict[str, dict]:
    """Scores of every split, and of all sentences together (`all`), of a loaded set.

    Each split says how many of its sentences were `left_out`; `all` also gives
    `left_out_reason` (None when every sentence was read).
    """
    every = labelled.sentences + labelled.left_out
    splits = sorted({s.get("split", "all") for s in every})
    result = {}
    for split in splits:
        result[split] = score([s for s in labelled.sentences if s.get("split", "all") == split])
        result[split]["left_out"] = sum(s.get("split", "all") == split for s in labelled.left_out)
    result["all"] = score(labelled.sentences)
    result["all"]["left_out"] = len(labelled.left_out)
    result["all"]["left_out_reason"] = labelled.reason
    return result


def evaluate_dates(path: Path, bbc: Path | None = None) -> dict[str, dict]:
    """Scores of every split of the file, and of all its readable sentences together."""
    return evaluate_labelled(load_labelled(path, bbc))


def left_out_line(result: dict[str, dict]) -> str | None:
    """One line on the sentences left out of a result, or None when there are none."""
    total = result["all"].get("left_out", 0)
    if not total:
        return None
    per_split = ", ".join(
        f"{scores['left_out']} {split}"
        for split, scores in result.items()
        if split != "all" and scores.get("left_out")
    )
    return f"{total} BBC sentences left out ({per_split}): {result['all']['left_out_reason']}."
