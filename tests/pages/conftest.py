"""Page tests drive the app under AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP_PATH = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app():
    """The app, run once on its home page (switch_page needs a first run)."""
    return AppTest.from_file(APP_PATH, default_timeout=60).run()


def open_page(page: str, timeout: float = 120) -> AppTest:
    """The app switched to `page` (e.g. "pages/evaluate.py"), as a deep link would open it."""
    at = AppTest.from_file(APP_PATH, default_timeout=timeout)
    at.run()
    at.switch_page(page).run()
    return at


PASSWORD = "correct horse battery"


@pytest.fixture
def password_auth(monkeypatch):
    monkeypatch.setenv("RAGTUNE_AUTH", "password")
    monkeypatch.setenv("RAGTUNE_AUTH_SECRET", "s" * 40)


def signed_in(email: str, password: str = PASSWORD) -> AppTest:
    """The app after `email` signed in with the form (RAGTUNE_AUTH=password: the `password_auth` fixture)."""
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    at.text_input[0].input(email)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at
