"""OIDC sign-in in headless Chromium, against a mock OIDC provider on 127.0.0.1: a visitor sees only the
provider's button; a first-time user signs in at the provider and is a viewer who cannot launch training;
an admin raises them to admin, then disables them, and they are refused until they sign out."""

import threading

import pytest
import werkzeug.serving
from oidc_provider_mock import app as oidc_provider_app

from core.access import LOCAL_ADMIN, Role
from core.access.users import set_disabled, set_role
from tests.browser.conftest import cannot_launch_training_as_a_viewer

pytestmark = pytest.mark.browser

EMAIL = "nia@example.com"


@pytest.fixture
def provider_url(monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on 127.0.0.1, for the provider and the app
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def streamlit_options(provider_url, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "browser-test-cookie-secret-0123456789"
client_id = "ragtune-lab"
client_secret = "browser-test-client-secret"
server_metadata_url = "{provider_url}/.well-known/openid-configuration"
""")
    return ["--secrets.files", str(secrets)]


@pytest.fixture
def oidc_app(monkeypatch, request):
    monkeypatch.setenv("RAGTUNE_AUTH", "oidc")
    return request.getfixturevalue("app_url")


def test_a_first_time_user_signs_in_as_a_viewer_is_raised_to_admin_and_refused_once_disabled(browser, db, dataset,
                                                                                           provider_url, oidc_app):
    page = browser.new_context().new_page()
    page.goto(f"{oidc_app}/finetune")
    sign_in_button = page.get_by_role("button", name=f"Sign in with {provider_url.removeprefix('http://')}")
    sign_in_button.wait_for(timeout=90_000)
    assert page.get_by_text("Fine-tune a LoRA adapter").count() == 0  # no page before signing in
    assert page.get_by_label("Password").count() == 0

    sign_in_button.click()
    page.get_by_placeholder("sub").fill(EMAIL)  # the provider's form: who to sign in as
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text(f"Signed in as {EMAIL} (viewer)").wait_for(timeout=90_000)
    cannot_launch_training_as_a_viewer(page, oidc_app)

    set_role(db, LOCAL_ADMIN, EMAIL, Role.ADMIN)
    page.reload()  # Streamlit's cookie keeps the sign-in; the store gives the new role
    page.get_by_text(f"Signed in as {EMAIL} (admin)").wait_for(timeout=90_000)

    set_disabled(db, LOCAL_ADMIN, EMAIL)
    page.reload()
    page.get_by_text(f"The user {EMAIL} is disabled").wait_for(timeout=90_000)
    assert page.get_by_text("Fine-tune a LoRA adapter").count() == 0
    page.get_by_role("button", name="Sign out").click()  # st.logout ends the provider's session too
    page.get_by_role("button", name="End session").click()
    sign_in_button.wait_for(timeout=90_000)
