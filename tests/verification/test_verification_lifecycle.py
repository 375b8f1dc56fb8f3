"""Tests for the subscription lifecycle: every transition, the badge and the tier it gives."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from accounts.selectors import effective_tier_slug
from tests.accounts.conftest import eligible_account
from tests.factories import UserFactory
from verification import services
from verification.models import Subscription
from verification.tasks import subscriptions_expire_task

pytestmark = pytest.mark.django_db

S = Subscription.Status


def _fresh(user) -> User:
    """The account as the next request sees it."""
    return User.objects.get(pk=user.pk)


def _active(user) -> Subscription:
    subscription, _ = services.subscription_checkout_start(user=user)
    return services.subscription_activate(subscription=subscription)


def test_checkout_start_opens_a_pending_subscription(eligible_user):
    """Ensures that starting checkout creates a pending subscription and no badge yet."""
    subscription, url = services.subscription_checkout_start(user=eligible_user)
    assert subscription.status == S.PENDING
    assert url.endswith(f"/dev/checkout/{subscription.checkout_ref}/")
    assert not _fresh(eligible_user).is_verified


def test_checkout_refused_when_ineligible():
    """Ensures that an ineligible account cannot start checkout, and is told why."""
    user = UserFactory()
    with pytest.raises(ValidationError) as exc:
        services.subscription_checkout_start(user=user)
    assert any("Confirm your email" in m for m in exc.value.messages)
    assert not Subscription.objects.exists()


def test_checkout_refused_when_already_verified(eligible_user):
    """Ensures that a verified account cannot buy a second subscription."""
    _active(eligible_user)
    with pytest.raises(ValidationError, match="already verified"):
        services.subscription_checkout_start(user=eligible_user)


def test_payment_activates_badge_and_tier(eligible_user):
    """Ensures that a confirmed payment makes the subscription active, sets the badge and
    moves the account to the verified tier; confirming twice changes nothing more."""
    assert effective_tier_slug(_fresh(eligible_user)) == "new"
    subscription = _active(eligible_user)
    assert subscription.status == S.ACTIVE
    assert subscription.current_period_end > timezone.now() + timedelta(days=29)
    user = _fresh(eligible_user)
    assert user.is_verified
    assert effective_tier_slug(user) == "verified"
    again = services.subscription_activate(subscription=subscription)
    assert again.current_period_end == subscription.current_period_end


@pytest.mark.parametrize(
    ("service", "status"),
    [
        (services.subscription_checkout_decline, S.DECLINED),
        (services.subscription_checkout_cancel, S.CHECKOUT_CANCELED),
    ],
)
def test_unpaid_checkout_gives_nothing(eligible_user, service, status):
    """Ensures that a declined or cancelled checkout leaves the account unverified."""
    subscription, _ = services.subscription_checkout_start(user=eligible_user)
    assert service(subscription=subscription).status == status
    assert not _fresh(eligible_user).is_verified
    assert effective_tier_slug(_fresh(eligible_user)) == "new"


def test_cancel_keeps_verification_until_period_end(eligible_user):
    """Ensures that a cancelled subscription stays active to its period's end, then ends and
    the account goes back to the tier it would otherwise have."""
    subscription = _active(eligible_user)
    subscription = services.subscription_cancel(subscription=subscription)
    assert subscription.cancel_at_period_end
    assert services.subscriptions_expire() == {"ended": 0, "past_due": 0, "lapsed": 0}
    assert _fresh(eligible_user).is_verified

    with time_machine.travel(subscription.current_period_end + timedelta(seconds=1)):
        assert services.subscriptions_expire()["ended"] == 1
        subscription.refresh_from_db()
        assert subscription.status == S.ENDED
        user = _fresh(eligible_user)
        assert not user.is_verified
        assert effective_tier_slug(user) == "unverified"  # 40 days old by now


def test_renewal_extends_the_period(eligible_user):
    """Ensures that a paid renewal moves the period end forward, so expiry leaves it alone."""
    subscription = _active(eligible_user)
    old_end = subscription.current_period_end
    new_end = old_end + timedelta(days=30)
    services.subscription_renew(subscription=subscription, period_end=new_end)
    with time_machine.travel(old_end + timedelta(days=1)):
        assert services.subscriptions_expire() == {"ended": 0, "past_due": 0, "lapsed": 0}
        subscription.refresh_from_db()
        assert subscription.status == S.ACTIVE
        assert subscription.current_period_end == new_end
        assert _fresh(eligible_user).is_verified


def test_payment_failure_grace_then_lapse(eligible_user, settings):
    """Ensures that a failed payment makes the subscription past due with the badge kept for
    VERIFICATION_GRACE_DAYS, then lapsed without it; a second failure does not extend grace."""
    settings.VERIFICATION_GRACE_DAYS = 3
    subscription = _active(eligible_user)
    failed_at = timezone.now()
    subscription = services.subscription_payment_fail(subscription=subscription)
    assert subscription.status == S.PAST_DUE
    assert subscription.grace_until == pytest.approx(
        failed_at + timedelta(days=3), abs=timedelta(seconds=5)
    )
    assert _fresh(eligible_user).is_verified
    assert effective_tier_slug(_fresh(eligible_user)) == "verified"

    with time_machine.travel(failed_at + timedelta(days=2)):
        services.subscription_payment_fail(subscription=subscription)
        assert services.subscriptions_expire()["lapsed"] == 0
        assert _fresh(eligible_user).is_verified

    with time_machine.travel(failed_at + timedelta(days=3, seconds=5)):
        assert services.subscriptions_expire()["lapsed"] == 1
        subscription.refresh_from_db()
        assert subscription.status == S.LAPSED
        assert not _fresh(eligible_user).is_verified
        assert effective_tier_slug(_fresh(eligible_user)) == "new"


def test_payment_after_grace_brings_subscription_back(eligible_user):
    """Ensures that a late successful payment reactivates a lapsed subscription."""
    subscription = _active(eligible_user)
    services.subscription_payment_fail(subscription=subscription)
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        services.subscriptions_expire()
        subscription.refresh_from_db()
        assert subscription.status == S.LAPSED
        services.subscription_renew(
            subscription=subscription, period_end=timezone.now() + timedelta(days=30)
        )
        subscription.refresh_from_db()
        assert subscription.status == S.ACTIVE
        assert _fresh(eligible_user).is_verified


def test_missing_renewal_starts_grace_from_period_end(eligible_user, settings):
    """Ensures that when no renewal is confirmed by the period's end the subscription goes
    past due, with grace counted from the period end, and lapses after it."""
    settings.VERIFICATION_GRACE_DAYS = 3
    subscription = _active(eligible_user)
    period_end = subscription.current_period_end
    with time_machine.travel(period_end + timedelta(hours=1)):
        assert services.subscriptions_expire() == {"ended": 0, "past_due": 1, "lapsed": 0}
        subscription.refresh_from_db()
        assert subscription.status == S.PAST_DUE
        assert subscription.grace_until == period_end + timedelta(days=3)
        assert _fresh(eligible_user).is_verified
    with time_machine.travel(period_end + timedelta(days=3, hours=1)):
        assert services.subscriptions_expire()["lapsed"] == 1
        assert not _fresh(eligible_user).is_verified


def test_provider_deletion_ends_subscription(eligible_user):
    """Ensures that a subscription the provider deleted ends at once, and ending is idempotent."""
    subscription = _active(eligible_user)
    services.subscription_end(subscription=subscription)
    services.subscription_end(subscription=subscription)
    subscription.refresh_from_db()
    assert subscription.status == S.ENDED
    assert not _fresh(eligible_user).is_verified


def test_expiry_task_and_command_are_idempotent(eligible_user):
    """Ensures that the Celery task and the management command do the same work, and running
    them again changes nothing more."""
    subscription = _active(eligible_user)
    services.subscription_cancel(subscription=subscription)
    other_subscription = _active(eligible_account())
    services.subscription_payment_fail(subscription=other_subscription)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert subscriptions_expire_task.delay().get() == {"ended": 1, "past_due": 0, "lapsed": 1}
        assert subscriptions_expire_task.delay().get() == {"ended": 0, "past_due": 0, "lapsed": 0}
        out = StringIO()
        call_command("expire_subscriptions", stdout=out)
        assert "0 ended, 0 past due, 0 lapsed" in out.getvalue()
        statuses = set(Subscription.objects.values_list("status", flat=True))
        assert statuses == {S.ENDED, S.LAPSED}
        assert not User.objects.filter(is_verified=True).exists()


def test_expiry_command_reports_counts(eligible_user):
    """Ensures that `manage.py expire_subscriptions` does the work and says what it did."""
    subscription = _active(eligible_user)
    services.subscription_cancel(subscription=subscription)
    with time_machine.travel(subscription.current_period_end + timedelta(seconds=1)):
        out = StringIO()
        call_command("expire_subscriptions", stdout=out)
        assert "1 ended, 0 past due, 0 lapsed" in out.getvalue()


def test_username_change_puts_badge_on_hold_until_approved(eligible_user):
    """Ensures that renaming a verified account removes the badge until an admin re-approves
    it, and that the approval is logged."""
    _active(eligible_user)
    admin_user = UserFactory(is_staff=True)
    services.user_username_change(user=eligible_user, new_username="brand_new_name")
    user = _fresh(eligible_user)
    assert user.username == "brand_new_name"
    assert not user.is_verified
    assert Subscription.objects.get(user=user).badge_on_hold
    assert Subscription.objects.get(user=user).status == S.ACTIVE

    assert services.verification_badge_approve(user=user, actor=admin_user, reason="Same person")
    assert _fresh(user).is_verified
    from core.models import AdminActionLog

    log = AdminActionLog.objects.get(action="verification_badge_approve")
    assert log.actor == admin_user
    assert log.target_object_id == str(user.pk)


def test_username_change_checks_the_name():
    """Ensures that renaming refuses taken or invalid names and leaves unverified accounts
    without any hold."""
    user, other = UserFactory(), UserFactory()
    with pytest.raises(ValidationError):
        services.user_username_change(user=user, new_username=other.username.upper())
    with pytest.raises(ValidationError):
        services.user_username_change(user=user, new_username="not valid!")
    services.user_username_change(user=user, new_username="fine_name")
    assert _fresh(user).username == "fine_name"
    assert not _fresh(user).is_verified


def test_only_the_newest_checkout_can_be_paid(eligible_user):
    """Ensures that starting a second checkout closes the first, so nobody pays twice."""
    first, _ = services.subscription_checkout_start(user=eligible_user)
    second, _ = services.subscription_checkout_start(user=eligible_user)
    first.refresh_from_db()
    assert first.status == S.CHECKOUT_CANCELED
    with pytest.raises(ValidationError, match="already closed"):
        services.subscription_dev_checkout_complete(subscription=first, outcome="pay")
    services.subscription_dev_checkout_complete(subscription=second, outcome="pay")
    assert Subscription.objects.filter(user=eligible_user, status=S.ACTIVE).count() == 1


def test_a_failure_after_the_period_ended_counts_grace_from_the_period_end(eligible_user, settings):
    """Ensures that a payment failure reported after the period's end, before the expiry job
    ran, gives the grace the job would have given (from the period's end), not a fresh one."""
    settings.VERIFICATION_GRACE_DAYS = 3
    subscription = _active(eligible_user)
    period_end = subscription.current_period_end
    with time_machine.travel(period_end + timedelta(hours=20)):
        subscription = services.subscription_payment_fail(subscription=subscription)
        assert subscription.status == S.PAST_DUE
        assert subscription.grace_until == period_end + timedelta(days=3)
        assert _fresh(eligible_user).is_verified
    with time_machine.travel(period_end + timedelta(days=3, seconds=1)):
        assert services.subscriptions_expire()["lapsed"] == 1
        assert not _fresh(eligible_user).is_verified


def test_a_failure_reported_after_grace_would_have_run_out_lapses_at_once(eligible_user, settings):
    """Ensures that a failure reported (late, or replayed under a new event id) after the
    period ended longer ago than the grace period grants no grace: the subscription lapses
    at once and the badge goes, as the expiry job would have done."""
    settings.VERIFICATION_GRACE_DAYS = 3
    subscription = _active(eligible_user)
    with time_machine.travel(subscription.current_period_end + timedelta(days=10), tick=False):
        subscription = services.subscription_payment_fail(subscription=subscription)
        assert subscription.status == S.LAPSED
        assert subscription.ended_at == timezone.now()
        assert not _fresh(eligible_user).is_verified
        assert services.subscriptions_expire() == {"ended": 0, "past_due": 0, "lapsed": 0}
        services.subscription_payment_fail(subscription=subscription)
        subscription.refresh_from_db()
        assert subscription.status == S.LAPSED


def test_a_failure_after_grace_ran_out_does_not_renew_it(eligible_user, settings):
    """Ensures that a failure arriving when grace has run out but the expiry job has not yet
    lapsed the subscription leaves ``grace_until`` as it was, so the job lapses it."""
    settings.VERIFICATION_GRACE_DAYS = 3
    subscription = _active(eligible_user)
    subscription = services.subscription_payment_fail(subscription=subscription)
    grace_until = subscription.grace_until
    with time_machine.travel(grace_until + timedelta(minutes=5)):
        subscription = services.subscription_payment_fail(subscription=subscription)
        assert (subscription.status, subscription.grace_until) == (S.PAST_DUE, grace_until)
        assert services.subscriptions_expire()["lapsed"] == 1
        assert not _fresh(eligible_user).is_verified


def test_a_failure_for_a_period_already_paid_changes_nothing(eligible_user):
    """Ensures that a failure for a period a renewal already paid (Stripe delivered the
    failed attempt after the successful retry) leaves the subscription active."""
    subscription = _active(eligible_user)
    paid_to = subscription.current_period_end + timedelta(days=30)
    with time_machine.travel(subscription.current_period_end + timedelta(hours=2)):
        services.subscription_renew(subscription=subscription, period_end=paid_to)
        subscription = services.subscription_payment_fail(
            subscription=subscription, period_end=paid_to
        )
        assert (subscription.status, subscription.grace_until) == (S.ACTIVE, None)
        assert subscription.current_period_end == paid_to
        assert _fresh(eligible_user).is_verified
