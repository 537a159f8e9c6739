"""Local generation speed: is batching and the safetensors cache worth it here?

Measures, for SmolLM2-135M-Instruct on this machine:
- tokens/s one prompt at a time vs a batch of 8 (one `generate` call), float32 and bfloat16;
- the same GGUF run by llama.cpp, when `llama-cpp-python` is installed (skipped otherwise);
- model load time from the GGUF (de-quantising) vs from the cached safetensors copy.

Prints a table and writes JSON to bench/results/. Run: `python bench/llm_generation.py`.
Targets (issue 3): batched >= 3x one-at-a-time float32 throughput; batched aggregate
tokens/s >= llama.cpp single-sequence tokens/s; cached load >= 5x faster than the GGUF load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.llm.base import GenerationOptions, Prompt  # noqa: E402
from core.llm.loading import load_model, load_pretrained  # noqa: E402
from core.llm.sources import cached_smollm2, smollm2_gguf  # noqa: E402
from core.llm.local import LocalBackend  # noqa: E402

QUESTIONS = (
    "What is the capital of France?", "Explain what a hash table is.", "Name three primary colours.",
    "Why is the sky blue?", "What does an operating system do?", "Give a tip for writing clear emails.",
    "What is photosynthesis?", "How do vaccines work?",
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_loads() -> dict:
    """Seconds to load SmolLM2 from the GGUF and from the cached safetensors copy."""
    cache = cached_smollm2()  # makes the copy first if this machine never loaded SmolLM2
    gguf = smollm2_gguf()
    started = time.perf_counter()
    load_pretrained(str(gguf.parent), gguf_file=gguf.name)
    gguf_s = time.perf_counter() - started
    started = time.perf_counter()
    load_pretrained(str(cache))
    cached_s = time.perf_counter() - started
    return {"gguf_load_s": gguf_s, "cached_load_s": cached_s, "speedup": gguf_s / cached_s}


def time_transformers(dtype: str, prompts: list[Prompt], options: GenerationOptions) -> list[dict]:
    backend = LocalBackend(dtype=dtype, device="cpu", batch_size=len(prompts))
    backend.generate(prompts[0], GenerationOptions(max_new_tokens=4))  # warm-up: first call pays one-offs
    rows = []
    for mode in ("one at a time", f"batch of {len(prompts)}"):
        started = time.perf_counter()
        if mode == "one at a time":
            completions = [backend.generate(p, options) for p in prompts]
        else:
            completions = backend.generate_batch(prompts, options)
        seconds = time.perf_counter() - started
        tokens = sum(c.output_tokens for c in completions)
        rows.append({"engine": "transformers", "dtype": dtype, "mode": mode, "tokens": tokens,
                     "seconds": seconds, "tokens_per_s": tokens / seconds})
    load_model.cache_clear()
    return rows


def time_llama_cpp(prompts: list[Prompt], options: GenerationOptions) -> list[dict]:
    if importlib.util.find_spec("llama_cpp") is None:
        return [{"engine": "llama.cpp", "dtype": "Q4_1", "mode": "one at a time",
                 "skipped": "llama-cpp-python is not installed"}]
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf()), n_threads=os.cpu_count(), n_ctx=2048, verbose=False)
    tokens, started = 0, time.perf_counter()
    for prompt in prompts:
        reply = llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in prompt.messages],
            max_tokens=options.max_new_tokens, temperature=0.0)
        tokens += reply["usage"]["completion_tokens"]
    seconds = time.perf_counter() - started
    return [{"engine": "llama.cpp", "dtype": "Q4_1", "mode": "one at a time", "tokens": tokens,
             "seconds": seconds, "tokens_per_s": tokens / seconds}]


def verdicts(loads: dict, rows: list[dict]) -> dict:
    speed = {(r["engine"], r["dtype"], r["mode"]): r.get("tokens_per_s") for r in rows}
    batch = f"batch of {len(QUESTIONS)}"
    single_f32 = speed[("transformers", "float32", "one at a time")]
    best_batch = max(speed[("transformers", d, batch)] for d in ("float32", "bfloat16"))
    llama = speed.get(("llama.cpp", "Q4_1", "one at a time"))
    return {
        "batched_vs_single_float32": {"ratio": speed[("transformers", "float32", batch)] / single_f32,
                                      "target": 3.0},
        "batched_vs_llama_cpp": {"ratio": best_batch / llama if llama else None, "target": 1.0},
        "cached_vs_gguf_load": {"ratio": loads["speedup"], "target": 5.0},
    }


def print_table(loads: dict, rows: list[dict], checks: dict) -> None:
    print(f"{'engine':<13}{'dtype':<10}{'mode':<16}{'tokens':>8}{'seconds':>9}{'tokens/s':>10}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['engine']:<13}{r['dtype']:<10}{r['mode']:<16}  skipped: {r['skipped']}")
            continue
        print(f"{r['engine']:<13}{r['dtype']:<10}{r['mode']:<16}{r['tokens']:>8}{r['seconds']:>9.1f}"
              f"{r['tokens_per_s']:>10.1f}")
    print(f"\nload from GGUF {loads['gguf_load_s']:.1f} s, from cached safetensors {loads['cached_load_s']:.1f} s")
    for name, check in checks.items():
        ratio = check["ratio"]
        status = "n/a" if ratio is None else ("PASS" if ratio >= check["target"] else "MISS")
        shown = "-" if ratio is None else f"{ratio:.1f}x"
        print(f"{name:<28} {shown:>7}  (target >= {check['target']:.0f}x)  {status}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch CPU threads; on a machine shared with other busy processes 1 is steadier, "
                             "since every parallel step waits for its slowest (descheduled) thread")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = GenerationOptions(max_new_tokens=args.max_new_tokens)
    prompts = [Prompt.ask(q) for q in QUESTIONS]
    loads = time_loads()
    rows = [*time_transformers("float32", prompts, options), *time_transformers("bfloat16", prompts, options),
            *time_llama_cpp(prompts, options)]
    checks = verdicts(loads, rows)
    print_table(loads, rows, checks)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"llm_generation-{stamp}.json"
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
               "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
               # other work on the machine slows every number down (much more with 2 cores)
               "load_average_1_5_15_min": os.getloadavg()}
    out.write_text(json.dumps({"machine": machine, "max_new_tokens": args.max_new_tokens, "loads": loads,
                               "generation": rows, "targets": checks}, indent=2))
    print(f"\nload average {machine['load_average_1_5_15_min']}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
