"""The `qa` command as users and tools call it: exit codes, messages and JSON keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main

SEARCH_KEYS = {"passage_id", "document_id", "title", "text", "score", "start", "end", "page"}
INDEX_KEYS = {
    "documents",
    "passages",
    "added",
    "changed",
    "removed",
    "unchanged",
    "embedded_passages",
    "skipped",
    "seconds",
}


def run(*args, env=None):
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    return result


def error_line(result) -> str:
    """The one line a failed command prints: on stderr, nothing on stdout, exit code 1.
    (An uncaught exception would propagate out of `run`, traceback and all.)"""
    assert result.exit_code == 1, result.output
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def documented_commands() -> set[str]:
    """The commands of the README's table of commands and their JSON keys."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `qa ([a-z][a-z-]*)", readme, flags=re.MULTILINE))


def test_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    _, _, listing = result.output.partition("\nCommands:\n")
    listed = {line.split()[0] for line in listing.splitlines() if line.strip()}
    documented = documented_commands()
    assert {"index", "search", "ask", "timeline", "eval", "eval-dates", "serve"} <= documented
    assert listed == documented


def test_missing_index_is_one_clear_line(tmp_path):
    line = error_line(run("--index", str(tmp_path / "none"), "search", "strike"))
    assert "No index" in line and "qa index" in line


def test_eval_errors_are_one_clear_line(tmp_path):
    assert "No evaluation file" in error_line(run("eval", str(tmp_path / "missing.json")))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "not JSON" in error_line(run("eval", str(bad)))
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"version": 1}')
    assert "SQuAD" in error_line(run("eval", str(wrong)))


@pytest.mark.model
def test_index_search_ask_on_the_bundled_archive(bundled_corpus, tmp_path):
    index = str(tmp_path / "index")
    built = run("index", "--corpus", str(bundled_corpus), "--index", index, "--json")
    assert built.exit_code == 0, built.output
    report = json.loads(built.output)
    assert INDEX_KEYS <= set(report)
    assert report["documents"] >= 5 and report["embedded_passages"] == report["passages"]

    again = json.loads(
        run("index", "--corpus", str(bundled_corpus), "--index", index, "--json").output
    )
    assert again["embedded_passages"] == 0 and again["unchanged"] == report["documents"]

    env = {"QA_INDEX": index, "QA_CORPUS": str(bundled_corpus)}
    found = json.loads(run("search", "national strike", "-k", "3", "--json", env=env).output)
    assert found["query"] == "national strike" and len(found["hits"]) == 3
    assert SEARCH_KEYS <= set(found["hits"][0])

    answer = json.loads(run("ask", "When was the national strike?", "--json", env=env).output)
    assert answer["abstained"] is False
    assert {"question", "answer", "abstained", "sentences", "citations"} <= set(answer)
    assert {"text", "citation"} <= set(answer["sentences"][0])
    cited = {c["n"]: c for c in answer["citations"]}
    first = answer["sentences"][0]
    assert "December 15" in cited[first["citation"]]["text"]
    assert {"n", "document_id", "title", "passage_id", "text", "start", "end"} <= set(cited[1])


@pytest.mark.model
def test_eval_prints_every_metric(tmp_path):
    squad = {
        "data": [
            {
                "title": "Strike",
                "paragraphs": [
                    {
                        "context": "The national strike was held on 15 December. "
                        "Unions supported it.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "When was the national strike held?",
                                "answers": [{"text": "15 December", "answer_start": 32}],
                            }
                        ],
                    }
                ],
            },
            {
                "title": "Harvest",
                "paragraphs": [
                    {
                        "context": "Potato farmers in the highlands "
                        "reported a record harvest in May.",
                        "qas": [
                            {
                                "id": "2",
                                "question": "What did potato farmers report?",
                                "answers": [{"text": "a record harvest", "answer_start": 40}],
                            }
                        ],
                    }
                ],
            },
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    unanswerable = tmp_path / "unanswerable.txt"
    unanswerable.write_text("Who won the 1998 football World Cup final?\n")
    result = run("eval", str(path), "--unanswerable", str(unanswerable), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    for key in (
        "questions",
        "passage_top1",
        "passage_top5",
        "passage_top10",
        "mrr10",
        "sentence_acc1",
        "sentence_acc2",
        "answer_chars_mean",
        "passage_tokens_max",
        "abstain_answerable",
        "abstain_unanswerable",
    ):
        assert key in metrics
    assert metrics["questions"] == 2
    assert metrics["passage_top1"] == 1.0
    assert metrics["passage_tokens_max"] <= 256


def test_serve_refuses_a_missing_corpus_in_one_line(tmp_path, monkeypatch):
    import uvicorn

    def never(*args, **kwargs):
        raise AssertionError("the server must not start")

    monkeypatch.setattr(uvicorn, "run", never)
    missing = tmp_path / "typo"
    result = run("serve", "--corpus", str(missing), "--index", str(tmp_path / "index"))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: No corpus folder at {missing}."
    assert not (tmp_path / "index").exists()


def test_index_refuses_a_missing_corpus_in_one_line(tmp_path):
    missing = tmp_path / "typo"
    result = run("index", "--corpus", str(missing), "--index", str(tmp_path / "index"))
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: No corpus folder at {missing}."


def test_a_bad_setting_is_one_clear_line(tmp_path):
    result = run("--index", str(tmp_path / "none"), "search", "x", env={"QA_ADMIN_TOKEN": " x"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: Invalid setting: QA_ADMIN_TOKEN: ")
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
