"""The build benchmark's shares (`scripts/bench/bench_txtai.py`, issue 20) time the build's
own steps where the build calls them: a step that moves to another module must take its
timer along, or the benchmark fails (it did, unnoticed, after the build's preparation moved
to `qa.index.preparing`)."""

from __future__ import annotations

import sys
from pathlib import Path

from qa.index.build import build_index

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench"


def test_every_step_of_a_build_is_timed(make_settings, fake_embedder, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.syspath_prepend(str(BENCH.parent))
    import bench_txtai

    settings = make_settings()
    settings.corpus.mkdir(parents=True, exist_ok=True)
    (settings.corpus / "a.txt").write_text(
        "The national strike began on 15 December 2022. Roads were blocked in Puno.",
        encoding="utf-8",
    )
    phases = bench_txtai.Phases()
    with phases.timing():
        build_index(settings, fake_embedder)
    for step in (
        "scan the corpus (list, hash)",
        "read documents",
        "chunk (of which tokenizer: below)",
        "FTS terms",
        "dates (find, write)",
        "catalog + FTS writes",
        "sentence vector writes (SQLite)",
        "manifest",
    ):
        assert phases.seconds.get(step, 0.0) > 0.0, step
    sys.modules.pop("bench_txtai", None)


def test_the_floor_is_the_passage_pass_over_txtais_index_call(monkeypatch, capsys):
    """The comparison prints the least a build could reach against txtai: the raw encode of
    the passages alone, and with each sentence alone, over txtai's index call."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.syspath_prepend(str(BENCH.parent))
    import bench_common
    import bench_txtai

    report = bench_common.Reporter(as_json=False)
    numbers = {"txtai": {"index_seconds": 17.5}}
    bench_txtai.floor(report, numbers, {"passages": 44.0, "sentences": 32.5})
    assert numbers["passage_pass_floor_ratio"] == 2.514
    assert numbers["passage_and_sentence_floor_ratio"] == 4.371
    printed = capsys.readouterr().out
    assert "44.0 s, over txtai's index call, 17.5 s: 2.51" in printed
    assert "with each sentence alone, 76.5 s: 4.37" in printed
    without_raw = {"txtai": {"index_seconds": 17.5}}
    bench_txtai.floor(report, without_raw, {})
    assert "passage_pass_floor_ratio" not in without_raw
