"""Data licences bought through Stripe renew, fail and end by Stripe's signed webhooks, at
verification's one endpoint; the dev provider offers the same paths as TEST MODE buttons.
Only Stripe's HTTP is faked (the SDK builds real requests; none leaves)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from licensing.billing import licence_checkout_start, licences_expire
from licensing.models import Licence
from licensing.services import licence_token_create
from tests.factories import PostFactory, UserFactory
from tests.stripe_fakes import (
    FakeStripeHttp,
    checkout_completed_event,
    invoice_event,
    stripe_configure,
    subscription_deleted_event,
    webhook_post,
    webhook_send,
)
from verification.models import PaymentWebhookEvent, Subscription

pytestmark = pytest.mark.django_db

S = Licence.Status
API = "/api/v1/licensed/statuses"
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def stripe_http(settings, monkeypatch) -> FakeStripeHttp:
    return stripe_configure(
        settings,
        monkeypatch,
        {
            "/v1/checkout/sessions": (
                200,
                {"id": "cs_lic", "object": "checkout.session", "url": "https://pay.test/cs"},
            ),
            "/v1/subscriptions/sub_lic": (200, {"id": "sub_lic", "object": "subscription"}),
        },
    )


@pytest.fixture
def pending(stripe_http) -> Licence:
    licence, _url = licence_checkout_start(user=UserFactory(), plan=_plan(quota=5))
    return licence


def _plan(*, quota: int):
    from licensing.models import DataPlan

    plan = DataPlan.objects.get(slug="basic")
    plan.monthly_post_quota = quota
    plan.save()
    return plan


def _completed(licence: Licence, event_id="evt_lic_completed") -> str:
    return checkout_completed_event(
        event_id,
        session="cs_lic",
        reference=licence.checkout_ref,
        metadata={"licence_id": str(licence.pk)},
        customer="cus_lic",
        subscription="sub_lic",
    )


def _invoice(
    event_id: str,
    event_type: str,
    licence: Licence,
    period_end: datetime,
    reason: str = "subscription_cycle",
) -> str:
    return invoice_event(
        event_id,
        event_type,
        subscription="sub_lic",
        metadata={"licence_id": str(licence.pk)},
        customer="cus_lic",
        period_end=int(period_end.timestamp()),
        reason=reason,
    )


def _deleted(event_id="evt_lic_deleted") -> str:
    return subscription_deleted_event(event_id, subscription="sub_lic")


def _api(licence: Licence) -> Client:
    from rest_framework.test import APIClient

    licence.refresh_from_db()
    _token, raw = licence_token_create(licence=licence, name="bulk")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_webhook_activates_then_renews_each_month(pending):
    """Ensures that checkout.session.completed activates a Stripe licence (no return visit
    needed), that invoice.paid moves its period to the invoiced end, and that
    invoice.payment_succeeded (the same payment's older event) changes nothing more."""
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        assert webhook_send(_completed(pending)).status_code == 200
        pending.refresh_from_db()
        assert pending.status == S.ACTIVE
        assert pending.provider_subscription_id == "sub_lic"
        first_end = datetime(2026, 12, 10, 9, tzinfo=UTC)
        assert (
            webhook_send(
                _invoice("evt_in_1", "invoice.paid", pending, first_end, "subscription_create")
            ).status_code
            == 200
        )
        pending.refresh_from_db()
        assert pending.current_period_end == first_end
    with time_machine.travel(first_end + timedelta(minutes=5), tick=False):
        second_end = datetime(2027, 1, 10, 9, tzinfo=UTC)
        webhook_send(_invoice("evt_in_2", "invoice.paid", pending, second_end))
        webhook_send(_invoice("evt_in_2b", "invoice.payment_succeeded", pending, second_end))
        pending.refresh_from_db()
        assert (pending.status, pending.current_period_end) == (S.ACTIVE, second_end)
        assert pending.is_usable()
    # Verification's subscriptions were asked first and left alone.
    assert not Subscription.objects.exists()


def test_a_replayed_event_changes_nothing(pending):
    """Ensures that each event id is applied once: a replay answers 200 "duplicate" and does
    not move the period again."""
    webhook_send(_completed(pending))
    end = timezone.now() + timedelta(days=30)
    payload = _invoice("evt_once", "invoice.paid", pending, end)
    assert webhook_send(payload).json() == {"received": True, "duplicate": False}
    Licence.objects.filter(pk=pending.pk).update(current_period_end=end - timedelta(days=9))
    assert webhook_send(payload).json() == {"received": True, "duplicate": True}
    pending.refresh_from_db()
    assert pending.current_period_end == end - timedelta(days=9)
    assert PaymentWebhookEvent.objects.filter(event_id="evt_once").count() == 1


@pytest.mark.parametrize("signature", [None, "t=1,v1=deadbeef", "garbage"])
def test_a_bad_signature_is_400_and_changes_nothing(pending, signature):
    """Ensures that an event Stripe did not sign is refused with 400 and a reason, and
    neither activates the licence nor is remembered."""
    response = webhook_post(Client(), _completed(pending), signature)
    assert response.status_code == 400
    assert response.content
    pending.refresh_from_db()
    assert pending.status == S.PENDING
    assert not PaymentWebhookEvent.objects.exists()


def test_the_quota_resets_on_the_first_whatever_the_billing_day(pending):
    """Ensures that a licence billed from the 10th still has its quota reset at 00:00 UTC on
    the 1st (the documented window), and that a renewal does not reset it mid-month."""
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        webhook_send(_completed(pending))
        webhook_send(
            _invoice(
                "evt_a",
                "invoice.paid",
                pending,
                datetime(2026, 12, 10, 9, tzinfo=UTC),
                "subscription_create",
            )
        )
        PostFactory.create_batch(6, author=UserFactory(ai_training_allowed=True))
        client = _api(pending)
        assert len(client.get(API).json()) == 5
        assert client.get(API).status_code == 200  # the same posts again: free today
    with time_machine.travel(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), tick=False):
        refused = client.get(API)
        assert refused.status_code == 429
        assert refused.json()["reset_at"] == "2026-12-01T00:00:00.000Z"
    with time_machine.travel(DEC_1 + timedelta(seconds=1), tick=False):
        fresh = client.get(API)
        assert fresh.status_code == 200 and len(fresh.json()) == 5
        assert fresh["X-RateLimit-Remaining"] == "0"
    with time_machine.travel(datetime(2026, 12, 10, 9, 1, tzinfo=UTC), tick=False):
        webhook_send(
            _invoice("evt_b", "invoice.paid", pending, datetime(2027, 1, 10, 9, tzinfo=UTC))
        )
        # Another day, so the posts would be charged again: December's quota, which the
        # renewal did not reset, is spent.
        page = client.get(API)
        assert page.status_code == 429
        assert page.json()["reset_at"] == "2027-01-01T00:00:00.000Z"


def test_cancellation_ends_the_licence_at_the_period_end(pending):
    """Ensures that customer.subscription.deleted keeps a paid-up licence working to the end
    of its period and no longer; past it, its token gets a 403 saying it ended and when."""
    period_end = datetime(2026, 12, 10, 9, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 11, 20, tzinfo=UTC), tick=False):
        webhook_send(_completed(pending))
        webhook_send(_invoice("evt_c", "invoice.paid", pending, period_end, "subscription_create"))
        PostFactory(author=UserFactory(ai_training_allowed=True))
        client = _api(pending)
        webhook_send(_deleted())
        pending.refresh_from_db()
        assert pending.status == S.ACTIVE and pending.cancel_at_period_end
        assert client.get(API).status_code == 200
    with time_machine.travel(period_end - timedelta(seconds=1), tick=False):
        assert client.get(API).status_code == 200
    with time_machine.travel(period_end, tick=False):
        refused = client.get(API)
        assert refused.status_code == 403
        assert "ended on 2026-12-10 09:00 UTC" in refused.json()["error"]
        assert licences_expire() == {"ended": 1, "lapsed": 0}
        assert licences_expire() == {"ended": 0, "lapsed": 0}  # idempotent
        pending.refresh_from_db()
        assert pending.status == S.ENDED and pending.ended_at == period_end


def test_a_failed_payment_has_a_grace_period_then_lapses(pending, settings):
    """Ensures that invoice.payment_failed keeps the licence usable for LICENSING_GRACE_DAYS
    (from the period's end, which came first: Stripe attempts the renewal after it), that it
    lapses after (403 saying the renewal was not paid), and that a late payment brings it
    back."""
    settings.LICENSING_GRACE_DAYS = 3
    period_end = datetime(2026, 12, 10, 9, tzinfo=UTC)
    failed_at = period_end + timedelta(minutes=5)
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        webhook_send(_completed(pending))
        webhook_send(
            _invoice(
                "evt_d",
                "invoice.paid",
                pending,
                period_end,
                "subscription_create",
            )
        )
        PostFactory(author=UserFactory(ai_training_allowed=True))
        client = _api(pending)
    with time_machine.travel(failed_at, tick=False):
        webhook_send(_invoice("evt_f1", "invoice.payment_failed", pending, failed_at))
        pending.refresh_from_db()
        assert pending.status == S.PAST_DUE
        assert pending.grace_until == period_end + timedelta(days=3)
        assert client.get(API).status_code == 200
    with time_machine.travel(failed_at + timedelta(days=1), tick=False):
        webhook_send(_invoice("evt_f2", "invoice.payment_failed", pending, failed_at))
        pending.refresh_from_db()
        assert pending.grace_until == period_end + timedelta(days=3)  # not extended
    with time_machine.travel(period_end + timedelta(days=3), tick=False):
        refused = client.get(API)
        assert refused.status_code == 403
        assert "renewal was not paid" in refused.json()["error"]
        assert licences_expire() == {"ended": 0, "lapsed": 1}
        late_end = datetime(2027, 1, 13, 9, tzinfo=UTC)
        webhook_send(_invoice("evt_late", "invoice.paid", pending, late_end))
        pending.refresh_from_db()
        assert (pending.status, pending.current_period_end) == (S.ACTIVE, late_end)
        assert client.get(API).status_code == 200


PERIOD_END = datetime(2026, 12, 10, 9, tzinfo=UTC)
NEXT_END = datetime(2027, 1, 10, 9, tzinfo=UTC)


def _active_to_period_end(licence: Licence) -> Client:
    """``licence`` bought on 10 November, paid to ``PERIOD_END``; an API client on its token
    (with one post to read)."""
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        webhook_send(_completed(licence))
        webhook_send(
            _invoice("evt_first", "invoice.paid", licence, PERIOD_END, "subscription_create")
        )
        PostFactory(author=UserFactory(ai_training_allowed=True))
        return _api(licence)


def test_a_failure_after_the_period_ended_counts_grace_from_the_period_end(pending, settings):
    """Ensures that a failed renewal reported after the period's end gives the grace the
    period's end gave (the one a licence with no renewal reported has), not a fresh one."""
    settings.LICENSING_GRACE_DAYS = 3
    client = _active_to_period_end(pending)
    with time_machine.travel(PERIOD_END + timedelta(hours=20), tick=False):
        webhook_send(_invoice("evt_fail_late", "invoice.payment_failed", pending, NEXT_END))
        pending.refresh_from_db()
        assert (pending.status, pending.grace_until) == (S.PAST_DUE, PERIOD_END + timedelta(days=3))
    with time_machine.travel(PERIOD_END + timedelta(days=3, seconds=-1), tick=False):
        assert client.get(API).status_code == 200
    with time_machine.travel(PERIOD_END + timedelta(days=3), tick=False):
        assert client.get(API).status_code == 403
        assert licences_expire() == {"ended": 0, "lapsed": 1}


def test_a_failure_reported_after_grace_would_have_run_out_lapses_at_once(pending, settings):
    """Ensures that a failed renewal reported longer after the period's end than the grace
    period (the hourly job not run yet) lapses the licence at once, as the job would have,
    instead of making its tokens work again; and that neither its replay nor another failure
    changes anything."""
    settings.LICENSING_GRACE_DAYS = 3
    client = _active_to_period_end(pending)
    failed = _invoice("evt_fail_days_late", "invoice.payment_failed", pending, NEXT_END)
    with time_machine.travel(PERIOD_END + timedelta(days=5), tick=False):
        assert webhook_send(failed).status_code == 200
        pending.refresh_from_db()
        assert (pending.status, pending.ended_at) == (S.LAPSED, PERIOD_END + timedelta(days=3))
        refused = client.get(API)
        assert refused.status_code == 403
        assert "renewal was not paid" in refused.json()["error"]
        assert licences_expire() == {"ended": 0, "lapsed": 0}
        assert webhook_send(failed).json()["duplicate"] is True
        webhook_send(_invoice("evt_fail_again", "invoice.payment_failed", pending, NEXT_END))
        pending.refresh_from_db()
        assert (pending.status, pending.ended_at) == (S.LAPSED, PERIOD_END + timedelta(days=3))
        assert client.get(API).status_code == 403


def test_a_failure_after_a_cancelled_licence_ended_does_not_bring_it_back(pending):
    """Ensures that a failure reported after a cancelled licence's period is over (the job
    not run yet) ends it as of its period's end instead of starting a grace period."""
    client = _active_to_period_end(pending)
    webhook_send(_deleted())
    with time_machine.travel(PERIOD_END + timedelta(hours=1), tick=False):
        webhook_send(_invoice("evt_fail_ended", "invoice.payment_failed", pending, NEXT_END))
        pending.refresh_from_db()
        assert (pending.status, pending.ended_at) == (S.ENDED, PERIOD_END)
        assert client.get(API).status_code == 403
        assert licences_expire() == {"ended": 0, "lapsed": 0}


def test_a_failure_during_grace_or_after_it_ran_out_does_not_renew_it(pending, settings):
    """Ensures that once past due, a later failure (another retry of the renewal) leaves the
    grace as it was, even when grace has run out and the job has not lapsed the licence yet."""
    settings.LICENSING_GRACE_DAYS = 3
    client = _active_to_period_end(pending)
    with time_machine.travel(PERIOD_END + timedelta(hours=1), tick=False):
        webhook_send(_invoice("evt_fail_1", "invoice.payment_failed", pending, NEXT_END))
    with time_machine.travel(PERIOD_END + timedelta(days=3, minutes=5), tick=False):
        webhook_send(_invoice("evt_fail_2", "invoice.payment_failed", pending, NEXT_END))
        pending.refresh_from_db()
        assert (pending.status, pending.grace_until) == (S.PAST_DUE, PERIOD_END + timedelta(days=3))
        assert client.get(API).status_code == 403
        assert licences_expire() == {"ended": 0, "lapsed": 1}


def test_a_failure_delivered_after_its_invoice_was_paid_changes_nothing(pending):
    """Ensures that invoice.payment_failed for a period already paid (Stripe does not
    guarantee order: the failed attempt may arrive after the retry that succeeded) leaves the
    licence active, paid to that period's end, with no grace period."""
    client = _active_to_period_end(pending)
    with time_machine.travel(PERIOD_END + timedelta(hours=3), tick=False):
        webhook_send(_invoice("evt_paid_retry", "invoice.paid", pending, NEXT_END))
        webhook_send(_invoice("evt_failed_attempt", "invoice.payment_failed", pending, NEXT_END))
        pending.refresh_from_db()
        assert (pending.status, pending.grace_until) == (S.ACTIVE, None)
        assert pending.current_period_end == NEXT_END
    with time_machine.travel(PERIOD_END + timedelta(days=20), tick=False):
        assert client.get(API).status_code == 200
        assert licences_expire() == {"ended": 0, "lapsed": 0}


def test_the_licensee_cancels_renewal_at_stripe(pending, stripe_http):
    """Ensures that "Cancel renewal" tells Stripe to stop at the period end, and the licence
    keeps working until then."""
    webhook_send(_completed(pending))
    web = Client()
    web.force_login(pending.user)
    response = web.post(f"/licensing/{pending.pk}/cancel/", follow=True)
    assert "Renewal cancelled" in response.content.decode()
    method, path, sent = stripe_http.requests[-1]
    assert (method, path, sent) == (
        "post",
        "/v1/subscriptions/sub_lic",
        {"cancel_at_period_end": ["true"]},
    )
    pending.refresh_from_db()
    assert pending.cancel_at_period_end and pending.is_usable()


def test_verification_events_still_reach_verification(pending, eligible_user):
    """Ensures that with licensing registered, a verification subscription's event is still
    applied by verification and not taken by licensing."""
    from verification import services

    subscription, _ = services.subscription_checkout_start(user=eligible_user)
    payload = checkout_completed_event(
        "evt_verif",
        session="cs_lic",
        reference=subscription.checkout_ref,
        metadata={"subscription_id": str(subscription.pk)},
        customer="cus_v",
        subscription="sub_v",
    )
    assert webhook_send(payload).status_code == 200
    subscription.refresh_from_db()
    pending.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert pending.status == S.PENDING


def test_the_dev_provider_simulates_renewal_failure_and_cancellation(settings):
    """Ensures that on the dev provider the licence page's TEST MODE buttons renew, fail,
    end the subscription and end the period, with the same effects as Stripe's events."""
    settings.PAYMENTS_PROVIDER = "dev"
    user = UserFactory()
    web = Client()
    web.force_login(user)
    web.post("/licensing/buy/basic/")
    licence = Licence.objects.get(user=user)
    web.post(f"/licensing/checkout/{licence.checkout_ref}/", {"outcome": "pay"})
    licence.refresh_from_db()
    first_end = licence.current_period_end
    assert licence.status == S.ACTIVE and first_end is not None
    page = web.get("/licensing/").content.decode()
    assert "TEST MODE" in page and 'value="renew"' in page

    def simulate(event: str) -> Licence:
        web.post(f"/licensing/{licence.pk}/dev/simulate/", {"event": event})
        licence.refresh_from_db()
        return licence

    assert simulate("renew").current_period_end == first_end + timedelta(days=30)
    assert simulate("fail").status == S.PAST_DUE
    assert simulate("renew").status == S.ACTIVE
    simulate("delete")
    assert licence.cancel_at_period_end and licence.is_usable()
    assert simulate("period_over").status == S.ENDED
    assert not licence.is_usable()
    refused = web.post(f"/licensing/{licence.pk}/dev/simulate/", {"event": "renew"}, follow=True)
    assert "can be simulated" in refused.content.decode()


def test_dev_simulation_is_refused_on_stripe(pending):
    """Ensures that the TEST MODE simulation does not exist when the provider is Stripe."""
    web = Client()
    web.force_login(pending.user)
    assert web.post(f"/licensing/{pending.pk}/dev/simulate/", {"event": "renew"}).status_code == 404
