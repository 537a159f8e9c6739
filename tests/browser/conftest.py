"""The running app and a headless Chromium, for the browser tests."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from core.serving.lifecycle import stop_server

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
def streamlit_options() -> list[str]:
    """More `streamlit run` options; a test overrides this fixture, e.g. to read its own secrets.toml."""
    return []


@pytest.fixture
def app_url(data_dir, tmp_path, streamlit_options):
    port = free_port()
    # As `make app` runs it: app.py turns the model server on (the test suite's default is off).
    env = {**os.environ, "RAGTUNE_DATA_DIR": str(data_dir)}
    env.pop("RAGTUNE_MODEL_SERVER", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         *streamlit_options],
        cwd=ROOT, env=env, stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        stop_server()  # the model server the app started, if it did


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


PASSWORD = "correct horse battery"


@pytest.fixture
def password_app(monkeypatch, request):
    """The app with RAGTUNE_AUTH=password."""
    monkeypatch.setenv("RAGTUNE_AUTH", "password")
    monkeypatch.setenv("RAGTUNE_AUTH_SECRET", "browser-test-secret-" * 3)
    return request.getfixturevalue("app_url")


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form the page shows."""
    page.get_by_text("Sign in to RAG-or-Tune Lab").wait_for(timeout=90_000)
    page.get_by_label("Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def cannot_launch_training_as_a_viewer(page: playwright.Page, app: str) -> None:
    page.goto(f"{app}/finetune")
    page.get_by_text("Launching training needs the admin role; you are a viewer.").wait_for(timeout=90_000)
    assert page.get_by_role("button", name="Launch training").is_disabled()
