"""Serving local models to the dashboard: the Playground's path against the CLI's.

Measures, for SmolLM2-135M-Instruct (dtype auto, greedy, the same questions):
- **CLI**: `LocalBackend.generate` on this process's main thread, as `python -m core ask local` runs it;
- **Playground, server**: the real app (`streamlit run app.py`, the model server on, as `make app`
  runs it) driven in headless Chromium: type the question, click Ask; tokens/s from the answer the
  app stored (its latency is what the app waited for the server) and from the page (click to
  answer saved);
- **Playground, in the app's thread**: the same with `RAGTUNE_MODEL_SERVER=off`, the path before
  the server (skip with `--skip-in-app`);
- **Playground page, AppTest**: the page's script run by AppTest through the server, no browser (a
  workshop's browsers run on the participants' laptops, not beside the model server);
- **concurrency**: 1 and 4 users at once, both as 4 browser sessions asking together and as 4
  concurrent requests from the app's client (`ServerBackend`); aggregate tokens/s and p50 / p99 time
  to the whole answer.

Prints a table and writes JSON to bench/results/serving.json. Run: `python bench/serving.py`.
Targets (issue 8): Playground-path tokens/s >= 0.9x the CLI's; 4 concurrent requests give
aggregate tokens/s >= 2.5x a single request's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.llm.base import GenerationOptions, Prompt  # noqa: E402
from core.llm.local import LocalBackend  # noqa: E402
from core.llm.spec import parse_spec  # noqa: E402

QUESTIONS = (
    "Explain what a vector database is and when a team needs one.",
    "Why do teams fine-tune language models instead of prompting them?",
    "Describe how HTTP caching works in a web browser.",
    "What makes a code review useful for the author?",
    "Explain the difference between a process and a thread.",
    "How does a hash table handle two keys with the same hash?",
    "What should a good incident postmortem contain?",
    "Why is it hard to estimate software projects?",
)
MAX_NEW_TOKENS = 128  # the Playground's default
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RESULTS = Path(__file__).resolve().parent / "results" / "serving.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(name: str, tokens: int, seconds: float, latencies: list[float], **extra) -> dict:
    return {"path": name, "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds,
            "p50_s": statistics.median(latencies), "p99_s": percentile(latencies, 99), **extra}


def cli_main_thread(questions: tuple[str, ...]) -> dict:
    backend = LocalBackend()
    backend.generate(Prompt.ask("warm up"), GenerationOptions(max_new_tokens=4))
    options = GenerationOptions(max_new_tokens=MAX_NEW_TOKENS)
    answers = [backend.generate(Prompt.ask(q), options) for q in questions]
    seconds = [a.latency_ms / 1000 for a in answers]
    return summary("CLI, main thread", sum(a.output_tokens for a in answers), sum(seconds), seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(data_dir: Path, model_server: str | None) -> Iterator[str]:
    """`streamlit run app.py` on a free port; `model_server` None runs it as `make app` does."""
    env = {**os.environ, "RAGTUNE_DATA_DIR": str(data_dir)}
    env.pop("RAGTUNE_MODEL_SERVER", None)
    if model_server:
        env["RAGTUNE_MODEL_SERVER"] = model_server
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        app.terminate()
        app.wait(30)
        subprocess.run([sys.executable, "-m", "core", "server", "stop"], env=env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@lru_cache(maxsize=None)
def store_engine(data_dir: Path):
    from sqlalchemy import create_engine

    return create_engine(f"sqlite:///{data_dir / 'lab.db'}")


def stored_answers(data_dir: Path, questions: list[str]) -> dict[str, tuple[float, object]]:
    """(when it was saved, the answer) for each of `questions` the app has answered, read from its store."""
    from sqlmodel import Session, col, select

    from core.store.tables import PlaygroundAnswer, PlaygroundQuestion

    with Session(store_engine(data_dir)) as session:
        rows = session.exec(select(PlaygroundQuestion, PlaygroundAnswer)
                            .where(PlaygroundAnswer.question_id == PlaygroundQuestion.id)
                            .where(col(PlaygroundQuestion.question).in_(questions))).all()
    return {q.question: (q.asked_at.replace(tzinfo=timezone.utc).timestamp(), a) for q, a in rows}


def open_playground(browser, url: str):
    page = browser.new_context().new_page()
    page.goto(f"{url}/playground")
    page.get_by_label("Question").wait_for(timeout=60_000)
    return page


def ask_together(pages, data_dir: Path, questions: list[str]) -> list[tuple[float, object]]:
    """Every page asks its question at once; (seconds from its click to its saved answer, answer) each.
    The store is read every 0.2 s (cheap: the bench must not take CPU from what it measures)."""
    for page, question in zip(pages, questions):
        page.get_by_label("Question").fill(question)
    clicked = {}
    for page, question in zip(pages, questions):
        clicked[question] = time.time()
        page.get_by_role("button", name="Ask").click(no_wait_after=True)
    while len(saved := stored_answers(data_dir, questions)) < len(questions):
        time.sleep(0.2)
    for page, question in zip(pages, questions):  # the page has drawn its answer and history
        page.get_by_text(question.split(")")[0] + ")").first.wait_for(timeout=60_000)
    return [(saved[q][0] - clicked[q], saved[q][1]) for q in questions]


def playground(browser, url: str, data_dir: Path, name: str, users: int, rounds: int, tag: str) -> dict:
    pages = [open_playground(browser, url) for _ in range(users)]
    ask_together(pages[:1], data_dir, [f"({tag} warm-up) Say hi."])  # loads the model
    results, wall = [], 0.0
    for r in range(rounds):
        questions = [f"({tag} {r}.{u}) {QUESTIONS[(r * users + u) % len(QUESTIONS)]}" for u in range(users)]
        answered = ask_together(pages, data_dir, questions)
        wall += max(seconds for seconds, _ in answered)  # from the first click to the last answer, about
        results += answered
    for page in pages:
        page.context.close()
    return playground_summary(name, users, wall, results)


def playground_summary(name: str, users: int, wall: float, results: list[tuple[float, object]]) -> dict:
    answers = [answer for _, answer in results]
    if any(a.error for a in answers):
        raise RuntimeError(f"{name}: {[a.error for a in answers if a.error][0]}")
    tokens = sum(a.output_tokens for a in answers)
    stored = {"stored_tokens_per_s": tokens / sum(a.latency_ms / 1000 for a in answers)} if users == 1 else {}
    return summary(name, tokens, wall, [seconds for seconds, _ in results], users=users, **stored)


def playground_apptest(data_dir: Path, rounds: int) -> dict:
    """The Playground page run by AppTest in this process (no browser), through the model server."""
    from streamlit.testing.v1 import AppTest

    os.environ.update(RAGTUNE_DATA_DIR=str(data_dir), RAGTUNE_MODEL_SERVER="on")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/playground.py").run()
    results = []
    for r in range(-1, rounds):  # -1: warm-up, loads the model
        question = f"(a {r}) {QUESTIONS[r % len(QUESTIONS)]}"
        at.text_area(key="playground_question").input(question)
        started = time.perf_counter()
        at.button[0].click().run()
        seconds = time.perf_counter() - started
        if r >= 0:
            results.append((seconds, stored_answers(data_dir, [question])[question][1]))
    return playground_summary("Playground page, AppTest (no browser)", 1, sum(s for s, _ in results), results)


def server_concurrency(url: str, users: int, rounds: int) -> dict:
    from core.serving.client import ServerBackend

    backend = ServerBackend(url, parse_spec("local"))
    options = GenerationOptions(max_new_tokens=MAX_NEW_TOKENS)
    backend.generate(Prompt.ask("warm up"), GenerationOptions(max_new_tokens=4))
    answers, started = [], time.perf_counter()
    for r in range(rounds):
        prompts = [Prompt.ask(QUESTIONS[(r * users + u) % len(QUESTIONS)]) for u in range(users)]
        with ThreadPoolExecutor(users) as pool:
            answers += list(pool.map(lambda p: backend.generate(p, options), prompts))
    wall = time.perf_counter() - started
    return summary(f"server, {users} concurrent request(s)", sum(a.output_tokens for a in answers), wall,
                   [a.latency_ms / 1000 for a in answers], users=users)


@contextmanager
def model_server(data_dir: Path) -> Iterator[str]:
    os.environ["RAGTUNE_DATA_DIR"] = str(data_dir)
    from core.serving.lifecycle import start_server, stop_server

    record = start_server()
    try:
        yield record.url
    finally:
        stop_server()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="questions per user per path")
    parser.add_argument("--skip-in-app", action="store_true", help="skip the slow in-app-thread path")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = [cli_main_thread(QUESTIONS[:args.rounds])]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        with running_app(Path(tmp) / "app", None) as url:
            for users in (1, 4):
                rows.append(playground(browser, url, Path(tmp) / "app", f"Playground, server, {users} user(s)",
                                       users, args.rounds, f"s{users}"))
        if not args.skip_in_app:
            with running_app(Path(tmp) / "in-app", "off") as url:
                rows.append(playground(browser, url, Path(tmp) / "in-app", "Playground, in the app's thread", 1,
                                       max(1, args.rounds // 2), "t"))
        browser.close()
        with model_server(Path(tmp) / "server") as url:
            rows += [server_concurrency(url, users, args.rounds) for users in (1, 4)]
            rows.append(playground_apptest(Path(tmp) / "server", args.rounds))
    report(rows)


def report(rows: list[dict]) -> None:
    by_path = {row["path"]: row for row in rows}
    cli = by_path["CLI, main thread"]["tokens_per_s"]
    app_one = by_path["Playground, server, 1 user(s)"]
    ratios = {
        "playground_stored_vs_cli": app_one["stored_tokens_per_s"] / cli,
        "playground_page_vs_cli": app_one["tokens_per_s"] / cli,
        "playground_apptest_stored_vs_cli": by_path["Playground page, AppTest (no browser)"]["stored_tokens_per_s"] / cli,
        "server_4_vs_1": by_path["server, 4 concurrent request(s)"]["tokens_per_s"]
        / by_path["server, 1 concurrent request(s)"]["tokens_per_s"],
        "playground_4_users_vs_1": by_path["Playground, server, 4 user(s)"]["tokens_per_s"] / app_one["tokens_per_s"],
    }
    if "Playground, in the app's thread" in by_path:
        ratios["in_app_thread_stored_vs_cli"] = by_path["Playground, in the app's thread"]["stored_tokens_per_s"] / cli
    print(f"{'path':42} {'tokens':>6} {'tok/s':>7} {'stored tok/s':>12} {'p50 s':>6} {'p99 s':>6}")
    for row in rows:
        stored = f"{row['stored_tokens_per_s']:.1f}" if "stored_tokens_per_s" in row else "-"
        print(f"{row['path']:42} {row['tokens']:>6} {row['tokens_per_s']:>7.1f} {stored:>12} "
              f"{row['p50_s']:>6.2f} {row['p99_s']:>6.2f}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
        "cpus": os.cpu_count(), "max_new_tokens": MAX_NEW_TOKENS, "rows": rows, "ratios": ratios}, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
