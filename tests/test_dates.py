"""Date extraction: English and Spanish, absolute, partial, relative and ranges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.core.errors import EvalFileError
from qa.dates.mentions import Reference, find_dates
from qa.evaluation.dates import evaluate_labelled, load_labelled, score, sentence_hash

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "dates-labelled.json"


def shared_eval_file(name: str) -> Path:
    """`shared/eval/NAME` beside the checkout (the README's `../shared/eval`), or beside a
    folder above it: a git worktree sits deeper than the clone whose neighbour it is."""
    for folder in ROOT.parents:
        if (folder / "shared" / "eval" / name).is_file():
            return folder / "shared" / "eval" / name
    return ROOT.parent / "shared" / "eval" / name


#: The BBC News archive next to the checkout; the labelled BBC sentences are references into it.
BBC = shared_eval_file("bbc-dev.json")
SPLITS = ("tuning", "held-out", "fresh", "fresh2")


def values(text: str, document_date: str | None = None) -> list[tuple[str, str]]:
    return [(m.value, m.precision) for m in find_dates(text, document_date)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The assembly met on 10 December 2022.", [("2022-12-10", "day")]),
        ("On December 10, 2022, delegates convened.", [("2022-12-10", "day")]),
        ("El 7 de diciembre de 2022 el Congreso votó.", [("2022-12-07", "day")]),
        ("Vizcarra was removed in 2020.", [("2020", "year")]),
        ("Las elecciones fueron en abril de 2021.", [("2021-04", "month")]),
        ("Dec. 9, 2022: the vote.", [("2022-12-09", "day")]),
        ("Results are due by 2025-03-31.", [("2025-03-31", "day")]),
        ("The report of 15/01/2023 lists them.", [("2023-01-15", "day")]),
    ],
)
def test_absolute_dates_need_no_document_date(text, expected):
    assert values(text) == expected


def test_partial_dates_take_the_documents_year_or_are_left_out():
    assert values("A strike starting on December 13.", "2022-12") == [("2022-12-13", "day")]
    assert values("La asamblea se reunió el 10 de diciembre.", "2022-12") == [("2022-12-10", "day")]
    assert values("A strike starting on December 13.") == []
    assert values("Farmers blocked the highway in mid-December.", "2022-12") == [
        ("2022-12", "month")
    ]
    # A past event months after the document's date belongs to the year before.
    assert values("The auction on 19 December was illegal.", "2005-01-20") == [
        ("2004-12-19", "day")
    ]


def test_relative_dates_are_read_against_a_dated_document_only():
    # 2022-12-15 is a Thursday.
    assert values("Police detained three organisers on Thursday.", "2022-12-15") == [
        ("2022-12-15", "day")
    ]
    assert values("El lunes pasado se instaló la comisión.", "2023-01-20") == [
        ("2023-01-16", "day")
    ]
    assert values("Parliament will vote on Tuesday.", "2004-12-02") == [("2004-12-07", "day")]
    assert values("Ayer se suspendieron los vuelos.", "2022-12-15") == [("2022-12-14", "day")]
    assert values("The minister resigned three days ago.", "2020-03-18") == [("2020-03-15", "day")]
    assert values("El año pasado hubo menos conflictos.", "2023-01-20") == [("2022", "year")]
    week = [("2022-12-05/2022-12-11", "day")]
    assert values("The roads were blocked last week.", "2022-12-15") == week
    assert values("La semana pasada se bloquearon las carreteras.", "2022-12-15") == week
    for text in ("Police acted on Thursday.", "Ayer hubo marchas.", "It rained last week."):
        assert values(text) == []
    # A weekday needs a day to count from: a document dated to the month has none.
    assert values("Delegates gathered on Saturday in Cusco.", "2022-12") == []


def test_ranges_are_one_mention():
    assert values("The strike would run from 13 to 15 December.", "2022-12-15") == [
        ("2022-12-13/2022-12-15", "day")
    ]
    assert values("Un paro del 13 al 15 de diciembre.", "2022-12") == [
        ("2022-12-13/2022-12-15", "day")
    ]
    assert values("Between 2019 and 2021, prices rose.") == [("2019/2021", "year")]
    assert values("From January 2001 to March 2003.") == [("2001-01/2003-03", "month")]
    assert values("Savings of £12bn by 2007-2008.") == [("2007/2008", "year")]
    mention = find_dates("Entre el 10 y el 15 de diciembre de 2022 murieron 20 personas.")[0]
    assert (mention.first_day, mention.last_day) == ("2022-12-10", "2022-12-15")
    assert mention.text == "Entre el 10 y el 15 de diciembre de 2022"


def test_names_amounts_and_durations_are_not_dates():
    for text in (
        "Theresa May met union leaders.",
        "Workers may strike if talks fail.",
        "Over 2,000 people attended, and 1500 more joined online.",
        "The 25-year-old served a two-year ban.",
        "In the 1990s the mines were privatised.",
        "Prices rose 2.25% and $42.30 a barrel.",
        "La marcha salió por la mañana.",
    ):
        assert values(text, "2022-12-15") == [], text


def test_mentions_keep_their_span():
    text = "Teachers joined the national strike of December 15 in Lima."
    (mention,) = find_dates(text, "2022-12")
    assert text[mention.start : mention.end] == mention.text == "December 15"
    assert not mention.relative
    (relative,) = find_dates("Flights resumed yesterday.", "2023-01-09")
    assert relative.relative and relative.value == "2023-01-08"


def test_reference_dates_are_iso_prefixes():
    assert Reference.parse("2022-12") == Reference(2022, 12, None)
    assert Reference.parse("2022-12-15T10:00:00") == Reference(2022, 12, 15)
    assert Reference.parse("December 2022") is None
    assert Reference.parse("2022-02-30") is None


def assert_bars(scores: dict, splits) -> None:
    for split in splits:
        assert scores[split]["precision"] >= 0.90, (split, scores[split]["errors"])
        assert scores[split]["recall"] >= 0.85, (split, scores[split]["errors"])


def test_the_inline_sentences_meet_the_bars():
    labelled = load_labelled(LABELLED, bbc=None)
    assert all("text" in s and not s["source"].startswith("bbc:") for s in labelled.sentences)
    assert labelled.left_out and all("bbc" in s and "text" not in s for s in labelled.left_out)
    scores = evaluate_labelled(labelled)
    assert scores["all"]["sentences"] >= 160
    assert scores["all"]["left_out"] == len(labelled.left_out)
    assert_bars(scores, (*SPLITS, "all"))


def test_the_bbc_sentences_meet_the_bars():
    if not BBC.is_file():
        pytest.skip(f"no BBC archive at {BBC}: the labelled BBC sentences are read from it")
    labelled = load_labelled(LABELLED, BBC)
    assert not labelled.left_out
    bbc = [s for s in labelled.sentences if s["source"].startswith("bbc:")]
    assert len(bbc) >= 100
    for sentence in bbc:
        assert sentence["source"] == f"bbc:{sentence['bbc']['title']}"
    bbc_scores = evaluate_labelled(type(labelled)(bbc))
    assert_bars(bbc_scores, ("tuning", "held-out", "fresh", "all"))
    assert_bars(evaluate_labelled(labelled), (*SPLITS, "all"))


def write_bbc_case(tmp_path: Path, digest: str | None = None) -> tuple[Path, Path]:
    """A one-article BBC file and a labelled file with one reference into it, one inline."""
    context = "Strike called\nThe union said the strike began on 10 December 2022.\n"
    sentence = "The union said the strike began on 10 December 2022."
    start = context.index(sentence)
    bbc = tmp_path / "bbc.json"
    bbc.write_text(
        json.dumps({"data": [{"title": "x/001.txt", "paragraphs": [{"context": context}]}]}),
        encoding="utf-8",
    )
    reference = {
        "title": "x/001.txt",
        "start": start,
        "end": start + len(sentence),
        "sha256": digest or sentence_hash(sentence),
    }
    sentences = [
        {"source": "bbc:x/001.txt", "document_date": None, "bbc": reference, "split": "a",
         "mentions": [{"value": "2022-12-10", "precision": "day"}]},
        {"source": "own", "document_date": None, "text": "It ended in 2023.", "split": "a",
         "mentions": [{"value": "2023", "precision": "year"}]},
    ]  # fmt: skip
    labelled = tmp_path / "labelled.json"
    labelled.write_text(json.dumps({"sentences": sentences}), encoding="utf-8")
    return labelled, bbc


def test_bbc_references_are_read_from_the_bbc_file_or_left_out_and_said(tmp_path):
    labelled, bbc = write_bbc_case(tmp_path)
    resolved = load_labelled(labelled, bbc)
    assert resolved.sentences[0]["text"] == "The union said the strike began on 10 December 2022."
    assert score(resolved.sentences)["right"] == 2
    runner = CliRunner()
    full = runner.invoke(main, ["eval-dates", str(labelled), "--bbc", str(bbc)])
    assert full.exit_code == 0 and "left out" not in full.output, full.output
    without = runner.invoke(main, ["eval-dates", str(labelled), "--bbc", str(tmp_path / "no")])
    assert without.exit_code == 0, without.output
    assert f"1 BBC sentences left out (1 a): no BBC file at {tmp_path / 'no'}" in without.output
    scores = json.loads(
        runner.invoke(main, ["eval-dates", str(labelled), "--bbc", "/none", "--json"]).output
    )
    assert (scores["all"]["sentences"], scores["all"]["left_out"]) == (1, 1)
    assert "no BBC file at /none" in scores["all"]["left_out_reason"]


def test_a_tampered_bbc_reference_is_reported(tmp_path):
    labelled, bbc = write_bbc_case(tmp_path, digest="0123456789ab")
    with pytest.raises(EvalFileError, match=r"sentence 1 \(bbc:x/001.txt\).*0123456789ab"):
        load_labelled(labelled, bbc)
    result = CliRunner().invoke(main, ["eval-dates", str(labelled), "--bbc", str(bbc)])
    assert result.exit_code == 1
    assert "sentence 1 (bbc:x/001.txt)" in result.output and "0123456789ab" in result.output
