"""The Playground in headless Chromium: SmolLM2 answers through the model server
the app starts, generating on the server's main thread."""

import pytest

from core.playground import list_history
from core.serving.lifecycle import health, running_server
from core.store import current_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_playground_answers_through_the_model_server(browser, app_url):
    page = browser.new_context().new_page()
    page.goto(f"{app_url}/playground")
    page.get_by_label("Question").fill("What is the capital of France? Answer in one word.")
    page.get_by_role("button", name="Ask").click()
    page.get_by_text("local:SmolLM2-135M-Instruct ·").first.wait_for(timeout=180_000)

    stats = health(running_server().url)["stats"]
    assert stats["requests"] == 1 and stats["compute_thread"] == "MainThread"
    answer = list_history(current_database())[0].answers[0]
    assert "Paris" in answer.text and answer.output_tokens > 0
