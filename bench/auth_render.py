"""Page renders with password sign-in on against sign-in off: what checking the signed-in user costs.

A store with a decision session, a finished run and a user; Home and History rendered under AppTest as a
browser session gets them, each `--repeats` times after one warm-up, with RAGTUNE_AUTH=off and with
RAGTUNE_AUTH=password for a signed-in reviewer (every run re-reads the user from the store). The two
modes alternate, so drift of the machine falls on both.

Prints a table and writes JSON to bench/results/auth_render.json. Target (issue 20): a render with
password sign-in within 1.1x of one with sign-in off.
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

PAGES = ("pages/home.py", "pages/history.py")
EMAIL, PASSWORD = "reviewer@example.com", "bench password 123"


def fill_store() -> None:
    from core.access import LOCAL_ADMIN, Role
    from core.access.users import add_user
    from core.checklist.sessions import create_session, record_answer
    from core.store import current_database
    from tests.history.runs_fixtures import eval_set, stored_run

    db = current_database()
    add_user(db, LOCAL_ADMIN, EMAIL, Role.REVIEWER, PASSWORD)
    session = create_session(db, "Support bot", actor=LOCAL_ADMIN)
    record_answer(db, session.id, "Ana", "checklist.changes_monthly", "yes", LOCAL_ADMIN)
    stored_run(db, eval_set(db, questions=50), {"token_f1": [n % 10 / 10 for n in range(50)]})


def render_seconds(page: str, auth: str) -> float:
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import APP_PATH
    from ui.auth import EMAIL_KEY

    os.environ["RAGTUNE_AUTH"] = auth
    at = AppTest.from_file(APP_PATH, default_timeout=120)
    if auth == "password":
        at.session_state[EMAIL_KEY] = EMAIL  # signed in: each run checks the user against the store
    started = time.perf_counter()
    at.run()
    at.switch_page(page).run()
    elapsed = time.perf_counter() - started
    if at.exception or not at.title or at.title[0].value.startswith("Sign in"):
        raise RuntimeError(f"{page} with RAGTUNE_AUTH={auth} did not render: {at.exception or at.title}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"RAGTUNE_DATA_DIR": tmp, "RAGTUNE_MODEL_SERVER": "off",
                           "RAGTUNE_AUTH_SECRET": "bench-secret-" * 4})
        fill_store()
        for page in PAGES:
            timings: dict[str, list[float]] = {"off": [], "password": []}
            for auth in timings:  # warm-up: imports and caches
                render_seconds(page, auth)
            for _ in range(args.repeats):
                for auth in timings:
                    timings[auth].append(render_seconds(page, auth))
            off, password = (statistics.median(timings[auth]) for auth in ("off", "password"))
            rows.append({"page": page, "off_s": off, "password_s": password, "ratio": password / off,
                         "repeats": args.repeats})
    print(f"{'page':<20} {'sign-in off s':>13} {'password s':>10} {'ratio':>6}")
    for row in rows:
        print(f"{row['page']:<20} {row['off_s']:>13.3f} {row['password_s']:>10.3f} {row['ratio']:>5.2f}x")
    write_results("auth_render", rows=rows)


if __name__ == "__main__":
    main()
