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
