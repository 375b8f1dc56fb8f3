"""Buying a data plan through Stripe Checkout (the SDK's HTTP faked, no network)."""

import pytest
from django.test import Client

from licensing.models import Licence
from tests.factories import UserFactory
from tests.stripe_fakes import FakeStripeHttp, stripe_configure

pytestmark = pytest.mark.django_db


def _stripe(monkeypatch, settings, *, session: dict) -> FakeStripeHttp:
    return stripe_configure(
        settings,
        monkeypatch,
        {
            "/v1/checkout/sessions": (
                200,
                {"id": "cs_lic_1", "object": "checkout.session", "url": "https://pay.test/cs"},
            ),
            "/v1/checkout/sessions/cs_lic_1": (200, {"object": "checkout.session", **session}),
        },
    )


def _buy(client) -> Licence:
    response = client.post("/licensing/buy/pro/")
    assert response.status_code == 302
    assert response["Location"] == "https://pay.test/cs"
    return Licence.objects.get()


def test_a_paid_stripe_checkout_activates_the_licence(monkeypatch, settings):
    """Ensures that the plan is sold as a monthly Stripe subscription tied to the licence, and
    that coming back activates it only once Stripe confirms the session was paid."""
    user = UserFactory()
    client = Client()
    client.force_login(user)
    http = _stripe(monkeypatch, settings, session={"id": "cs_lic_1", "payment_status": "paid"})
    licence = _buy(client)
    method, path, sent = http.requests[0]
    assert (method, path) == ("post", "/v1/checkout/sessions")
    assert sent["mode"] == ["subscription"]
    assert sent["line_items[0][price_data][unit_amount]"] == ["500000"]
    assert sent["client_reference_id"] == [licence.checkout_ref]
    # Stripe answers the lookup with this licence's reference: paid.
    http.responses["/v1/checkout/sessions/cs_lic_1"][1]["client_reference_id"] = (
        licence.checkout_ref
    )
    back = client.get(f"/licensing/checkout/{licence.checkout_ref}/return/?session_id=cs_lic_1")
    assert back.status_code == 302
    licence.refresh_from_db()
    assert licence.is_active


@pytest.mark.parametrize("session_id", ["cs_lic_1", "cs_someone_else", ""])
def test_an_unpaid_or_foreign_session_activates_nothing(monkeypatch, settings, session_id):
    """Ensures that an unpaid session, another session's id or none leaves the licence
    pending, with a message saying what to do."""
    client = Client()
    client.force_login(UserFactory())
    _stripe(monkeypatch, settings, session={"id": "cs_lic_1", "payment_status": "unpaid"})
    licence = _buy(client)
    back = client.get(
        f"/licensing/checkout/{licence.checkout_ref}/return/?session_id={session_id}",
        follow=True,
    )
    assert "has not been confirmed" in back.content.decode()
    licence.refresh_from_db()
    assert licence.status == Licence.Status.PENDING
