"""Several of the lab's processes computing at once, through the paths a user takes.

Each scenario runs twice: with the cores shared (`core/cpu_share.py`, the default) and unshared, every
process with torch's default threads and OpenMP's default waiting, as before issue 17 (the same code
with `RAGTUNE_THREADS` fixed at torch's default count).
- **two generators**: SmolLM2 answering a batch of 8 (64 new tokens each) through
  `LocalBackend.generate_batch`, one process alone, then two at once;
- **Playground beside training**: questions asked of the model server through the app's client (what
  the Playground page calls), alone and while a LoRA training job runs; the job's tokens/s alone and
  while the questions are asked.
Shared mode only (unshared, these ran for minutes):
- **eval beside training** (`RAGTUNE_MAX_JOBS=2`): an eval job of 16 questions, submit to done,
  alone and while a training job runs;
- **two users beside indexing**: two people asking the model server at once, alone and while a
  knowledge base (urllib3's source, as the Knowledge page submits it) is indexed by a job.
`--page-only`: the Playground page itself, the app started as `make app` starts it and driven in headless
Chromium, alone and beside a training job (with `RAGTUNE_THREADS=2` in the environment: as before).

Prints a table and writes JSON to bench/results/contention.json. Run: `python bench/contention.py`.
Targets (issue 17, ratios in one run): a Playground answer while training >= 0.4x alone; the training
job while the Playground is used >= 0.4x alone; two generating processes together >= 1.2x one alone;
nothing alone slower than 0.9x unshared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = Path(__file__).resolve().parent / "results" / "contention.json"
QUESTIONS = (
    "Explain what a vector database is and when a team needs one.",
    "Why do teams fine-tune language models instead of prompting them?",
    "Describe how HTTP caching works in a web browser.",
    "What makes a code review useful for the author?",
)
PLAYGROUND_TOKENS = 128  # the Playground's default
GENERATE_SECONDS = 20.0
TRAINING_WINDOW_S = 20.0
SLOW_QUESTION_BUDGET_S = 120.0  # unshared, one answer can take a minute: stop asking after this
EVAL_QUESTIONS = 16


# -- a generating child process (`--generate`): the raw two-process measurement -----------------

def generate_for(seconds: float, go_file: str) -> None:
    from core.llm.base import GenerationOptions, Prompt
    from core.llm.local import LocalBackend

    backend = LocalBackend()
    prompts = [Prompt.ask(f"Explain topic number {i} of software design in detail.") for i in range(8)]
    backend.generate_batch(prompts[:2], GenerationOptions(max_new_tokens=4))
    Path(f"{go_file}.{os.getpid()}.ready").touch()
    while not Path(go_file).exists():
        time.sleep(0.01)
    started, tokens = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        tokens += sum(c.output_tokens for c in backend.generate_batch(prompts, GenerationOptions(max_new_tokens=64)))
    print(json.dumps({"tokens_per_s": tokens / (time.perf_counter() - started)}))


def generators_at_once(count: int) -> list[float]:
    """tokens/s of each of `count` generating processes started together."""
    go_file = tempfile.mktemp(prefix="contention-go-")
    children = [subprocess.Popen([sys.executable, __file__, "--generate", str(GENERATE_SECONDS), go_file],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
                for _ in range(count)]
    while len(list(Path(go_file).parent.glob(Path(go_file).name + ".*.ready"))) < count:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a generating process died before it started")
        time.sleep(0.1)
    Path(go_file).touch()
    rates = [json.loads(child.communicate()[0].strip().splitlines()[-1])["tokens_per_s"] for child in children]
    for ready in Path(go_file).parent.glob(Path(go_file).name + "*"):
        ready.unlink()
    return rates


# -- the user's paths: the model server's client, jobs as the pages submit them -------------------

def playground_client():
    from core.llm.spec import parse_spec
    from core.serving.client import ServerBackend
    from core.serving.lifecycle import ensure_server

    return ServerBackend(ensure_server().url, parse_spec("local"))


def ask(client, questions, budget_s: float = float("inf")) -> dict:
    """Questions asked one after another, as one person in the Playground: tokens/s of the answers."""
    from core.llm.base import GenerationOptions, Prompt

    started, tokens, seconds = time.perf_counter(), 0, 0.0
    for question in questions:
        answer = client.generate(Prompt.ask(question), GenerationOptions(max_new_tokens=PLAYGROUND_TOKENS))
        tokens, seconds = tokens + answer.output_tokens, seconds + answer.latency_ms / 1000
        if time.perf_counter() - started > budget_s:
            break
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def two_users(client, until: Callable[[], bool]) -> dict:
    """Two people asking at once, each question after question, until `until()`: aggregate tokens/s."""
    def person(offset: int) -> int:
        tokens, turn = 0, offset
        while True:
            tokens += ask(client, [QUESTIONS[turn % len(QUESTIONS)]])["tokens"]
            turn += 1
            if until():
                return tokens

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        tokens = sum(pool.map(person, (0, 1)))
    return {"tokens": tokens, "seconds": time.perf_counter() - started,
            "tokens_per_s": tokens / (time.perf_counter() - started)}


def start_training(db, name: str):
    from core.access import LOCAL_ADMIN
    from core.finetune.config import TrainingConfig
    from core.finetune.job import submit_training

    job = submit_training(db, TrainingConfig(dataset="house-style", adapter_name=name, max_steps=1000,
                                             eval_every=1000, checkpoint_every=1000), LOCAL_ADMIN)
    wait_for(lambda: _training_steps(db, job.id) >= 3, 300, "the training job's first steps")
    return job


def _training_steps(db, job_id: int) -> int:
    from core.jobs import queue

    job = queue.get_job(db, job_id)
    if job.status not in queue.ACTIVE:
        raise RuntimeError(f"the training job {job.status}: {job.error}")
    return len([m for m in queue.job_metrics(db, [job_id]) if m.name == "tokens_per_s"])


def training_rate(db, job_id: int, since: datetime, until: datetime) -> float:
    """The median tokens/s of the training steps logged in [since, until]."""
    from core.jobs import queue

    rates = [m.value for m in queue.job_metrics(db, [job_id])
             if m.name == "tokens_per_s" and since <= _aware(m.recorded_at) <= until]
    return statistics.median(rates) if rates else 0.0


def stop_job(db, job_id: int) -> None:
    from core.jobs import queue, scheduler

    scheduler.cancel(db, job_id)
    wait_for(lambda: queue.get_job(db, job_id).status not in queue.ACTIVE, 120, "the training job to stop")


def run_job(db, job_id: int, timeout: float = 900) -> float:
    """Waits for a job; returns its wall seconds from now."""
    from core.jobs import queue, scheduler

    started = time.perf_counter()
    while (job := queue.get_job(db, job_id)).status in queue.ACTIVE:
        scheduler.refresh(db)
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"job {job_id} still {job.status} after {timeout} s")
        time.sleep(0.2)
    if job.status != queue.SUCCEEDED:
        raise RuntimeError(f"job {job_id} {job.status}: {job.error}")
    return time.perf_counter() - started


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -- scenarios ------------------------------------------------------------------------------------

def scenario_generators() -> list[dict]:
    alone = generators_at_once(1)[0]
    pair = generators_at_once(2)
    return [{"scenario": "two generators", "what": "one generating process alone", "tokens_per_s": alone},
            {"scenario": "two generators", "what": "two generating processes at once (together)",
             "tokens_per_s": sum(pair), "each": pair, "vs_alone": sum(pair) / alone}]


def scenario_playground_beside_training(db, budget_s: float) -> list[dict]:
    client = playground_client()
    ask(client, ["warm up"])
    alone = ask(client, QUESTIONS)
    job = start_training(db, f"contention-{int(time.time())}")
    since = now()
    time.sleep(TRAINING_WINDOW_S)
    training_alone = training_rate(db, job.id, since, now())
    since = now()
    during = ask(client, QUESTIONS, budget_s)
    training_during = training_rate(db, job.id, since, now())
    stop_job(db, job.id)
    return [
        {"scenario": "Playground beside training", "what": "Playground answer alone (model server)",
         "tokens_per_s": alone["tokens_per_s"]},
        {"scenario": "Playground beside training", "what": "Playground answer while a training job runs",
         "tokens_per_s": during["tokens_per_s"], "vs_alone": during["tokens_per_s"] / alone["tokens_per_s"]},
        {"scenario": "Playground beside training", "what": "training job alone", "tokens_per_s": training_alone},
        {"scenario": "Playground beside training", "what": "training job while the Playground is used",
         "tokens_per_s": training_during, "vs_alone": training_during / training_alone if training_alone else 0.0},
    ]


def scenario_eval_beside_training(db) -> list[dict]:
    from core.access import LOCAL_ADMIN
    from core.evaluation.runs import RunOptions, submit_eval

    def eval_answers_per_min() -> float:
        run = submit_eval(db, "contention", ["local"], options=RunOptions(limit=EVAL_QUESTIONS), actor=LOCAL_ADMIN)
        return EVAL_QUESTIONS / run_job(db, run.job_id) * 60

    alone = eval_answers_per_min()
    job = start_training(db, f"contention-eval-{int(time.time())}")
    since = now()
    time.sleep(TRAINING_WINDOW_S)
    training_alone = training_rate(db, job.id, since, now())
    since = now()
    during = eval_answers_per_min()
    training_during = training_rate(db, job.id, since, now())
    stop_job(db, job.id)
    return [
        {"scenario": "eval beside training", "what": f"eval job alone ({EVAL_QUESTIONS} questions, answers/min)",
         "answers_per_min": alone},
        {"scenario": "eval beside training", "what": "eval job while a training job runs (answers/min)",
         "answers_per_min": during, "vs_alone": during / alone},
        {"scenario": "eval beside training", "what": "training job alone", "tokens_per_s": training_alone},
        {"scenario": "eval beside training", "what": "training job while the eval job runs",
         "tokens_per_s": training_during, "vs_alone": training_during / training_alone if training_alone else 0.0},
    ]


def scenario_users_beside_indexing(db) -> list[dict]:
    from core.jobs import queue

    client = playground_client()
    ask(client, ["warm up"])
    deadline = time.monotonic() + 2 * TRAINING_WINDOW_S
    users_alone = two_users(client, lambda: time.monotonic() > deadline)
    seconds_alone, chunks = index_urllib3(db, "urllib3-alone")
    job_id = submit_urllib3(db, "urllib3-during")
    users_during = two_users(client, lambda: queue.get_job(db, job_id).status not in queue.ACTIVE)
    seconds_during = run_job(db, job_id) + users_during["seconds"]
    return [
        {"scenario": "two users beside indexing", "what": "two people asking at once (together)",
         "tokens_per_s": users_alone["tokens_per_s"]},
        {"scenario": "two users beside indexing", "what": "two people asking at once while an index job runs",
         "tokens_per_s": users_during["tokens_per_s"],
         "vs_alone": users_during["tokens_per_s"] / users_alone["tokens_per_s"]},
        {"scenario": "two users beside indexing", "what": "index job alone (chunks/s, worker start included)",
         "chunks_per_s": chunks / seconds_alone},
        {"scenario": "two users beside indexing", "what": "index job while two people ask (chunks/s)",
         "chunks_per_s": chunks / seconds_during, "vs_alone": seconds_alone / seconds_during},
    ]


def submit_urllib3(db, name: str) -> int:
    import urllib3

    from core.access import LOCAL_ADMIN
    from core.paths import operator_paths
    from core.rag.config import KnowledgeBaseConfig
    from core.rag.index_job import submit_index

    with operator_paths():  # the bench names the folder: it is no typed path
        _, job = submit_index(db, name, KnowledgeBaseConfig(source_path=str(Path(urllib3.__file__).parent)),
                              actor=LOCAL_ADMIN)
    return job.id


def index_urllib3(db, name: str) -> tuple[float, int]:
    from core.rag.knowledge import get_knowledge_base

    seconds = run_job(db, submit_urllib3(db, name))
    return seconds, get_knowledge_base(db, name).chunk_count


def page_beside_training(rounds: int = 3) -> list[dict]:
    """The real app (`streamlit run`, as `make app` starts it) driven in headless Chromium: Playground
    questions typed and asked, alone and while a training job runs in the same lab; tokens/s from the
    answers the app stored (their latency is what the page waited for the model server)."""
    from playwright.sync_api import sync_playwright

    from core.store import current_database

    sys.path.insert(0, str(Path(__file__).parent))
    import serving as page_bench  # bench/serving.py: the app, the browser and the stored answers

    def answers_per_s(browser, url, data_dir, tag) -> float:
        result = page_bench.playground(browser, url, data_dir, tag, 1, rounds, tag)
        return result["stored_tokens_per_s"]

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        data_dir = Path(tmp)
        os.environ.update(RAGTUNE_DATA_DIR=tmp, RAGTUNE_MAX_JOBS="2")
        db = current_database()
        prepare(db)
        browser = p.chromium.launch(executable_path=page_bench.CHROMIUM, headless=True, args=page_bench.CHROMIUM_ARGS)
        with page_bench.running_app(data_dir, None) as url:
            alone = answers_per_s(browser, url, data_dir, "alone")
            job = start_training(db, "page-beside")
            during = answers_per_s(browser, url, data_dir, "during")
            stop_job(db, job.id)
        browser.close()
    mode = "unshared" if os.environ.get("RAGTUNE_THREADS") else "shared"  # RAGTUNE_THREADS=2 measures before
    return [{"mode": mode, "scenario": "Playground page", "what": "Playground in Chromium, alone",
             "tokens_per_s": alone},
            {"mode": mode, "scenario": "Playground page", "what": "Playground in Chromium while a training job runs",
             "tokens_per_s": during, "vs_alone": during / alone}]


def alone_interleaved(db, threads: int, repeats: int) -> list[dict]:
    """Each process alone, shared and unshared in turn, `repeats` times: on this machine two runs of
    the same thing differ by up to 20%, so one pair of numbers cannot tell 0.9x from noise."""
    rows = []
    for attempt in range(repeats):
        for mode in ("shared", "unshared"):
            set_mode(mode, threads)
            generating = generators_at_once(1)[0]
            job = start_training(db, f"alone-{mode}-{attempt}")
            since = now()
            time.sleep(TRAINING_WINDOW_S)
            training = training_rate(db, job.id, since, now())
            stop_job(db, job.id)
            rows.append({"mode": mode, "attempt": attempt, "generating_tokens_per_s": generating,
                         "training_tokens_per_s": training})
    return rows


def interleaved_ratios(rows: list[dict]) -> dict[str, float]:
    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["mode"] == mode)

    return {key: median("shared", key) / median("unshared", key)
            for key in ("generating_tokens_per_s", "training_tokens_per_s")}


# -- the run --------------------------------------------------------------------------------------

def prepare(db) -> None:
    from core.access import LOCAL_ADMIN
    from core.evaluation.sets import import_eval_file
    from core.finetune.builders import import_jsonl
    from core.paths import operator_paths

    with operator_paths():  # the bench names its files
        import_jsonl(db, "house-style", ROOT / "core/finetune/samples/house-style.jsonl", actor=LOCAL_ADMIN)
        import_eval_file(db, ROOT / "eval_sets/demo/ledgerly-v1.jsonl", name="contention", actor=LOCAL_ADMIN)


def default_threads() -> int:
    """The threads torch takes by itself here (what every process used before the cores were shared)."""
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           capture_output=True, text=True, check=True)
    return int(probe.stdout.strip())


def set_mode(mode: str, threads: int) -> None:
    """What every process started from now on does: share the cores, or take torch's default threads."""
    if mode == "unshared":
        os.environ["RAGTUNE_THREADS"] = str(threads)
    else:
        os.environ.pop("RAGTUNE_THREADS", None)


def run_mode(mode: str, threads: int, everything: bool) -> list[dict]:
    from core.serving.lifecycle import stop_server
    from core.store import current_database

    set_mode(mode, threads)
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(RAGTUNE_DATA_DIR=data_dir, RAGTUNE_MAX_JOBS="2", RAGTUNE_MODEL_SERVER="on")
        db = current_database()
        prepare(db)
        rows = scenario_generators()
        try:
            rows += scenario_playground_beside_training(db, SLOW_QUESTION_BUDGET_S)
            if everything:
                rows += scenario_eval_beside_training(db)
                rows += scenario_users_beside_indexing(db)
        finally:
            stop_server()
    return [{"mode": mode, **row} for row in rows]


def print_table(rows: list[dict]) -> None:
    print(f"{'mode':9} {'scenario':27} {'what':62} {'rate':>9} {'vs alone':>9}")
    for row in rows:
        rate = row.get("tokens_per_s") or row.get("answers_per_min") or row.get("chunks_per_s") or 0.0
        ratio = f"{row['vs_alone']:.2f}x" if "vs_alone" in row else ""
        print(f"{row['mode']:9} {row['scenario']:27} {row['what']:62} {rate:>9.1f} {ratio:>9}")


def alone_ratios(rows: list[dict]) -> dict[str, float]:
    """Each 'alone' figure shared against unshared: sharing must not slow a process that runs alone."""
    unshared = {(r["scenario"], r["what"]): r for r in rows if r["mode"] == "unshared"}
    ratios = {}
    for row in rows:
        twin = unshared.get((row["scenario"], row["what"]))
        if row["mode"] == "shared" and twin and "alone" in row["what"] and "vs_alone" not in row:
            key = next(k for k in ("tokens_per_s", "answers_per_min", "chunks_per_s") if k in row)
            ratios[row["what"]] = row[key] / twin[key] if twin[key] else 0.0
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("go_file", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--shared-only", action="store_true", help="skip the unshared (before) rows")
    parser.add_argument("--alone-repeats", type=int, default=3, metavar="N",
                        help="alone, shared and unshared in turn N times (0: skip)")
    parser.add_argument("--alone-only", action="store_true", help="only the interleaved 'alone' comparison")
    parser.add_argument("--page-only", action="store_true",
                        help="only the Playground page in Chromium beside a training job")
    args = parser.parse_args()
    if args.generate:
        return generate_for(args.generate, args.go_file)
    threads = default_threads()
    rows: list[dict] = []
    if args.page_only:
        rows = page_beside_training()
        print_table(rows)
        return
    if not args.alone_only:
        rows = run_mode("shared", threads, everything=True)
        if not args.shared_only:
            rows += run_mode("unshared", threads, everything=False)
        print_table(rows)
    interleaved = run_interleaved(threads, args.alone_repeats) if args.alone_repeats else []
    ratios = interleaved_ratios(interleaved) if interleaved else alone_ratios(rows)
    for what, ratio in ratios.items():
        print(f"alone, shared vs unshared (median of {args.alone_repeats or 1}): {what}: {ratio:.2f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"measured_at": now().isoformat(timespec="seconds"), "machine": platform.machine(),
                                   "cpus": os.cpu_count(), "torch_threads": threads, "rows": rows,
                                   "alone_interleaved": interleaved, "alone_shared_vs_unshared": ratios}, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def run_interleaved(threads: int, repeats: int) -> list[dict]:
    from core.store import current_database

    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(RAGTUNE_DATA_DIR=data_dir, RAGTUNE_MAX_JOBS="2", RAGTUNE_MODEL_SERVER="on")
        db = current_database()
        prepare(db)
        rows = alone_interleaved(db, threads, repeats)
    for row in rows:
        print(f"alone, {row['mode']:8} try {row['attempt'] + 1}: generating {row['generating_tokens_per_s']:.1f} "
              f"tokens/s, training {row['training_tokens_per_s']:.1f} tokens/s")
    return rows


if __name__ == "__main__":
    main()
