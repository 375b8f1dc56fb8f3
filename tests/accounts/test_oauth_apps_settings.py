"""Settings → Apps: the apps a person authorized, taking access back, and the one budget an
app's tokens share with everything else the person reads with."""

import pytest
from django.test import Client

from accounts.models import ApiToken, Tier
from accounts.services import token_create
from tests.api.oauth_helpers import approve, authorize_url, bearer, code_from, exchange, register
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return UserFactory(username="dana")


@pytest.fixture
def browser(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


def _login(browser, app, scope="read write") -> str:
    code = code_from(approve(browser, authorize_url(app, scope=scope)))
    return exchange(app, code).json()["access_token"]


def test_apps_page_lists_authorized_apps_with_scopes_and_use(browser):
    """Ensures that Settings → Apps lists each authorized app once with its name, what it may
    do in words, when it was authorized and when it was last used."""
    toot = register(name="toot")
    raw = _login(browser, toot, scope="read write")
    _login(browser, toot, scope="read")  # a second login of the same app: still one row
    bearer(raw).get("/api/v1/accounts/verify_credentials")
    register(name="Never authorized")
    text = browser.get("/accounts/settings/apps/").content.decode()
    assert text.count("<td>toot") == 1 and "Never authorized" not in text
    assert "Post, delete, follow, favourite and boost as you" in text
    assert "never" not in text.split("<td>toot")[1].split("</tr>")[0]


def test_revoking_an_app_stops_all_its_tokens(browser, person):
    """Ensures that "Revoke access" stops every token the app holds for the person, and only
    theirs: another person's login to the same app and the person's personal token go on."""
    app = register(name="Tusky")
    raw_one, raw_two = _login(browser, app), _login(browser, app)
    other = Client()
    other.force_login(UserFactory())
    raw_other = _login(other, app)
    _, personal = token_create(user=person, name="script", scopes=["read"])
    application_id = ApiToken.objects.get(token_hash=ApiToken.hash_secret(raw_one)).application_id
    response = browser.post(f"/accounts/settings/apps/{application_id}/revoke/")
    assert response.status_code == 302
    for raw, status in ((raw_one, 401), (raw_two, 401), (raw_other, 200), (personal, 200)):
        assert bearer(raw).get("/api/v1/accounts/verify_credentials").status_code == status
    assert (
        "You have not authorized any app"
        in browser.get("/accounts/settings/apps/").content.decode()
    )
    assert browser.post(f"/accounts/settings/apps/{application_id}/revoke/").status_code == 404


def test_apps_page_needs_login_and_revoke_needs_post():
    """Ensures that the page is for the logged-in person only, and revoking is a POST."""
    assert Client().get("/accounts/settings/apps/").status_code == 302
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/accounts/settings/apps/1/revoke/").status_code == 405


def test_app_tokens_draw_on_the_persons_one_budget(browser, person):
    """Ensures that a person has one read budget whatever reads: posts read with a personal
    token use it up for their app's token too, and posts already read stay free."""
    Tier.objects.filter(slug=Tier.NEW).update(daily_read_budget=3)
    for _ in range(4):
        PostFactory()
    _, personal = token_create(user=person, name="script", scopes=["read"])
    first = bearer(personal).get("/api/v1/timelines/public?limit=2")
    assert len(first.json()) == 2
    app_client = bearer(_login(browser, register()))
    page = app_client.get("/api/v1/timelines/public?limit=4")
    assert page.status_code == 200 and len(page.json()) == 3  # 2 re-read free + 1 new
    assert page["X-RateLimit-Remaining"] == "0"
    last = page.json()[-1]["id"]
    assert app_client.get(f"/api/v1/timelines/public?max_id={last}").status_code == 429
