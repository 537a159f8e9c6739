"""Loading local models: in which dtype, on which device, with which adapter.

Where the weights come from is `core.llm.sources`. Loaded models are kept per
process: a Streamlit rerun or an evaluation loop must not pay the load again.
Weights load from safetensors only (pickled `.bin` files can run code when
loaded); the one exception is SmolLM2's GGUF file, shipped in a package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import torch

from core import cpu_share
from core.errors import InvalidInputError, NotFoundError
from core.hardware import best_device, native_bfloat16
from core.imports import first_imports
from core.llm.defaults import DEFAULT_MODEL, DEVICE_CHOICES, DTYPE_CHOICES, DTYPE_NAMES
from core.llm.sources import resolve_source
from core.paths import require_safetensors

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    device: str
    dtype: str


def resolve_device(device: str = "auto") -> str:
    if device not in DEVICE_CHOICES:
        raise InvalidInputError(f"Unknown device {device!r}: use one of {', '.join(DEVICE_CHOICES)}.")
    if device == "auto":
        return best_device()
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("device=cuda was asked for but no CUDA GPU is visible: use device=cpu or auto.")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' picks bfloat16 where the hardware computes it natively, else
    float16 on a GPU and float32 on a CPU."""
    if dtype not in DTYPE_CHOICES:
        raise InvalidInputError(f"Unknown dtype {dtype!r}: use one of {', '.join(DTYPE_CHOICES)}.")
    if dtype != "auto":
        return dtype
    if native_bfloat16(device):
        return "bfloat16"
    return "float16" if device == "cuda" else "float32"


@lru_cache(maxsize=4)
def load_model(source: str = DEFAULT_MODEL, adapter: Optional[str] = None,
               dtype: str = "auto", device: str = "auto") -> LoadedModel:
    """The model named by `source` (+ LoRA `adapter`), shared per process."""
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    model, tokenizer, name = _load_base(source)
    if adapter:
        model = apply_adapter(model, adapter)
        name = f"{name}+{Path(adapter).name}"
    model = cpu_share.watch(model.to(device=device, dtype=DTYPES[dtype]).eval())
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=device, dtype=dtype)


def _load_base(source: str) -> tuple[Any, Any, str]:
    folder, name = resolve_source(source)
    return (*load_pretrained(folder), name)


def load_pretrained(source: str, model_kwargs: Optional[dict] = None, **kwargs) -> tuple[Any, Any]:
    """Model and tokenizer in float32 from a folder or the local hub cache; never downloads, never unpickles.
    `kwargs` go to both (e.g. `gguf_file`), `model_kwargs` to the model only (e.g. quantisation)."""
    with first_imports():
        from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # bars in a CLI's output or the dashboard's log are noise
    # SmolLM2's GGUF file (shipped in a package; no pickle either) is the one source without safetensors.
    weights = {} if "gguf_file" in kwargs else {"use_safetensors": True}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=torch.float32,
                                                     **weights, **kwargs, **(model_kwargs or {}))
    except OSError as exc:
        raise NotFoundError(
            f"Model {source!r} is not available offline: nothing is downloaded at run time. Download it "
            f"where there is network (`hf download {source}`) into the Hugging Face cache, or give the "
            f"path of a local model folder. ({exc})") from exc
    return model, tokenizer


def apply_adapter(model: Any, adapter: str | Path) -> Any:
    """`model` with the LoRA adapter in the folder `adapter` merged into its weights."""
    with first_imports():
        from peft import PeftModel

    folder = Path(adapter).expanduser()
    _check_adapter_folder(folder)
    try:
        return PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    except Exception as exc:  # peft raises many kinds for a bad folder; all mean the same here
        raise InvalidInputError(
            f"The LoRA adapter in {folder} cannot be applied to this model ({type(exc).__name__}: {exc}). "
            "Check that it was trained on the same base model, or train it again.") from exc


def _check_adapter_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise InvalidInputError(f"Adapter folder {folder} does not exist: check the path.")
    config = folder / "adapter_config.json"
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"{folder} is not a usable LoRA adapter: adapter_config.json is missing or not valid JSON. "
            "Point at the folder a fine-tuning run wrote, or train the adapter again.") from exc
    require_safetensors(folder)  # peft would fall back to adapter_model.bin
    if not (folder / "adapter_model.safetensors").is_file():
        raise InvalidInputError(
            f"{folder} has no adapter weights (adapter_model.safetensors): the adapter is incomplete; "
            "train it again.")


def release_models() -> None:
    """Forget the models this process keeps loaded and hand their memory back
    (before a GPU training job needs it)."""
    import gc

    load_model.cache_clear()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
