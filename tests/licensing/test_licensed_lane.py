"""The licensed lane: data plans, the bulk endpoint, its monthly quota and signed receipts."""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from nacl.signing import VerifyKey
from rest_framework.test import APIClient

from access.access_log_drain import access_log_drain
from access.models import AccessLogEntry, DeliveryProvenance
from accounts.ai_training import user_ai_training_set
from accounts.services import token_create
from licensing.billing import licence_end
from licensing.models import Licence
from licensing.quota import quota_ledger_get
from licensing.receipts import b64url_decode
from tests.api.conftest import assert_schema
from tests.factories import PostFactory, UserFactory
from tests.licensing.conftest import make_licensee

pytestmark = pytest.mark.django_db

URL = "/api/v1/licensed/statuses"
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


def _authors():
    """One author who allows training, one who refuses, one who left it to the default (no)."""
    return (
        UserFactory(username="yes", ai_training_allowed=True),
        UserFactory(username="no", ai_training_allowed=False),
        UserFactory(username="undecided"),
    )


def test_buying_a_plan_and_making_a_token_on_the_web():
    """Ensures that a person buys a data plan through the TEST MODE checkout, creates a token
    for the licence and sees it once, and the page shows the quota."""
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/licensing/")
    assert page.status_code == 200
    assert "10,000" in page.content.decode() and "1,000,000" in page.content.decode()
    checkout = client.post("/licensing/buy/basic/")
    assert checkout.status_code == 302
    assert client.get(checkout["Location"]).status_code == 200
    paid = client.post(checkout["Location"], {"outcome": "pay"})
    assert paid.status_code == 302
    licence = Licence.objects.get(user=user)
    assert licence.is_active
    client.post(f"/licensing/{licence.pk}/tokens/", {"name": "crawler"})
    page = client.get("/licensing/").content.decode()
    assert "Copy it now" in page
    assert "0 of 10,000 posts used this month" in page
    raw = page.split('<code class="token">')[1].split("</code>")[0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(URL).status_code == 200


def test_only_posts_whose_authors_allow_training_are_delivered(licensee):
    """Ensures that the endpoint delivers allowed authors' posts only, with the quota in the
    rate-limit headers, the training signals and a receipt that verifies."""
    yes, no, undecided = _authors()
    allowed = PostFactory.create_batch(3, author=yes)
    PostFactory(author=no)
    PostFactory(author=undecided)
    response = licensee.client.get(URL)
    assert response.status_code == 200
    assert_schema(response, "licensed_statuses")
    assert [s["id"] for s in response.json()] == [str(p.pk) for p in reversed(allowed)]
    assert all(s["content_usage"] == "train-ai=y" for s in response.json())
    assert response["Content-Usage"] == "train-ai=y"
    assert response["RateLimit-Policy"] == '"licensed-posts";q=10000;w=2592000'
    assert response["RateLimit"] == '"licensed-posts";r=9997;t=388800'
    assert response["X-RateLimit-Reset"] == "2026-12-01T00:00:00.000Z"
    out = call_command_output(response["Licence-Receipt"])
    assert "Receipt valid" in out
    payload = json.loads(out[out.index("{") :])
    assert payload["post_ids"] == [p.pk for p in reversed(allowed)]
    assert payload["licensee"] == licensee.user.username and payload["plan"] == "basic"
    access_log_drain(max_seconds=0)  # with the Redis ledger, its stream into the database
    entry = AccessLogEntry.objects.get(principal=f"licence:{licensee.licence.pk}")
    assert (entry.delivered, entry.newly_charged, entry.remaining) == (3, 3, 9997)


def test_licensed_deliveries_are_in_the_provenance(licensee):
    """Ensures that a licensed delivery keeps its provenance beside its access-log record (the
    posts the licence took for the first time that day), like every other read."""
    yes, _no, _undecided = _authors()
    allowed = PostFactory.create_batch(2, author=yes)
    licensee.client.get(URL)
    licensee.client.get(URL)  # the same posts again the same day: nothing new to record
    access_log_drain(max_seconds=0)
    entry = AccessLogEntry.objects.filter(principal=f"licence:{licensee.licence.pk}").order_by(
        "pk"
    )[0]
    provenance = DeliveryProvenance.objects.get(principal=f"licence:{licensee.licence.pk}")
    assert provenance.record_id == entry.record_id
    assert sorted(provenance.post_ids) == sorted(p.pk for p in allowed)


def call_command_output(receipt: str, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_receipt", receipt, *args, stdout=out)
    return out.getvalue()


def test_a_receipt_checks_offline_with_the_published_key(licensee, client):
    """Ensures that the documented offline check (PyNaCl and the published key) accepts a
    receipt and refuses one whose post list was altered."""
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(2, author=yes)
    receipt = licensee.client.get(URL)["Licence-Receipt"]
    key = client.get("/licensing/receipt-key.json").json()
    assert key["alg"] == "Ed25519"
    body_b64, signature_b64 = receipt.split(".")
    body, signature = b64url_decode(body_b64), b64url_decode(signature_b64)
    VerifyKey(b64url_decode(key["public_key"])).verify(body, signature)  # raises if forged
    assert json.loads(body)["key_id"] == key["key_id"]

    forged = json.loads(body)
    forged["post_ids"].append(999)
    from licensing.receipts import b64url, canonical_json

    tampered = f"{b64url(canonical_json(forged))}.{signature_b64}"
    with pytest.raises(CommandError, match="NOT valid"):
        call_command_output(tampered, "--public-key", key["public_key"])
    assert "Receipt valid" in call_command_output(receipt, "--public-key", key["public_key"])


def test_a_post_is_charged_once_per_utc_day(licensee):
    """Ensures that the same posts again the same UTC day cost nothing, and are charged again
    the next day, against the same month."""
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(4, author=yes)
    assert licensee.client.get(URL)["X-RateLimit-Remaining"] == "9996"
    assert licensee.client.get(URL)["X-RateLimit-Remaining"] == "9996"
    with time_machine.travel(datetime(2026, 11, 27, 9, 0, tzinfo=UTC), tick=False):
        assert licensee.client.get(URL)["X-RateLimit-Remaining"] == "9992"
    assert quota_ledger_get().peek(licence_id=licensee.licence.pk, day=NOON.date()) == 8


def test_past_the_quota_a_partial_page_then_429(db):
    """Ensures that a page is cut at the quota and the next request gets 429 with the reset
    time (00:00 UTC on the 1st), Retry-After and the upgrade URL."""
    licensee = make_licensee(quota=3)
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(5, author=yes)
    first = licensee.client.get(URL, {"limit": 2})
    assert len(first.json()) == 2
    second = licensee.client.get(URL, {"limit": 2, "max_id": first.json()[-1]["id"]})
    assert len(second.json()) == 1  # cut at the quota
    refused = licensee.client.get(URL, {"max_id": second.json()[-1]["id"]})
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "licence_quota_exhausted"
    assert body["reset_at"] == "2026-12-01T00:00:00.000Z"
    assert body["upgrade_url"].endswith("/licensing/")
    assert "00:00 UTC on the 1st" in body["error"]
    assert refused["Retry-After"] == str(5 * 86400 - 12 * 3600)
    assert "Licence-Receipt" not in refused
    # Posts already charged today stay free: the first page is still delivered.
    assert licensee.client.get(URL, {"limit": 2}).status_code == 200


def test_opting_out_stops_delivery_but_earlier_receipts_still_verify(licensee):
    """Ensures that an author who opts out after a licensee took their posts is not delivered
    again from the next request, while the earlier receipt still verifies."""
    yes, _no, _undecided = _authors()
    posts = PostFactory.create_batch(2, author=yes)
    before = licensee.client.get(URL)
    assert len(before.json()) == 2
    user_ai_training_set(user=yes, choice="disallow")
    after = licensee.client.get(URL)
    assert after.status_code == 200
    assert after.json() == []
    assert "Licence-Receipt" not in after
    out = call_command_output(before["Licence-Receipt"])
    assert json.loads(out[out.index("{") :])["post_ids"] == [p.pk for p in reversed(posts)]


def test_json_lines_and_keyset_paging(licensee):
    """Ensures that ?format=jsonl (or Accept: application/jsonl) gives one status per line and
    that the Link header pages on by max_id."""
    yes, _no, _undecided = _authors()
    posts = PostFactory.create_batch(5, author=yes)
    response = licensee.client.get(URL, {"limit": 2, "format": "jsonl"})
    assert response["Content-Type"] == "application/jsonl"
    lines = [json.loads(line) for line in response.content.decode().splitlines()]
    assert [s["id"] for s in lines] == [str(posts[4].pk), str(posts[3].pk)]
    assert f"max_id={posts[3].pk}" in response["Link"]
    more = licensee.client.get(
        URL, {"limit": 2, "max_id": posts[3].pk}, HTTP_ACCEPT="application/jsonl"
    )
    assert [json.loads(x)["id"] for x in more.content.decode().splitlines()] == [
        str(posts[2].pk),
        str(posts[1].pk),
    ]


def test_limit_defaults_to_the_page_size_and_is_clamped_to_the_page_max(licensee, settings):
    """Ensures that the page size is LICENSING_PAGE_SIZE by default and a limit may go up to
    LICENSING_PAGE_MAX (not Mastodon's twice the default), clamped there."""
    settings.LICENSING_PAGE_SIZE, settings.LICENSING_PAGE_MAX = 1, 4
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(6, author=yes)
    assert len(licensee.client.get(URL).json()) == 1
    assert len(licensee.client.get(URL, {"limit": 3}).json()) == 3
    assert len(licensee.client.get(URL, {"limit": 9}).json()) == 4


@pytest.mark.parametrize("query", [{"limit": "abc"}, {"max_id": "x"}])
def test_bad_paging_is_a_400(licensee, query):
    """Ensures that malformed paging is a 400 with a message, not a 500."""
    response = licensee.client.get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_only_licence_tokens_may_call_it(licensee):
    """Ensures that no token is a 401, an ordinary token a 403 saying how to get a licence, and
    a token of an ended licence a 403."""
    assert APIClient().get(URL).status_code == 401
    _token, raw = token_create(user=UserFactory(), name="plain", scopes=["read"])
    plain = APIClient()
    plain.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    refused = plain.get(URL)
    assert refused.status_code == 403
    assert "data licence" in refused.json()["error"]
    licence_end(licence=licensee.licence)
    assert licensee.client.get(URL).status_code == 403


def test_rate_limits_shows_the_licence_quota(licensee):
    """Ensures that /api/v1/rate_limits shows a licence token's monthly quota, free."""
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(2, author=yes)
    licensee.client.get(URL)
    response = licensee.client.get("/api/v1/rate_limits")
    assert_schema(response, "rate_limits")
    quota = response.json()["licence_quota"]
    assert (quota["limit"], quota["used"], quota["remaining"]) == (10000, 2, 9998)
    assert quota["reset_at"] == "2026-12-01T00:00:00.000Z"


def test_usage_by_day_for_the_licensee_and_every_plan_for_reviewers(licensee):
    """Ensures that the licensee's page charts usage by day and that only reviewers see every
    plan's usage."""
    yes, _no, _undecided = _authors()
    PostFactory.create_batch(3, author=yes)
    licensee.client.get(URL)
    web = Client()
    web.force_login(licensee.user)
    page = web.get("/licensing/").content.decode()
    assert "2026-11-26: 3 posts" in page and "<svg" in page
    # The review pages' own check (access.views_review.review_view): a non-staff account is
    # sent to the admin login, staff without the review permission are refused.
    assert web.get("/licensing/review/")["Location"].startswith("/admin/login/")
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    assert staff.get("/licensing/review/").status_code == 403
    reviewer = Client()
    reviewer.force_login(UserFactory(is_staff=True, is_superuser=True))
    review = reviewer.get("/licensing/review/").content.decode()
    assert "Basic" in review and "3 posts charged this month" in review


@pytest.mark.parametrize("default", ["allow", "disallow"])
def test_an_empty_page_states_the_site_default_and_the_tdm_policy(licensee, settings, default):
    """Ensures that a page with no posts says the site default's training preference (not a
    fixed yes), with tdm-policy, and that a page of posts says yes, as the gate's pages do."""
    settings.AI_TRAINING_DEFAULT = default
    allowed = default == "allow"
    empty = licensee.client.get(URL)
    assert empty.status_code == 200 and empty.json() == []
    assert empty["Content-Usage"] == ("train-ai=y" if allowed else "train-ai=n")
    assert empty["tdm-reservation"] == ("0" if allowed else "1")
    assert empty["tdm-policy"].endswith("/licensing/tdm-policy.json")
    assert empty.get("X-Robots-Tag") == (None if allowed else "noai, noimageai")
    PostFactory(author=UserFactory(ai_training_allowed=True))
    full = licensee.client.get(URL)
    assert len(full.json()) == 1
    assert (full["Content-Usage"], full["tdm-reservation"]) == ("train-ai=y", "0")
    assert full["tdm-policy"].endswith("/licensing/tdm-policy.json")
    assert "X-Robots-Tag" not in full
