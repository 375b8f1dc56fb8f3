"""OAuth apps in the review: the access log names the app behind each token, the review
shows reading per app, a detector flags an app whose accounts read like scrapers together,
and a reviewer suspends an app (its tokens stop; the admin action log records it)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from access.detectors import APP_SCRAPING, detect_bulk_access
from access.models import Flag
from accounts.models import OAuthApplication
from accounts.services import token_create
from core.models import AdminActionLog
from tests.access.review_helpers import T0, every, log_entry
from tests.access.test_access_log import stored
from tests.access.test_review import make_reviewer
from tests.api.oauth_helpers import approve, authorize_url, bearer, code_from, exchange, register
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def _app_token(user, app: dict) -> str:
    browser = Client()
    browser.force_login(user)
    code = code_from(approve(browser, authorize_url(app, scope="read")))
    return exchange(app, code).json()["access_token"]


def test_access_log_records_the_app_of_each_token(gate_ledger, noon):
    """Ensures that a read with an app's token is recorded with the app's id, on either
    ledger (the Redis one carries it through its stream), and a personal token's with none."""
    user = UserFactory()
    PostFactory(author=user)
    app = register(name="Ivory")
    application = OAuthApplication.objects.get(client_id=app["client_id"])
    assert bearer(_app_token(user, app)).get("/api/v1/timelines/public").status_code == 200
    _, personal = token_create(user=user, name="script", scopes=["read"])
    assert bearer(personal).get("/api/v1/timelines/public").status_code == 200
    app_row, personal_row = stored(gate_ledger)
    assert app_row.application_id == application.pk and app_row.user_id == user.pk
    assert personal_row.application_id is None and personal_row.token_id is not None


def _app_farm(application_id: int, *, accounts: int, posts_each: int) -> list:
    """``accounts`` accounts reading through one app within half an hour, from many IPs."""
    users = [UserFactory() for _ in range(accounts)]
    for n, user in enumerate(users):
        for at in every(60, posts_each // 20, start=T0 + timedelta(seconds=n)):
            log_entry(
                at=at,
                user=user,
                ip=f"198.51.{n}.7",
                route_name="api:timeline_public",
                path="/api/v1/timelines/public",
                application_id=application_id,
                token_id=1000 + n,
            )
    return users


def test_detector_flags_an_app_whose_accounts_read_like_scrapers_together():
    """Ensures that five accounts each reading 200 posts within an hour through one app raise
    one flag on the app, although each account is under every per-account rule and behind
    its own network; four such accounts, or five light readers, do not."""
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        _app_farm(1, accounts=5, posts_each=200)
        _app_farm(2, accounts=4, posts_each=200)
        _app_farm(3, accounts=5, posts_each=100)
        detect_bulk_access()
    flag = Flag.objects.get(rule=APP_SCRAPING)
    assert flag.principal == "app:1"
    assert flag.evidence["figures"]["accounts"] == 5
    assert flag.evidence["figures"]["posts_delivered"] == 1000


def test_review_shows_reading_per_app_and_suspends_it():
    """Ensures that the review's Apps page shows each app's accounts, posts and refusals, and
    that suspending an app there stops its tokens and writes the admin action log."""
    reviewer = make_reviewer()
    reader = UserFactory()
    PostFactory()
    app = register(name="Scrapey")
    raw = _app_token(reader, app)
    assert bearer(raw).get("/api/v1/timelines/public").status_code == 200
    stored()  # with Redis configured, records reach the table when the stream is drained
    application = OAuthApplication.objects.get(client_id=app["client_id"])
    staff = Client()
    staff.force_login(reviewer)
    page = staff.get(reverse("admin:access_review:apps"))
    text = page.content.decode()
    assert page.status_code == 200 and "Scrapey" in text and "<td>1</td>" in text
    url = reverse("admin:access_review:app_act", args=[application.pk])
    assert staff.post(url, {"action": "suspend", "reason": ""}).status_code == 302
    suspended = AdminActionLog.objects.filter(action=AdminActionLog.Action.APP_SUSPEND)
    assert not suspended.exists()  # reason required
    response = staff.post(url, {"action": "suspend", "reason": "reads for 400 accounts"})
    assert response.status_code == 302
    assert bearer(raw).get("/api/v1/timelines/public").status_code == 401
    entry = AdminActionLog.objects.get(action=AdminActionLog.Action.APP_SUSPEND)
    assert (entry.actor, entry.reason) == (reviewer, "reads for 400 accounts")
    assert entry.target_object_id == str(application.pk)


def test_apps_review_needs_the_review_permission():
    """Ensures that staff without the review permission get 403 on the Apps page and its
    action, and nothing is suspended."""
    app = register()
    application = OAuthApplication.objects.get(client_id=app["client_id"])
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get(reverse("admin:access_review:apps")).status_code == 403
    url = reverse("admin:access_review:app_act", args=[application.pk])
    assert staff.post(url, {"action": "suspend", "reason": "x"}).status_code == 403
    application.refresh_from_db()
    assert application.suspended_at is None
