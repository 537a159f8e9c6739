"""The review queue in headless Chromium, with password sign-in: a reviewer finds their queue on Home,
labels its answers blind on the Review page, and the labels are kept under their own name."""

import pytest
from playwright.sync_api import expect

from core.access import LOCAL_ADMIN, Role
from core.access.users import add_user
from core.evaluation.labels import run_labels
from core.evaluation.review import open_review
from tests.browser.conftest import PASSWORD, sign_in
from tests.history.runs_fixtures import eval_set, stored_systems_run

pytestmark = pytest.mark.browser


def test_a_reviewer_labels_the_answers_in_their_queue(browser, db, password_app):
    add_user(db, LOCAL_ADMIN, "rev@example.com", Role.REVIEWER, PASSWORD)
    eval_set(db, "support", 1)
    run = stored_systems_run(db, "support", {"local": {"token_f1": [0.2]}, "local?kb=docs": {"token_f1": [0.8]}})
    open_review(db, run.id, ["rev@example.com"], actor=LOCAL_ADMIN)

    page = browser.new_context().new_page()
    page.goto(password_app)
    sign_in(page, "rev@example.com")
    page.get_by_text(f"Run {run.id} · support · 0 of 2 labelled").wait_for(timeout=90_000)
    page.get_by_role("link", name="Label the answers in my queue").click()
    page.get_by_text("0 of 2 labelled").wait_for(timeout=90_000)
    assert page.get_by_text("local?kb=docs").count() == 0  # blind: no system names
    for grade, done in (("correct", "1 of 2 labelled"), ("wrong", "2 of 2 labelled")):
        grades = page.get_by_role("radiogroup", name="Grade")
        expect(grades).to_have_count(1)  # the last answer's, still on the page while the next one renders, went
        grades.get_by_text(grade, exact=True).click()
        page.get_by_role("button", name="Save and next").click()
        page.get_by_text(done).wait_for(timeout=90_000)
    assert sorted((label.reviewer, label.label) for label in run_labels(db, run.id)) == [
        ("rev@example.com", "correct"), ("rev@example.com", "wrong")]
