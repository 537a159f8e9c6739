"""Page tests: the app under AppTest, and the tiny model for pages that ask it."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.tiny_model import fresh_model_cache, tiny_model_dir  # noqa: F401  (fixtures)

APP_PATH = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app():
    """The app, run once on its home page (switch_page needs a first run)."""
    return AppTest.from_file(APP_PATH, default_timeout=60).run()
