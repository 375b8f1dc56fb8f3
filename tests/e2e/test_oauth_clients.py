"""Real Mastodon clients log in through OAuth against a live server: the CLI client ``toot``
(its authorize page driven in Chromium) and Mastodon.py's ``log_in`` (authorization code)."""

import os
import re
import subprocess
import sys

import pytest
import requests
from mastodon import Mastodon, MastodonUnauthorizedError

from tests.factories import DEFAULT_PASSWORD, UserFactory

OOB = "urn:ietf:wg:oauth:2.0:oob"


def _toot(args: list[str], env: dict, stdin: str = "") -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter running the toot package
        [sys.executable, "-m", "toot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _approve_in_browser(page, url: str, username: str) -> str:
    """Open the login URL as a person would: log in, read the consent page, authorize, and
    copy the code from the page."""
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_selector("h1:has-text('Authorize toot')")
    assert page.is_visible("text=Post, delete, follow, favourite and boost as you")
    page.click("button[value=approve]")
    return page.inner_text("code.oauth-code").strip()


def test_toot_logs_in_in_the_browser_then_posts_and_reads(page, live_server, tmp_path):
    """Ensures that ``toot login`` (PyPI toot 0.52.1) registers, sends the person to our
    authorize page (logged in and approved in Chromium), exchanges the code, and that the
    token then works for whoami, post, and the home and public timelines."""
    UserFactory(username="tootuser", display_name="Toot User")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "NO_COLOR": "1", "TERM": "dumb"}
    login = subprocess.Popen(  # noqa: S603 - our own interpreter running the toot package
        [sys.executable, "-m", "toot", "login", "--instance", live_server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = ""
    for line in login.stdout:
        if "/oauth/authorize" in line:
            url = line.strip()
            break
    assert url.startswith(live_server.url + "/oauth/authorize/?"), url
    code = _approve_in_browser(page, url, "tootuser")
    output, _ = login.communicate(f"n\n{code}\n", timeout=60)
    assert login.returncode == 0, output
    assert "Successfully logged in" in output

    assert "@tootuser" in _toot(["whoami"], env)
    assert "Toot posted" in _toot(["post", "Hello from toot over OAuth"], env)
    home = _toot(["timelines", "home", "--no-pager", "--no-clear"], env)
    assert "Hello from toot over OAuth" in home
    public = _toot(["timelines", "public", "--no-pager", "--no-clear"], env)
    assert "Hello from toot over OAuth" in public


def _approve_over_http(base: str, url: str, username: str) -> str:
    """A person's browser as plain HTTP: log in with the form's CSRF token, approve on the
    consent page, read the code off the oob page."""
    session = requests.Session()
    login_page = session.get(url)
    assert "/accounts/login/" in login_page.url
    csrf = session.cookies["csrftoken"]
    consent = session.post(
        login_page.url,
        data={
            "csrfmiddlewaretoken": csrf,
            "username": username,
            "password": DEFAULT_PASSWORD,
            "next": url.removeprefix(base),
        },
        headers={"Referer": login_page.url},
    )
    assert "Authorize" in consent.text, consent.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', consent.text).group(1)
    answer = session.post(
        consent.url,
        data={"csrfmiddlewaretoken": token, "decision": "approve"},
        headers={"Referer": consent.url},
    )
    session.close()
    return re.search(r'class="oauth-code token-secret">([^<]+)<', answer.text).group(1)


@pytest.mark.usefixtures("seeded_rows")
def test_mastodon_py_log_in_with_authorization_code(live_server):
    """Ensures that Mastodon.py's create_app, auth_request_url and log_in(code=…) work against
    our OAuth endpoints, and the token it gets posts and reads as the person."""
    UserFactory(username="mpy")
    client_id, client_secret = Mastodon.create_app(
        "Mastodon.py test",
        api_base_url=live_server.url,
        redirect_uris=OOB,
        scopes=["read", "write"],
    )
    api = Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=live_server.url,
        version_check_mode="none",
        ratelimit_method="throw",
    )
    # allow_http: the live test server speaks plain HTTP (Mastodon.py wants https otherwise).
    url = api.auth_request_url(redirect_uris=OOB, scopes=["read", "write"], allow_http=True)
    code = _approve_over_http(live_server.url, url, "mpy")
    token = api.log_in(code=code, redirect_uri=OOB, scopes=["read", "write"], allow_http=True)
    assert token
    assert api.account_verify_credentials().acct == "mpy"
    assert api.app_verify_credentials().name == "Mastodon.py test"
    status = api.status_post("Hello from Mastodon.py over OAuth")
    assert [s.id for s in api.timeline_home()] == [status.id]
    api.revoke_access_token(allow_http=True)
    with pytest.raises(MastodonUnauthorizedError):
        api.account_verify_credentials()
    api.session.close()
