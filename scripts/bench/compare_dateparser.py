"""The date extractor against dateparser on the labelled sentences (development).

dateparser is not a dependency: install it apart (`pip install dateparser`). Two ways of
using it are measured with the same scoring as `qa eval-dates`:
- `search_dates`: dateparser finds and parses the dates of each sentence itself;
- spans: this project's grammar finds the spans, dateparser's `get_date_data` reads each
  one against the document's date (its `period` gives the precision; a range is read as
  its two ends).

Usage: python scripts/bench/compare_dateparser.py [tests/data/dates-labelled.json]
(the BBC sentences are read from ../shared/eval/bbc-dev.json when it is there)
"""

from __future__ import annotations

import datetime
import re
import sys
import time
from collections import Counter
from pathlib import Path

from qa.dates.mentions import Reference, find_dates
from qa.evaluation.dates import DEFAULT_BBC, load_labelled

PRECISIONS = {"day": "day", "week": "day", "month": "month", "year": "year"}


FORMATS = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}


def iso(value: datetime.datetime, precision: str) -> str:
    return value.strftime(FORMATS[precision])


def settings_for(document_date) -> dict:
    ref = Reference.parse(document_date)
    base = datetime.datetime.combine(ref.first, datetime.time()) if ref else None
    settings = {"PREFER_DATES_FROM": "past"}
    if base:
        settings["RELATIVE_BASE"] = base
    return settings


def by_search(sentence: dict) -> list[tuple[str, str]]:
    from dateparser.search import search_dates

    found = (
        search_dates(
            sentence["text"],
            languages=[sentence["language"]],
            settings=settings_for(sentence.get("document_date")),
        )
        or []
    )
    results = []
    for text, value in found:
        # search_dates gives no precision: the finest part the text names.
        precision = (
            "day"
            if re.search(r"\b\d{1,2}\b", text)
            else "year"
            if re.fullmatch(r"\D*\d{4}\D*", text)
            else "month"
        )
        results.append((iso(value, precision), precision))
    return results


def by_spans(sentence: dict, parser_for) -> list[tuple[str, str]]:
    results = []
    parser = parser_for(sentence.get("document_date"))
    for mention in find_dates(sentence["text"], sentence.get("document_date")):
        data = parser.get_date_data(re.sub(r"^(?:el|la|on)\s+", "", mention.text, flags=re.I))
        if data.date_obj is None or data.period not in PRECISIONS:
            continue
        precision = PRECISIONS[data.period]
        results.append((iso(data.date_obj, precision), precision))
    return results


def score(sentences, extract) -> dict:
    right = found = expected = 0
    started = time.perf_counter()
    for sentence in sentences:
        gold = Counter((m["value"], m["precision"]) for m in sentence["mentions"])
        got = Counter(extract(sentence))
        right += sum((gold & got).values())
        found += sum(got.values())
        expected += sum(gold.values())
    milliseconds = 1000 * (time.perf_counter() - started) / len(sentences)
    return {
        "precision": round(right / max(1, found), 3),
        "recall": round(right / max(1, expected), 3),
        "ms_per_sentence": round(milliseconds, 2),
    }


def ours(sentence: dict) -> list[tuple[str, str]]:
    return [
        (m.value, m.precision) for m in find_dates(sentence["text"], sentence.get("document_date"))
    ]


def main() -> None:
    from dateparser.date import DateDataParser

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/dates-labelled.json")
    labelled = load_labelled(path, DEFAULT_BBC)
    sentences = labelled.sentences
    if labelled.left_out:
        print(f"{len(labelled.left_out)} BBC sentences left out: {labelled.reason}.")
    parsers: dict = {}

    def parser_for(document_date):
        if document_date not in parsers:
            parsers[document_date] = DateDataParser(
                languages=["en", "es"], settings=settings_for(document_date)
            )
        return parsers[document_date]

    rows = {
        "qa.dates.mentions": score(sentences, ours),
        "dateparser search_dates": score(sentences, by_search),
        "qa.dates.mentions spans + dateparser": score(sentences, lambda s: by_spans(s, parser_for)),
    }
    for name, row in rows.items():
        print(
            f"{name:30} precision {row['precision']:.3f}  recall {row['recall']:.3f}  "
            f"{row['ms_per_sentence']:.2f} ms a sentence"
        )


if __name__ == "__main__":
    main()
