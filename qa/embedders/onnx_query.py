"""Questions through ONNX Runtime: the sentence-transformers model's own weights, exported
once from torch and cached, give the same vectors (checked against torch at load) in about a
third of the time for one short text on one thread, where torch's per-operation overhead
dominates. Batches of passages gain nothing from it and stay on torch.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from qa.core.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Texts an exported query encoder must embed as torch does before it is used: short,
#: one word, long and Spanish, alone and as one padded batch.
PROBES = (
    "When was the national strike?",
    "strike",
    "¿Quién convocó la huelga nacional del 15 de diciembre de 2022 y qué pedían los "
    "manifestantes en Lima, Cusco y Puno?",
)
#: Largest difference, per vector component, tolerated between ONNX and torch.
PROBE_TOLERANCE = 1e-4
ONNX_OPSET = 17
PROVIDERS = ["CPUExecutionProvider"]


class QueryEncoderUnavailable(Exception):
    """The ONNX query encoder cannot stand in for the torch model (the reason says why)."""


def _token_embeddings(transformer, names: list[str]):
    """The transformer as a module that export can trace: positional tensors in (`names`,
    in order), token vectors out. torch is imported here, not when this module loads."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors):
            return self.transformer(**dict(zip(names, tensors, strict=True))).last_hidden_state

    return TokenEmbeddings().eval()


def mean_pooled(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit vectors: the mean of each text's token vectors where `mask` is 1."""
    weights = mask[..., None].astype(np.float32)
    pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


class OnnxQueryEncoder:
    """The model's transformer in ONNX Runtime, mean-pooled and normalised in numpy: only
    for models that are exactly transformer + mean pooling (+ normalisation)."""

    def __init__(self, session, tokenize, names: list[str]) -> None:
        self._session = session
        self._tokenize = tokenize
        self._names = names

    @classmethod
    def for_model(
        cls, model, name: str, folder: Path, cache_dir: Path | None, threads: int
    ) -> OnnxQueryEncoder:
        """The encoder of `model` (`name`, its files in `folder`), exported once and cached."""
        modules = [type(module).__name__ for module in model]
        pooling = model[1].get_config_dict() if len(modules) > 1 else {}
        # sentence-transformers 6 says {"pooling_mode": "mean"}; earlier ones set flags.
        flags = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        mean_only = pooling.get("pooling_mode") == "mean" or flags == ["pooling_mode_mean_tokens"]
        if modules[:2] != ["Transformer", "Pooling"] or modules[2:] not in ([], ["Normalize"]):
            raise QueryEncoderUnavailable(f"the model's modules are {modules}")
        if not mean_only:
            raise QueryEncoderUnavailable("the model does not pool by mean alone")
        tokenize = getattr(model, "preprocess", None) or model.tokenize
        names = [n for n, v in tokenize(["probe"]).items() if hasattr(v, "numpy")]
        loaded = cached_session(
            "query-encoder",
            _export_key(model, names, name, folder),
            lambda: _export(model, names),
            cache_dir,
            threads,
        )
        return cls(loaded, tokenize, names)

    def encode(self, texts: list[str]) -> np.ndarray:
        features = self._tokenize(texts)
        feeds = {n: features[n].numpy().astype(np.int64) for n in self._names}
        return mean_pooled(self._session.run(None, feeds)[0], feeds["attention_mask"])

    def check_against(self, reference) -> None:
        """Raise QueryEncoderUnavailable unless it embeds the probes as `reference` does."""
        probes = list(PROBES)
        expected = reference(probes)
        got = np.vstack([self.encode(probes)] + [self.encode([p]) for p in probes])
        difference = float(np.abs(got - np.vstack([expected, expected])).max())
        if difference > PROBE_TOLERANCE:
            raise QueryEncoderUnavailable(
                f"the ONNX export differs from torch by {difference:.2g} (tolerance "
                f"{PROBE_TOLERANCE:g})"
            )


def _export_key(model, names: list[str], name: str, folder: Path) -> str:
    """Changes whenever the weights, the libraries or the export's inputs do."""
    import onnxruntime
    import torch
    import transformers

    files = (
        sorted(
            (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file()
        )
        if folder.is_dir()
        else []
    )
    described = [
        name,
        files,
        names,
        torch.__version__,
        transformers.__version__,
        onnxruntime.__version__,
        ONNX_OPSET,
        model.max_seq_length,
    ]
    return hashlib.sha256(json.dumps(described, default=str).encode()).hexdigest()[:20]


def session_options(threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def providers_for(device: str) -> list:
    """ONNX Runtime's execution providers for a `Settings.device`: the CPU's, or for "cuda"
    and "cuda:N" CUDA's (the CPU's behind it, for what CUDA does not run)."""
    if device == "cpu":
        return list(PROVIDERS)
    kind, _, number = device.partition(":")
    if kind != "cuda" or not (number or "0").isdigit():
        raise ConfigurationError(f"QA_DEVICE={device!r}: use 'cpu', 'cuda' or 'cuda:N'.")
    import onnxruntime

    offered = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" not in offered:
        raise ConfigurationError(
            f"QA_DEVICE={device!r} needs ONNX Runtime's CUDA provider, which this onnxruntime "
            f"does not offer (it offers {', '.join(offered)}): install onnxruntime-gpu in its "
            "place, or use QA_DEVICE=cpu."
        )
    return [("CUDAExecutionProvider", {"device_id": int(number or 0)}), *PROVIDERS]


def open_session(graph: bytes | str, threads: int, providers: list | None = None):
    """An ONNX Runtime session over a graph (its bytes or a file's path), on the CPU unless
    `providers` (from `providers_for`) say otherwise."""
    try:
        import onnxruntime
    except ImportError as error:
        raise QueryEncoderUnavailable(f"onnxruntime is not installed ({error})") from error
    try:
        return onnxruntime.InferenceSession(
            graph, session_options(threads), providers=providers or PROVIDERS
        )
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise QueryEncoderUnavailable(f"ONNX Runtime cannot load the export ({error})") from error


def cached_session(
    stem: str, key: str, export, cache_dir: Path | None, threads: int, providers: list | None = None
):
    """A session over the cached graph `stem-key.onnx`, exported by `export()` (bytes) when
    the cache lacks it, and exported again when the cached file is damaged."""
    graph = cached_graph(stem, key, export, cache_dir)
    try:
        return open_session(graph, threads, providers)
    except QueryEncoderUnavailable as error:
        if not isinstance(graph, str):
            raise
        log.warning("Exporting the ONNX encoder again: %s", error)
        Path(graph).unlink(missing_ok=True)  # a damaged cached file
        return open_session(cached_graph(stem, key, export, cache_dir), threads, providers)


def cached_graph(stem: str, key: str, export, cache_dir: Path | None) -> bytes | str:
    """The exported graph: a cached file's path, else the bytes of a new export (written to
    the cache when it can be: a read-only cache only costs the export per process)."""
    from qa.embedders import default_cache_dir

    path = (cache_dir or default_cache_dir()) / f"{stem}-{key}.onnx"
    if path.is_file():
        return str(path)
    graph = export()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(graph)
        os.replace(temporary, path)
    except OSError as error:
        log.info("The ONNX encoder is not cached (%s)", error)
    return graph


class CheckedOnce:
    """An ONNX encoder made and checked on first use, by `make()`, which raises
    QueryEncoderUnavailable when it cannot stand in; then None, and `fallback` is said."""

    def __init__(self, make, fallback: str, logger: logging.Logger) -> None:
        self._make = make
        self._fallback = fallback
        self._log = logger
        self._lock = threading.Lock()
        self._tried = False
        self._encoder = None

    def get(self):
        if self._tried:
            return self._encoder
        with self._lock:
            if not self._tried:
                try:
                    self._encoder = self._make()
                except QueryEncoderUnavailable as error:
                    self._encoder = None
                    self._log.warning("%s: %s", self._fallback, error)
                self._tried = True
        return self._encoder


def _export(model, names: list[str]) -> bytes:
    import torch

    tokenize = getattr(model, "preprocess", None) or model.tokenize
    features = tokenize(["an example question", "a longer example question, padded"])
    inputs = tuple(features[n] for n in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"tokens": {0: "batch", 1: "tokens"}}
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _token_embeddings(model[0].auto_model, names),
                inputs,
                buffer,
                input_names=names,
                output_names=["tokens"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
    except Exception as error:  # the exporter raises many kinds; any means "use torch"
        raise QueryEncoderUnavailable(f"the ONNX export failed ({error})") from error
    return buffer.getvalue()
