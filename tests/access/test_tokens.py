"""Sign-in tokens: signed, expiring, bound to the secret that issued them."""

import pytest

from core.access.tokens import issue, valid_secret, verified_email
from core.errors import InvalidInputError

SECRET = "k" * 40


def test_a_token_names_its_user_until_it_expires():
    token = issue("ana@example.com", SECRET, lifetime_s=60, now=1000)
    assert verified_email(token, SECRET, now=1059) == "ana@example.com"
    assert verified_email(token, SECRET, now=1060) is None


@pytest.mark.parametrize("tamper", [
    lambda token: token.replace(token.split("|")[1], "9999999999"),  # a later expiry
    lambda token: issue("bo@example.com", SECRET, 60, now=1000).split("|")[0] + token[token.index("|"):],  # bo's
    lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # the signature
    lambda token: "garbage",
    lambda token: "",
])
def test_a_changed_token_names_nobody(tamper):
    token = issue("ana@example.com", SECRET, lifetime_s=60, now=1000)
    assert verified_email(tamper(token), SECRET, now=1001) is None


def test_a_token_from_another_secret_names_nobody_and_a_short_secret_is_refused():
    assert verified_email(issue("ana@example.com", "x" * 40, 60, now=1000), SECRET, now=1001) is None
    with pytest.raises(InvalidInputError, match="RAGTUNE_AUTH_SECRET"):
        valid_secret("short")
