"""Fine-tuning in headless Chromium: launch a short real job (on the tiny model, typed in as the base: the page
is under test here, SmolLM2's training in tests/jobs/test_smollm2_training.py), watch its curve appear, close the
page, open it again and find the job still there."""

import re

import pytest
from playwright.sync_api import expect

from core.jobs import queue, scheduler
from core.store import current_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stop_jobs_after():
    yield
    db = current_database()
    for job in queue.list_jobs(db, statuses=[queue.RUNNING]):
        scheduler.cancel(db, job.id)


def test_a_job_survives_closing_the_page(browser, app_url, stop_jobs_after, tiny_model_dir):
    page = browser.new_context().new_page()
    page.goto(f"{app_url}/finetune")
    page.get_by_role("button", name="Add the house-style sample").click()
    page.get_by_text("Added house-style").wait_for(timeout=120_000)
    for label, value in (("Base model", str(tiny_model_dir)), ("Max steps (0: use epochs)", "4"),
                         ("Validate every N steps", "2")):
        field = page.get_by_label(label).and_(page.locator("input"))  # not the field's help icon
        expect(field).to_have_count(1)  # a rerun can show the old field beside the new one for a moment
        field.fill(value)
        field.press("Enter")
    page.get_by_text("About 4 steps").wait_for(timeout=30_000)  # the estimate follows the form
    page.get_by_role("button", name="Launch training").click()
    page.get_by_text(re.compile(r"Job 1 (running|queued)")).wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").filter(has_text="Job 1: loss").wait_for(timeout=240_000)
    page.context.close()

    reopened = browser.new_context().new_page()
    reopened.goto(f"{app_url}/finetune")
    reopened.get_by_text(re.compile(r"Job 1 · train house-style-lora on house-style .* · (running|succeeded)")) \
        .wait_for(timeout=60_000)
    reopened.get_by_text("Adapter house-style-lora is ready").wait_for(timeout=300_000)
