"""Expiring, signed sign-in tokens: what keeps a password sign-in across page reloads.

A token is `EMAIL|EXPIRES|SIGNATURE`, the signature an HMAC-SHA256 of the rest under the operator's
secret. It says who signed in and until when; it is checked against the store on every use, so a user
disabled or whose role changed is refused or demoted at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Optional

from core.errors import InvalidInputError

SECRET_ENV = "RAGTUNE_AUTH_SECRET"
MIN_SECRET_LENGTH = 32


def issue(email: str, secret: str, lifetime_s: float, now: Optional[float] = None) -> str:
    expires = int((time.time() if now is None else now) + lifetime_s)
    payload = f"{base64.urlsafe_b64encode(email.encode()).decode()}|{expires}"
    return f"{payload}|{_signature(payload, secret)}"


def verified_email(token: str, secret: str, now: Optional[float] = None) -> Optional[str]:
    """The email a token was issued for, if its signature holds and it has not expired; else None."""
    parts = token.split("|")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}|{parts[1]}"
    if not hmac.compare_digest(parts[2], _signature(payload, secret)):
        return None
    if int(parts[1]) <= (time.time() if now is None else now):
        return None
    try:
        return base64.urlsafe_b64decode(parts[0].encode()).decode()
    except ValueError:
        return None


def valid_secret(secret: Optional[str]) -> str:
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInputError(f"Password sign-in needs a secret of at least {MIN_SECRET_LENGTH} characters to sign "
                                f"its tokens: set {SECRET_ENV} (e.g. to the output of `openssl rand -hex 32`).")
    return secret


def _signature(payload: str, secret: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
