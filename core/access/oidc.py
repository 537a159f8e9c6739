"""Which OIDC providers `.streamlit/secrets.toml` configures for RAGTUNE_AUTH=oidc, checked before the first
sign-in so a missing key is named here rather than in a traceback from st.login.

Streamlit's st.login reads the `[auth]` section: `redirect_uri` and `cookie_secret`, then the client of one
provider in `[auth]` itself (st.login's default) or of each provider in its own `[auth.NAME]` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

from core.errors import InvalidInputError

SHARED_KEYS = ("redirect_uri", "cookie_secret")
CLIENT_KEYS = ("client_id", "client_secret", "server_metadata_url")
EXAMPLE = ('[auth]\nredirect_uri = "http://HOST:PORT/oauth2callback"\ncookie_secret = "..."\nclient_id = "..."\n'
           'client_secret = "..."\nserver_metadata_url = "https://.../.well-known/openid-configuration"')


@dataclass(frozen=True)
class Provider:
    name: Optional[str]  # what st.login is called with; None for the client in `[auth]` itself
    label: str  # what the sign-in button names


def configured_providers(auth: Optional[Mapping[str, Any]]) -> list[Provider]:
    """The providers the `[auth]` section configures; an error naming what is missing when it is incomplete."""
    if not auth:
        raise InvalidInputError("RAGTUNE_AUTH=oidc signs users in through an OIDC provider configured in "
                                f".streamlit/secrets.toml, which has no [auth] section; add one:\n\n{EXAMPLE}")
    _require(auth, SHARED_KEYS, "[auth]")
    clients = {name: client for name, client in auth.items() if isinstance(client, Mapping) and "client_id" in client}
    if "client_id" in auth:
        clients[None] = auth
    if not clients:
        raise InvalidInputError(f"The [auth] section of .streamlit/secrets.toml names no OIDC client: add "
                                f"{', '.join(CLIENT_KEYS)} to it (or to an [auth.NAME] table per provider).")
    for name, client in clients.items():
        if name and "_" in name:  # st.login refuses them
            raise InvalidInputError(f"[auth.{name}] in .streamlit/secrets.toml: a provider's name cannot hold '_'.")
        _require(client, CLIENT_KEYS, f"[auth.{name}]" if name else "[auth]")
    return [Provider(name, name.capitalize() if name else _host(client["server_metadata_url"]))
            for name, client in clients.items()]


def _require(section: Mapping[str, Any], keys: tuple[str, ...], title: str) -> None:
    missing = [key for key in keys if not section.get(key)]
    if missing:
        raise InvalidInputError(f"The {title} section of .streamlit/secrets.toml needs {', '.join(missing)} "
                                "for sign-in through an OIDC provider.")


def _host(url: str) -> str:
    return urlparse(url).netloc or url
