"""History page render time as runs grow: 50 finished runs with 10, 1,000 and 10,000 results each.

For each size, a fresh store gets 50 runs of one system on one eval set: results and two metrics'
scores inserted in bulk, each run then finished by the real `finish_run` (SQL aggregation and
bootstrap intervals). The page is rendered under AppTest, as a browser session would get it, with
the store's caches cold (a new process state per size) and warm (the same session again).
Also timed: comparing the last two runs (the page's "Compare runs", which reads every score).

Prints a table and writes JSON to bench/results/history_render.json. Target (issue 10): the
10,000-result render within 1.5x of the 10-result render.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_file import write_results  # noqa: E402 (after the path)

RUNS = 50
SYSTEM = "local:smollm2?kb=docs"


def fill_store(db, results_per_run: int) -> None:
    from sqlalchemy import insert
    from sqlmodel import select

    from core.access import LOCAL_ADMIN
    from core.evaluation.runs import finish_run
    from core.evaluation.sets import import_eval_set
    from core.store.tables import EvalResult, EvalRun, EvalScore

    import_eval_set(db, "bench", "\n".join(json.dumps({"id": f"q{n}", "question": f"Question {n}?"})
                                           for n in range(results_per_run)), "bench", actor=LOCAL_ADMIN)
    start = datetime.now(timezone.utc) - timedelta(days=RUNS)
    for number in range(RUNS):
        with db.session() as session:
            run = EvalRun(eval_set="bench", systems=[SYSTEM], metrics=["exact_match", "token_f1"],
                          created_at=start + timedelta(days=number))
            session.add(run)
            session.flush()
            run_id, created = run.id, run.created_at
            session.execute(insert(EvalResult), [
                {"run_id": run_id, "item_id": f"q{n}", "position": n, "system": SYSTEM, "model": "local:smollm2",
                 "text": f"answer {n}", "input_tokens": 50, "output_tokens": 20, "latency_ms": 900.0 + n % 97,
                 "batch_share_ms": 110.0, "cost_usd": 0.00001, "warnings": [], "retrieval_ms": 12.0 + n % 7,
                 "citations": [], "contexts": [], "answered_at": created}
                for n in range(results_per_run)])
            ids = session.exec(select(EvalResult.id, EvalResult.position).where(EvalResult.run_id == run_id)).all()
            session.execute(insert(EvalScore), [
                {"run_id": run_id, "result_id": result_id, "system": SYSTEM, "metric": metric,
                 "value": float((n + number) % 3 == 0) if metric == "exact_match" else ((n * 7 + number) % 100) / 100}
                for result_id, n in ids for metric in ("exact_match", "token_f1")])
        finish_run(db, run_id, {SYSTEM: {"spec": SYSTEM}})


def render_seconds(repeats: int) -> tuple[float, float]:
    """(first render, median of the next `repeats`): the first fills the page's read cache."""
    from tests.pages.conftest import open_page

    timings = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        at = open_page("pages/history.py")
        timings.append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    return timings[0], statistics.median(timings[1:])


def compare_seconds(db) -> float:
    from core.history.compare import compare_runs

    started = time.perf_counter()
    compare_runs(db, RUNS - 1, RUNS)
    return time.perf_counter() - started


def measure(size: int, repeats: int) -> dict:
    from core.store import current_database

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAGTUNE_DATA_DIR"] = tmp
        db = current_database()
        started = time.perf_counter()
        fill_store(db, size)
        filled = time.perf_counter() - started
        first, warm = render_seconds(repeats)
        return {"results_per_run": size, "runs": RUNS, "fill_seconds": filled, "first_render_s": first,
                "render_s": warm, "compare_two_runs_s": compare_seconds(db)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["RAGTUNE_MODEL_SERVER"] = "off"
    rows = [measure(size, args.repeats) for size in args.sizes]
    base = rows[0]["render_s"]
    print(f"{'results per run':>15} {'runs':>5} {'first render s':>14} {'render s':>9} {'vs 10':>6} {'compare 2 runs s':>16}")
    for row in rows:
        row["vs_smallest"] = row["render_s"] / base
        print(f"{row['results_per_run']:>15,} {row['runs']:>5} {row['first_render_s']:>14.3f} {row['render_s']:>9.3f} "
              f"{row['vs_smallest']:>5.2f}x {row['compare_two_runs_s']:>16.3f}")
    write_results("history_render", rows=rows)


if __name__ == "__main__":
    main()
