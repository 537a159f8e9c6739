"""Rerankers: re-order a hybrid search's fused candidates by reading the question and each chunk together.

A knowledge base's `reranker_model` names one:
- a local cross-encoder folder: it scores every (question, chunk) pair directly;
- `lm:SOURCE`, a local causal language model (`lm:smollm2`, the embedded default, or any model folder):
  a chunk scores the mean log-probability of the question's tokens after a prompt that shows the chunk
  (query likelihood, as in UPR, Sachan et al. 2022). It needs no reranker training and runs with the
  model the lab already has, at one forward pass over LM_POOL chunks per question.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Optional, Protocol, Sequence, TypeVar

from core import cpu_share
from core.errors import InvalidInputError
from core.imports import first_imports
from core.llm.base import Passage
from core.rag.embeddings import local_model_folder

LM_PREFIX = "lm:"
LM_POOL = 10  # fused candidates a language model reads per question: ~6 s on 2 CPU cores for SmolLM2
LM_INSTRUCTION = "Ask a question this code answers."

Ranked = TypeVar("Ranked", bound=Passage)


class Reranker(Protocol):
    pool: Optional[int]  # how many of the fused candidates it reads (None: all); the rest follow, in fused order

    def scores(self, query: str, chunks: Sequence[Passage]) -> list[float]:
        """One score per chunk; higher is more relevant."""


def rerank(reranker: Reranker, query: str, hits: list[Ranked]) -> list[Ranked]:
    """The first `reranker.pool` hits re-ordered by its scores (each hit's score replaced), then the rest."""
    cut = len(hits) if reranker.pool is None else reranker.pool
    read, rest = hits[:cut], hits[cut:]
    if not read:
        return hits
    rescored = [replace(hit, score=float(score)) for hit, score in zip(read, reranker.scores(query, read))]
    return sorted(rescored, key=lambda hit: hit.score, reverse=True) + rest


@lru_cache(maxsize=2)
def load_reranker(name: str) -> Reranker:
    """The reranker a knowledge base names: `lm:SOURCE` or a local cross-encoder folder (nothing is downloaded)."""
    if name.startswith(LM_PREFIX):
        return QueryLikelihoodReranker(name[len(LM_PREFIX):].strip())
    return CrossEncoderReranker(name)


def check_reranker(name: str) -> None:
    """Refuse a name that cannot be a reranker here, before anything is built (loads no model)."""
    if name.startswith(LM_PREFIX):
        if not name[len(LM_PREFIX):].strip():
            raise InvalidInputError(f"{name!r} names no model: write e.g. `lm:smollm2`, or `lm:` and a model folder.")
    elif name:
        _cross_encoder_folder(name)


class CrossEncoderReranker:
    pool = None  # every candidate: a cross-encoder reads a pair in milliseconds

    def __init__(self, folder: str):
        with first_imports():
            from sentence_transformers import CrossEncoder

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = CrossEncoder(str(_cross_encoder_folder(folder)), device="cpu",
                                  model_kwargs={"use_safetensors": True})  # never unpickle

    def scores(self, query: str, chunks: Sequence[Passage]) -> list[float]:
        with cpu_share.computing():
            scores = self.model.predict([(query, c.text) for c in chunks], show_progress_bar=False)
        return [float(s) for s in scores]


class QueryLikelihoodReranker:
    pool = LM_POOL

    def __init__(self, source: str):
        from core.llm.loading import load_model

        self.loaded = load_model(source, None, "auto", "auto")  # the arguments LocalBackend passes: one cached copy

    def scores(self, query: str, chunks: Sequence[Passage]) -> list[float]:
        """Mean log-probability of the query's tokens after each chunk's prompt, in one left-padded batch."""
        import torch

        tokenizer, model = self.loaded.tokenizer, self.loaded.model
        asked = tokenizer(query, add_special_tokens=False)["input_ids"]
        rows = [self._prompt_ids(chunk) + asked for chunk in chunks]
        width = max(map(len, rows))
        pad = tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(row)) + row for row in rows], device=model.device)
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=model.device)
        with torch.inference_mode(), cpu_share.computing(model.device):
            # the logits that predict the query's tokens: from the last prompt token on
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=len(asked) + 1).logits
        log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        targets = torch.tensor(asked, device=model.device).expand(len(rows), -1).unsqueeze(-1)
        return log_probs.gather(-1, targets).squeeze(-1).mean(dim=1).tolist()

    def _prompt_ids(self, chunk: Passage) -> list[int]:
        messages = [{"role": "user", "content": f"{chunk.source}:\n{chunk.text}\n\n{LM_INSTRUCTION}"}]
        return self.loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                         return_dict=True)["input_ids"]


def _cross_encoder_folder(name: str) -> Path:
    return local_model_folder(
        name, f"Reranker {name!r} is not a local cross-encoder folder (no config.json): give the folder of a "
              f"downloaded cross-encoder, `{LM_PREFIX}smollm2` to rerank with the local language model, or "
              "leave the reranker empty.")
