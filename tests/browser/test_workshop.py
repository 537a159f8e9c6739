"""A real workshop in headless Chromium: a facilitator opens a session, two
participants answer in their own browsers, both see the room's verdict."""

import re

import pytest

pytestmark = pytest.mark.browser


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
