"""The same work on SQLite and on PostgreSQL: an eval run's writes, and the History page's render.

PostgreSQL is a throwaway server from Debian's binaries on 127.0.0.1 (the tests' `PostgresServer`),
with the durability settings it ships with (fsync on), so both stores pay for committing to disk.
- Eval writes: a run of `--questions` answers of two systems written as the eval job writes them
  (`save_answers` in batches of 8, each with its scores), then `finish_run` (SQL aggregation and
  bootstrap intervals). Median of `--repeats` runs.
- History render: 50 finished runs of 100 results (bench/history_render.py's store), the page rendered
  under AppTest; median of `--repeats` after one warm-up.
The stores take turns within each repeat, so the machine's drift falls on both.

Prints a table and writes JSON to bench/results/store_backends.json. Target (issue 20): PostgreSQL
within 1.5x of SQLite for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_file import write_results  # noqa: E402 (after the path)

SYSTEMS = ["local:smollm2", "local:smollm2?kb=docs"]
BATCH = 8


def eval_writes_seconds(db, questions: int) -> float:
    from core.access import LOCAL_ADMIN
    from core.evaluation.runs import finish_run, save_answers
    from core.evaluation.sets import import_eval_set
    from core.store.tables import EvalResult, EvalRun

    name = f"writes-{time.monotonic_ns()}"
    import_eval_set(db, name, "\n".join(json.dumps({"id": f"q{n}", "question": f"Question {n}?"})
                                        for n in range(questions)), "bench", actor=LOCAL_ADMIN)
    started = time.perf_counter()
    with db.session() as session:
        run = EvalRun(eval_set=name, systems=SYSTEMS, metrics=["exact_match", "token_f1"])
        session.add(run)
    for system in SYSTEMS:
        for start in range(0, questions, BATCH):
            batch = [EvalResult(run_id=run.id, item_id=f"q{n}", position=n, system=system, model="m",
                                text=f"answer {n}", latency_ms=900.0, cost_usd=0.0)
                     for n in range(start, min(start + BATCH, questions))]
            save_answers(db, batch, [{"exact_match": (float(n % 2), None), "token_f1": (n % 10 / 10, None)}
                                     for n in range(len(batch))])
    finish_run(db, run.id, {system: {"spec": system} for system in SYSTEMS})
    return time.perf_counter() - started


def render_history_seconds() -> float:
    from tests.pages.conftest import open_page

    started = time.perf_counter()
    at = open_page("pages/history.py")
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return time.perf_counter() - started


def use_store(url: str, data_dir: str):
    from core.store import current_database

    os.environ.update({"DATABASE_URL": url, "RAGTUNE_DATA_DIR": data_dir})
    return current_database()


def measure(stores: dict[str, tuple[str, str]], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Each repeat times every store in turn, so the machine's drift falls on all of them."""
    from bench.history_render import fill_store

    writes: dict[str, list[float]] = {store: [] for store in stores}
    renders: dict[str, list[float]] = {store: [] for store in stores}
    for _ in range(args.repeats):
        for store, (url, data_dir) in stores.items():
            writes[store].append(eval_writes_seconds(use_store(url, data_dir), args.questions))
    for store, (url, data_dir) in stores.items():
        fill_store(use_store(url, data_dir), 100)
        render_history_seconds()  # warm-up: imports, the page's read cache
    for _ in range(args.repeats):
        for store, (url, data_dir) in stores.items():
            use_store(url, data_dir)
            renders[store].append(render_history_seconds())
    return {store: {"eval_writes_s": statistics.median(writes[store]),
                    "history_render_s": statistics.median(renders[store])} for store in stores}


def main() -> None:
    from tests.postgres_server import PostgresServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["RAGTUNE_MODEL_SERVER"] = "off"
    folder = Path(tempfile.mkdtemp(prefix="ragtune-pg-bench-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PostgresServer(folder, durable=True)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as sqlite_dir, tempfile.TemporaryDirectory() as postgresql_dir:
            rows = measure({"sqlite": (f"sqlite:///{sqlite_dir}/lab.db", sqlite_dir),
                            "postgresql": (server.create_database(), postgresql_dir)}, args)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    ratios = {key: rows["postgresql"][key] / rows["sqlite"][key] for key in rows["sqlite"]}
    print(f"{'':<34} {'SQLite s':>9} {'PostgreSQL s':>12} {'ratio':>6}")
    for key, label in (("eval_writes_s", f"eval run writes ({args.questions} x {len(SYSTEMS)} answers)"),
                       ("history_render_s", "History page, 50 runs of 100")):
        print(f"{label:<34} {rows['sqlite'][key]:>9.3f} {rows['postgresql'][key]:>12.3f} {ratios[key]:>5.2f}x")
    write_results("store_backends", rows=rows, ratios=ratios, questions=args.questions, repeats=args.repeats)


if __name__ == "__main__":
    main()
