"""A real workshop in headless Chromium: a facilitator opens a session, two
participants answer in their own browsers, both see the room's verdict."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


@pytest.fixture
def app_url(data_dir, tmp_path):
    port = free_port()
    env = {**os.environ, "RAGTUNE_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def answer(page, question: str, choice: str) -> None:
    group = page.get_by_role("radiogroup", name=re.compile(re.escape(question)))
    group.get_by_text(choice, exact=True).click()
    page.wait_for_timeout(300)  # let the rerun that saves the answer start


def join(browser, url: str, name: str):
    page = browser.new_context().new_page()
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your name").press("Enter")
    page.get_by_text("Enter your name to answer").wait_for(state="detached")
    return page


def test_two_participants_reach_a_verdict(browser, app_url):
    facilitator = browser.new_context().new_page()
    facilitator.goto(f"{app_url}/decide")  # a deep link on a fresh server still gets the router
    facilitator.get_by_text("Database:").wait_for()
    facilitator.get_by_role("button", name="New session").click()
    facilitator.get_by_label("Session name").fill("Support bot, Q3")
    facilitator.get_by_role("button", name="Create session").click()
    facilitator.wait_for_url(re.compile(r"session=1"))
    session_url = facilitator.url

    ana = join(browser, session_url, "Ana")
    bo = join(browser, session_url, "Bo")
    for page in (ana, bo):
        page.get_by_role("tab", name="Nine-question checklist").click()
        answer(page, "1. Does your knowledge base change", "No")
        answer(page, "2. Must every answer be traceable", "Yes")

    # Ana's page is not reloaded: the verdict panel refreshes itself with Bo's answers.
    for page in (ana, bo):
        page.get_by_text("2 participant(s)").wait_for(timeout=20_000)
        assert page.get_by_text("Verdict: RAG only").is_visible()
    bo.reload()
    bo.get_by_role("tab", name="Nine-question checklist").click()
    bo.get_by_text(re.compile(r"Room: Yes: Ana, Bo")).wait_for(timeout=20_000)
