"""Evaluation throughput: the eval runner against a naive loop, on the demo set with the local model.

- **naive loop**: `LocalBackend.generate` once per question, then the same metrics, in this process;
- **runner**: what `python -m core eval run` does: a run submitted as a job, a worker process that
  loads the model, answers in batches (`generate_batch`), grades and stores every answer; timed from
  submit to the job's end (worker start and model load included).

Both answer the 40 questions of `eval_sets/demo/ledgerly-v1.jsonl` with SmolLM2 (dtype auto, greedy,
the same max new tokens) and grade with every metric that needs no judge (the lab's and ragas's).
Prints a table and writes JSON to bench/results/eval_throughput.json. Target (issue 9): the runner's
answers per minute >= 3x the naive loop's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO_SET = ROOT / "eval_sets" / "demo" / "ledgerly-v1.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "eval_throughput.json"


def naive_loop(max_new_tokens: int) -> dict:
    from core.evaluation.job import Grader
    from core.evaluation.catalog import OFFLINE_METRICS
    from core.evaluation.sets import parse_eval_set
    from core.llm.base import GenerationOptions, Prompt
    from core.llm.local import LocalBackend

    items = parse_eval_set(DEMO_SET.read_text(encoding="utf-8"))
    backend, grader = LocalBackend(), Grader(list(OFFLINE_METRICS))
    warm_up = backend.generate(Prompt.ask("warm up"), GenerationOptions(max_new_tokens=4))
    grader.grade([_as_eval_item(items[0])], [warm_up])  # loads the embedding model too
    options = GenerationOptions(max_new_tokens=max_new_tokens)
    started = time.perf_counter()
    for item in items:
        completion = backend.generate(Prompt.ask(item.question), options)
        grader.grade([_as_eval_item(item)], [completion])
    seconds = time.perf_counter() - started
    return {"path": "naive loop (model loaded, warm)", "answers": len(items), "seconds": seconds}


def _as_eval_item(item):
    from core.store.tables import EvalItem

    return EvalItem(set_id=0, position=0, item_id=item.id, **item.model_dump(exclude={"id"}))


def runner(max_new_tokens: int, batch_size: int) -> dict:
    from core.access import LOCAL_ADMIN
    from core.evaluation.catalog import OFFLINE_METRICS
    from core.evaluation.runs import RunOptions, submit_eval
    from core.evaluation.sets import import_eval_file, list_eval_sets
    from core.jobs import queue, scheduler
    from core.paths import operator_paths
    from core.store import current_database

    db = current_database()
    if "bench" not in [s.name for s in list_eval_sets(db)]:
        with operator_paths():  # the bench names the file
            import_eval_file(db, DEMO_SET, name="bench", actor=LOCAL_ADMIN)
    started = time.perf_counter()
    run = submit_eval(db, "bench", ["local"], OFFLINE_METRICS,
                      RunOptions(max_new_tokens=max_new_tokens, batch_size=batch_size), actor=LOCAL_ADMIN)
    while (job := queue.get_job(db, run.job_id)).status in queue.ACTIVE:
        scheduler.refresh(db)
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if job.status != queue.SUCCEEDED:
        raise RuntimeError(f"the eval job {job.status}: {job.error}")
    return {"path": f"runner, batch {batch_size}: submit to done (worker start, model load)", "answers": 40,
            "seconds": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(RAGTUNE_DATA_DIR=tmp, RAGTUNE_MODEL_SERVER="off")
        rows = [naive_loop(args.max_new_tokens)]
        for batch_size in args.batch_sizes:
            rows.append(runner(args.max_new_tokens, batch_size))
    baseline = rows[0]["answers"] / rows[0]["seconds"] * 60
    print(f"{'path':62} {'answers/min':>11} {'vs naive':>8}")
    for row in rows:
        row["answers_per_min"] = row["answers"] / row["seconds"] * 60
        row["vs_naive"] = row["answers_per_min"] / baseline
        print(f"{row['path']:62} {row['answers_per_min']:>11.1f} {row['vs_naive']:>7.2f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                   "machine": platform.machine(), "cpus": os.cpu_count(),
                                   "max_new_tokens": args.max_new_tokens, "rows": rows}, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
