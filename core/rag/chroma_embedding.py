"""Chroma's view of an `Embedder`, so Chroma never reaches for its downloading default.

Apart from `core.rag.embeddings` because defining it imports chromadb (half a
second): only code that opens a collection loads it.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from core.rag.config import DEFAULT_EMBEDDING_MODEL
from core.rag.embeddings import load_embedder


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of an `Embedder`, so Chroma never reaches for its downloading default."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, bfloat16: bool = True):
        self.model = model
        self.bfloat16 = bfloat16

    def __call__(self, input: Documents) -> Embeddings:
        return list(load_embedder(self.model, self.bfloat16).embed(list(input)))

    @staticmethod
    def name() -> str:
        return "ragtune-sentence-transformers"

    def default_space(self) -> str:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "bfloat16": self.bfloat16}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "ChromaEmbeddingFunction":
        return ChromaEmbeddingFunction(config["model"], config.get("bfloat16", True))
