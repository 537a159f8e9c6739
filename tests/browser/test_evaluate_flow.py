"""Evaluation in headless Chromium: set up the demo from Home (a job the Evaluate page follows), run its eval set's
first questions on SmolLM2 alone and with retrieval (RAG), read the results table and chart, find the run charted on
History, what Diagnose finds in it, and its score on Home."""

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_demo_eval_runs_on_two_systems_and_shows_its_results(browser, app_url):
    page = browser.new_context().new_page()
    page.goto(app_url)  # Home, on an empty lab, offers the demo
    page.get_by_text("This lab is empty").wait_for()
    assert page.get_by_role("button", name="Deploy").count() == 0  # no Streamlit toolbar for the team
    page.get_by_role("button", name="Set up the demo: Ledgerly's docs v1 and v2").click()
    page.get_by_text(re.compile(r"Setting up Ledgerly's docs v1 and v2 in the background \(job 1\)")).wait_for()
    page.get_by_text(re.compile(r"Job 1 · set up the ledgerly demo")).wait_for(timeout=30_000)  # running now
    page.get_by_role("link", name="Follow job 1").click()
    page.get_by_role("button", name="Cancel").wait_for(timeout=30_000)  # the Evaluate page follows it live
    page.get_by_text("Ledgerly's docs v1 and v2 ready: 8 created").wait_for(timeout=180_000)

    chosen_set = page.get_by_role("combobox", name="Eval set")
    chosen_set.click()
    chosen_set.press_sequentially("ledgerly-v1")  # general-knowledge sorts first; typing filters the list
    page.get_by_role("option", name="ledgerly-v1", exact=True).click()

    systems = page.get_by_role("combobox", name="Systems")
    systems.click()
    systems.press_sequentially("kb=ledgerly-v1")  # the list opens on typing, filtered
    page.get_by_role("option", name="local?kb=ledgerly-v1", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_label("Max new tokens").fill("12")
    page.get_by_role("spinbutton", name="First N questions only").fill("4")  # a quick check: one small batch a system
    page.get_by_role("button", name="Start the run").click()
    page.get_by_text(re.compile(r"Run 1 started")).wait_for(timeout=60_000)

    page.locator(".js-plotly-plot").filter(has_text="Run 1: ledgerly-v1").wait_for(timeout=420_000)
    results = page.locator("table").filter(has_text="keyword_presence").inner_text()
    assert "local:smollm2" in results and "kb=ledgerly-v1" in results and "p99 s (waited)" in results
    assert "'limit': 4" in page.get_by_text("Revision").inner_text()
    for metric in ("rouge_l", "nonllm_context_recall", "recall_at_5"):  # ragas's and the retrieval metrics
        assert metric in results

    page.goto(f"{app_url}/history")
    page.locator(".js-plotly-plot").filter(has_text="token_f1 over time").wait_for(timeout=60_000)
    assert "ledgerly-v1" in page.locator("table").first.inner_text()

    page.goto(f"{app_url}/diagnose")  # the run's retrieval, measured against the labelled source files
    found_or_not = r"(FOUND|not found): Retrieval recall below 70% \(knowledge base ledgerly-v1\)"
    page.get_by_text(re.compile(found_or_not)).wait_for(timeout=60_000)
    assert "(n=4)" in page.get_by_text(re.compile(r"file recall@5: \d")).first.text_content()  # the 4 asked

    page.goto(app_url)
    page.get_by_text("Latest runs").wait_for()
    page.get_by_text("No job is running.").wait_for()
    assert page.get_by_text("This lab is empty").count() == 0
