"""A job as a user starts it, cold and from the warm launcher: index the demo's v1 docs (MiniLM embeddings, a
fresh knowledge base each time) and time it from the submit to the row's `succeeded`, and to the worker's
first heartbeat (the job has started: its libraries are imported, its row is marked running).

- cold: `RAGTUNE_JOB_LAUNCHER=off`, a fresh `python -m core.jobs.worker ID` per job (as before the launcher);
- warm: forked by a launcher that is already serving (started and awaited before the first measured job).
The two take turns, `--repeats` times each, so the machine's drift falls on both; medians are reported.

Prints a table and writes JSON to bench/results/job_start.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_file import write_results  # noqa: E402 (after the path)

DOCS = ROOT / "eval_sets" / "demo" / "docs" / "v1"


def index_once(db, number: int) -> dict[str, float]:
    from core.access import LOCAL_ADMIN
    from core.jobs import queue
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.index_job import submit_index

    started = time.perf_counter()
    _, job = submit_index(db, f"docs-{number}", KnowledgeBaseConfig(source_path=str(DOCS)), actor=LOCAL_ADMIN)
    running = None
    while True:
        row = queue.get_job(db, job.id)
        if running is None and row.heartbeat_at is not None and row.attempts and row.progress_text:
            running = time.perf_counter() - started
        if row.status not in queue.ACTIVE:
            break
        time.sleep(0.05)
    if row.status != queue.SUCCEEDED:
        raise SystemExit(f"job {job.id} {row.status}: {row.error}")
    return {"first_progress_s": running or 0.0, "succeeded_s": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["RAGTUNE_DATA_DIR"] = tempfile.mkdtemp(prefix="job-start-")
    os.environ["RAGTUNE_ALLOWED_ROOTS"] = str(DOCS)
    from core.launcher import serving, stop_launchers
    from core.processes import background_environment
    from core.store import current_database

    db = current_database()
    os.environ["RAGTUNE_JOB_LAUNCHER"] = "on"
    index_once(db, 0)  # starts the launcher (this job itself starts cold)
    while not serving(background_environment()):
        time.sleep(0.2)
    times: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for number in range(1, args.repeats + 1):
        for mode in times:
            os.environ["RAGTUNE_JOB_LAUNCHER"] = "off" if mode == "cold" else "on"
            times[mode].append(index_once(db, number * 2 + (mode == "warm")))
    stop_launchers()
    medians = {mode: {key: statistics.median(t[key] for t in runs) for key in runs[0]} for mode, runs in times.items()}
    print(f"{'index the demo docs (median s)':<34} {'cold':>7} {'warm':>7} {'ratio':>6}")
    for key, label in (("first_progress_s", "submit to first progress"), ("succeeded_s", "submit to succeeded")):
        cold, warm = medians["cold"][key], medians["warm"][key]
        print(f"{label:<34} {cold:>7.2f} {warm:>7.2f} {cold / warm:>5.1f}x")
    write_results("job_start", repeats=args.repeats, medians=medians, runs=times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
