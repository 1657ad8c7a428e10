"""Try three more learned sentence heads against the hand-set score, holding XQuAD articles out.

Issue 23 asks for a head learned from data that chooses the answer's sentence better than the
hand-set score (`qa.answer.calibration`) on articles it was not fitted on. `fit_judge.py` fitted
a listwise head over the signals and the question-times-sentence products and found no gain;
this script reads the same data (`judge_data.py`'s output, every language collected) and
tries what that one did not:

- `neighbours`: the same listwise linear head (`fit_judge.fit_head`) over the signals and,
  for each candidate, its neighbours in the passage (the sentence before and after: their
  cosine against its own, their coverage, their hand-set score against its own) and how far
  it stands below its passage's and the question's best (on XQuAD en, when the hand-set score
  misses, the right sentence is in the same passage 7 times in 10, next to the chosen one half
  the time);
- `trees`: gradient-boosted trees (scikit-learn), one "does this sentence hold the answer"
  per candidate over the same inputs and each candidate's rank by each cosine, the best
  candidate chosen by the trees' score;
- `bilinear`: the hand-set score plus the signals plus a low-rank bilinear term
  q^T U V^T s over the question's and the sentence's vectors (rank `--rank`), listwise.

Four folds by article (`fit_judge.FOLDS`: an article's questions in every language are all on
one side), each head choosing for the six articles it never saw beside the hand-set score's
choice among the same candidates (which is `qa eval`'s acc1).

    python scripts/tuning/fit_head.py FOLDER --train en,es,de,ru --test en,es,de,ru
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fit_judge import (
    COLUMN,
    DEPTH,
    FOLDS,
    collected,
    fit_head,
    judge_parser,
    load,
    right_first,
)
from scipy.optimize import minimize

#: Each candidate's neighbour inputs (`neighbours`), in this order.
NEIGHBOUR_INPUTS = 12


def neighbours(columns: np.ndarray, hand: np.ndarray) -> np.ndarray:
    """Per candidate: for the sentence before and after it in its passage, whether there is
    one, its cosine less the candidate's, its coverage and its hand-set score less the
    candidate's; then the candidate's cosine, coverage and hand-set score less its passage's
    best, and its hand-set score less the question's best."""
    passage, position = columns[:, COLUMN["hit_rank"]], columns[:, COLUMN["position"]]
    cosine, coverage = columns[:, COLUMN["cosine"]], columns[:, COLUMN["coverage"]]
    at = {(p, q): j for j, (p, q) in enumerate(zip(passage, position, strict=True))}
    found = np.zeros((len(columns), NEIGHBOUR_INPUTS), "float32")
    for j in range(len(columns)):
        for side, step in enumerate((-1, 1)):
            k = at.get((passage[j], position[j] + step))
            if k is not None:
                found[j, 4 * side : 4 * side + 4] = (
                    1.0,
                    cosine[k] - cosine[j],
                    coverage[k],
                    hand[k] - hand[j],
                )
        same = passage == passage[j]
        found[j, 8:] = (
            cosine[j] - cosine[same].max(),
            coverage[j] - coverage[same].max(),
            hand[j] - hand[same].max(),
            hand[j] - hand.max(),
        )
    return found


def reciprocal_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return 1 / ranks


def with_vectors(folder: Path, name: str) -> list[dict]:
    """`fit_judge.load`'s records (signals only) with the neighbour inputs, the question's
    vector and the candidates' own."""
    records = load(folder, name, vectors=False)
    meta, arrays = collected(folder, name)
    offsets, columns = arrays["offsets"], arrays["scalars"]
    for number, record in enumerate(records):
        if "inputs" not in record:
            continue
        start, end = offsets[number], offsets[number + 1]
        chosen = np.arange(start, end)[columns[start:end, COLUMN["hit_rank"]] <= DEPTH]
        record["around"] = neighbours(record["columns"], record["hand"])
        record["question"] = arrays["questions"][number]
        record["sentences"] = arrays["sentences"][chosen].astype("float32")
    return records


def tree_inputs(record: dict) -> np.ndarray:
    columns = record["columns"]
    ranks = [
        reciprocal_ranks(values)
        for values in (
            record["hand"],
            columns[:, COLUMN["cosine"]],
            columns[:, COLUMN["context_cosine"]],
            columns[:, COLUMN["coverage"]],
        )
    ]
    return np.hstack([record["inputs"], record["around"], np.column_stack(ranks)])


def fit_bilinear(records: list[dict], rank: int, penalty: float, seed: int = 0):
    """Listwise: a free weight on the hand-set score, the signals (penalised by 1.0) and
    (q U) . (s V), U and V penalised by `penalty`."""
    kept = [r for r in records if "inputs" in r and r["labels"].any()]
    inputs = np.vstack([r["inputs"] for r in kept]).astype("float64")
    sentences = np.vstack([r["sentences"] for r in kept]).astype("float64")
    sizes = np.array([len(r["labels"]) for r in kept])
    questions = np.repeat(np.vstack([r["question"] for r in kept]), sizes, axis=0)
    labels = np.concatenate([r["labels"] for r in kept]).astype("float64")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(kept)), sizes)
    width, dimension = inputs.shape[1], sentences.shape[1]
    signal_penalty = np.ones(width)
    signal_penalty[0] = 0.0

    def unpack(weights):
        linear = weights[:width]
        left = weights[width : width + dimension * rank].reshape(dimension, rank)
        return linear, left, weights[width + dimension * rank :].reshape(dimension, rank)

    def loss(weights):
        linear, left, right = unpack(weights)
        asked, told = questions @ left, sentences @ right
        scores = inputs @ linear + np.sum(asked * told, axis=1)
        top = np.maximum.reduceat(scores, starts)
        exp = np.exp(scores - top[group])
        total = np.add.reduceat(exp, starts)
        hold = np.add.reduceat(exp * labels, starts)
        value = np.mean(np.log(total) - np.log(hold))
        value += 0.5 * (signal_penalty @ linear**2 + penalty * (np.sum(left**2) + np.sum(right**2)))
        slope = (exp / total[group] - exp * labels / hold[group]) / len(kept)
        gradient = np.concatenate(
            [
                inputs.T @ slope + signal_penalty * linear,
                (questions.T @ (slope[:, None] * told) + penalty * left).ravel(),
                (sentences.T @ (slope[:, None] * asked) + penalty * right).ravel(),
            ]
        )
        return value, gradient

    start = np.random.default_rng(seed).normal(0, 0.01, width + 2 * dimension * rank)
    start[:width] = 0.0
    found = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 300})
    linear, left, right = unpack(found.x)
    return lambda r: (
        r["inputs"] @ linear + np.sum((r["question"] @ left) * (r["sentences"] @ right), 1)
    )


def head_for(kind: str, fitted: list[dict], arguments):
    """A function giving each candidate of a record its score, fitted on `fitted`."""
    if kind == "neighbours":
        for record in fitted:
            record["stacked"] = np.hstack([record["inputs"], record["around"]])
        weights = fit_head(
            [{**r, "inputs": r["stacked"]} for r in fitted if "inputs" in r], arguments.penalty, 1.0
        )
        return lambda r: np.hstack([r["inputs"], r["around"]]) @ weights
    if kind == "trees":
        from sklearn.ensemble import HistGradientBoostingClassifier

        kept = [r for r in fitted if "inputs" in r and r["labels"].any()]
        model = HistGradientBoostingClassifier(
            max_depth=arguments.depth, max_iter=300, learning_rate=0.03, l2_regularization=1.0
        ).fit(
            np.vstack([tree_inputs(r) for r in kept]), np.concatenate([r["labels"] for r in kept])
        )
        return lambda r: model.decision_function(tree_inputs(r))
    return fit_bilinear(fitted, arguments.rank, arguments.penalty)


def main() -> None:
    parser = judge_parser(__doc__.split("\n")[0], "en,es,de,ru", "en,es,de,ru")
    parser.add_argument("--heads", default="neighbours,trees,bilinear")
    parser.add_argument("--penalty", type=float, default=0.1, help="L2 on the new inputs")
    parser.add_argument("--depth", type=int, default=4, help="the trees' depth")
    parser.add_argument("--rank", type=int, default=8, help="the bilinear term's rank")
    arguments = parser.parse_args()
    train, test = arguments.train.split(","), arguments.test.split(",")
    data = {name: with_vectors(arguments.data, name) for name in {*train, *test}}
    for kind in arguments.heads.split(","):
        counts = {name: [0, 0, 0] for name in test}
        for fold in range(FOLDS):
            fitted = [r for n in train for r in data[n] if r["article"] % FOLDS != fold]
            score = head_for(kind, [r for r in fitted if r["article"] >= 0], arguments)
            for name in test:
                for record in data[name]:
                    if record["article"] < 0 or record["article"] % FOLDS != fold:
                        continue
                    counts[name][0] += 1
                    counts[name][1] += right_first(
                        record, score(record) if "inputs" in record else None
                    )
                    counts[name][2] += right_first(record, record.get("hand"))
        shares = {n: f"head {a / t:.4f} hand {h / t:.4f}" for n, (t, a, h) in counts.items()}
        means = [np.mean([c[i] / c[0] for c in counts.values()]) for i in (1, 2)]
        print(kind, json.dumps(shares), f"mean head {means[0]:.4f} hand {means[1]:.4f}", flush=True)


if __name__ == "__main__":
    main()
