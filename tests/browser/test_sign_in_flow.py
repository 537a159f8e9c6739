"""Password sign-in in headless Chromium: a visitor sees only the form; a viewer signs in, stays signed in
across a reload (the signed cookie), sees the Fine-tune page but cannot launch training, and signs out."""

import pytest

from core.access import LOCAL_ADMIN, Role
from core.access.users import add_user
from tests.browser.conftest import PASSWORD, cannot_launch_training_as_a_viewer, sign_in

pytestmark = pytest.mark.browser


def test_a_viewer_signs_in_stays_signed_in_and_cannot_launch_training(browser, db, dataset, password_app):
    add_user(db, LOCAL_ADMIN, "vi@example.com", Role.VIEWER, PASSWORD)
    page = browser.new_context().new_page()
    page.goto(f"{password_app}/finetune")
    page.get_by_text("Sign in to RAG-or-Tune Lab").wait_for()
    assert page.get_by_text("Fine-tune a LoRA adapter").count() == 0  # no page before signing in

    sign_in(page, "vi@example.com")
    page.get_by_text("Signed in as vi@example.com (viewer)").wait_for()
    page.wait_for_function("document.cookie.includes('ragtune_sign_in=')")  # the page set the signed cookie
    page.reload()  # the signed cookie keeps the sign-in
    page.get_by_text("Signed in as vi@example.com (viewer)").wait_for(timeout=90_000)

    cannot_launch_training_as_a_viewer(page, password_app)

    page.goto(password_app)  # Home (signing out on the busy Fine-tune page timed out twice in full runs: issue 20)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Sign in to RAG-or-Tune Lab").wait_for(timeout=90_000)
    page.wait_for_function("!document.cookie.includes('ragtune_sign_in=')")
    page.reload()
    page.get_by_text("Sign in to RAG-or-Tune Lab").wait_for(timeout=90_000)  # the cookie went with the sign-out
