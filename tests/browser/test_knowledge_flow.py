"""The Knowledge page in headless Chromium: a knowledge base is indexed by a background job while the
page stays usable, its outcome appears without a reload, and its search is reranked by the local language
model and widens hits by their neighbours."""

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "eval_sets" / "demo" / "docs" / "v1"


def test_indexing_runs_in_the_background_and_reports_back(browser, app_url):
    page = browser.new_context().new_page()
    page.goto(f"{app_url}/knowledge")
    page.get_by_label("Name").fill("ledgerly")
    page.get_by_label("Path on this machine").fill(str(DOCS))
    page.get_by_text("Models and limits").click()
    neighbours = page.get_by_role("spinbutton", name="Neighbouring chunks added to each hit")
    neighbours.fill("1")
    neighbours.press("Enter")
    reranker = page.get_by_role("textbox", name="Reranker (optional)")
    reranker.fill("lm:smollm2")
    reranker.press("Enter")
    page.get_by_role("button", name="Create and index").click()
    page.get_by_text(re.compile(r"Indexing ledgerly in the background \(job 1\)")).wait_for(timeout=30_000)
    # shown only once the job succeeded, by the page's live fragment: no reload
    page.get_by_text(re.compile(r"\d+ chunk\(s\) in [\d.]+ s")).wait_for(timeout=120_000)
    # with one neighbour per hit, the pricing page's chunks arrive merged into one passage: the whole file
    query = page.get_by_role("textbox", name="Query")
    query.fill("How much does the Pro plan cost?")
    query.press("Enter")
    page.get_by_text("pricing.md:L1-L34").first.wait_for(timeout=120_000)
    page.get_by_text("Every mode's candidates are reranked by lm:smollm2").wait_for()  # the local model's order
