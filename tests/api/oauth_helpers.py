"""Raw-HTTP steps of the OAuth flow, shared by the OAuth tests: register, consent, exchange."""

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

OOB = "urn:ietf:wg:oauth:2.0:oob"


def pkce_pair(verifier: str = "v" * 50) -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(redirect_uris=OOB, scopes="read write follow", name="Toot", as_json=True) -> dict:
    """POST /api/v1/apps as a client would; the app's JSON."""
    body = {"client_name": name, "redirect_uris": redirect_uris, "scopes": scopes}
    client = Client()
    if as_json:
        response = client.post("/api/v1/apps", json.dumps(body), content_type="application/json")
    else:
        response = client.post("/api/v1/apps", body)
    assert response.status_code == 200, response.content
    return response.json()


def authorize_url(app: dict, redirect_uri: str = OOB, **params) -> str:
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": redirect_uri,
        "scope": "read write",
        **params,
    }
    return "/oauth/authorize?" + urlencode(query)


def approve(browser: Client, url: str, decision: str = "approve"):
    """The person's answer on the consent page (the test client skips CSRF unless asked)."""
    return browser.post(url, {"decision": decision})


def code_from(response) -> str:
    """The code handed over: from the redirect's query, or from the oob page."""
    if response.status_code == 302:
        return parse_qs(urlsplit(response["Location"]).query)["code"][0]
    assert response.status_code == 200, response.content
    text = response.content.decode()
    start = text.index('class="oauth-code token-secret">') + len('class="oauth-code token-secret">')
    return text[start : text.index("<", start)]


def exchange(app: dict, code: str, redirect_uri: str = OOB, as_json=False, **extra):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        **extra,
    }
    if as_json:
        return Client().post("/oauth/token", json.dumps(body), content_type="application/json")
    return Client().post("/oauth/token", body)


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})
