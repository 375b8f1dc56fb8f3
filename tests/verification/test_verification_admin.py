"""Tests for admin grant, revoke and badge re-approval: each needs a reason and is logged."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.models import Tier, User
from accounts.selectors import effective_tier_slug
from core.models import AdminActionLog
from tests.factories import UserFactory
from verification import services
from verification.models import Subscription

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


def test_grant_needs_a_reason_and_is_logged(admin_client):
    """Ensures that the grant action asks for a reason first, then verifies the account and
    records who, what, whom and why."""
    user = UserFactory()
    data = {"action": "grant_verification", ACTION_CHECKBOX_NAME: [user.pk]}
    page = admin_client.post(CHANGELIST, data)
    assert page.status_code == 200
    assert "reason" in page.content.decode()
    assert not User.objects.get(pk=user.pk).is_verified

    admin_client.post(CHANGELIST, {**data, "apply": "1", "reason": ""})
    assert not User.objects.get(pk=user.pk).is_verified
    assert not AdminActionLog.objects.exists()

    response = admin_client.post(CHANGELIST, {**data, "apply": "1", "reason": "News org"})
    assert response.status_code == 302
    fresh = User.objects.get(pk=user.pk)
    assert fresh.is_verified
    assert effective_tier_slug(fresh) == "verified"
    subscription = Subscription.objects.get(user=user)
    assert subscription.provider == Subscription.PROVIDER_MANUAL
    assert subscription.current_period_end is None
    log = AdminActionLog.objects.get()
    assert (log.actor, log.action, log.reason) == (
        admin_client.admin_user,
        "verification_grant",
        "News org",
    )
    assert log.target_object_id == str(user.pk)
    assert log.target_repr == user.username
    assert log.details["subscription_id"] == subscription.pk


def test_manual_grant_never_expires():
    """Ensures that an admin grant without an end survives the expiry task."""
    user = UserFactory()
    services.verification_grant(user=user, actor=None, reason="Org")
    assert services.subscriptions_expire() == {"ended": 0, "past_due": 0, "lapsed": 0}
    assert User.objects.get(pk=user.pk).is_verified


def test_revoke_removes_paid_verification_and_is_logged(admin_client, eligible_user):
    """Ensures that revoking ends a paid subscription at once, removes the badge and logs
    the reason."""
    subscription, _ = services.subscription_checkout_start(user=eligible_user)
    services.subscription_activate(subscription=subscription)
    response = admin_client.post(
        CHANGELIST,
        {
            "action": "revoke_verification",
            ACTION_CHECKBOX_NAME: [eligible_user.pk],
            "apply": "1",
            "reason": "Impersonation",
        },
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=eligible_user.pk).is_verified
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.REVOKED
    log = AdminActionLog.objects.get(action="verification_revoke")
    assert log.reason == "Impersonation"
    assert log.details["subscription_ids"] == [subscription.pk]


def test_approve_badge_action(admin_client, eligible_user):
    """Ensures that the re-approve action lifts a username-change hold and is logged."""
    services.verification_grant(user=eligible_user, actor=None, reason="Org")
    services.user_username_change(user=eligible_user, new_username="renamed")
    assert not User.objects.get(pk=eligible_user.pk).is_verified
    admin_client.post(
        CHANGELIST,
        {
            "action": "approve_badge",
            ACTION_CHECKBOX_NAME: [eligible_user.pk],
            "apply": "1",
            "reason": "Checked: same organisation",
        },
    )
    assert User.objects.get(pk=eligible_user.pk).is_verified
    assert AdminActionLog.objects.filter(action="verification_badge_approve").count() == 1


def test_admin_pages_render(admin_client, eligible_user):
    """Ensures that the user, tier, plan, subscription and log admin pages render."""
    services.verification_grant(user=eligible_user, actor=admin_client.admin_user, reason="x")
    for url in (
        CHANGELIST,
        reverse("admin:accounts_user_change", args=[eligible_user.pk]),
        "/admin/accounts/tier/",
        "/admin/verification/plan/",
        "/admin/verification/subscription/",
        "/admin/core/adminactionlog/",
        "/admin/accounts/emailconfirmation/",
        "/admin/verification/paymentwebhookevent/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_tier_budget_is_editable_in_admin(admin_client):
    """Ensures that an admin can change a tier's budget from the tier list."""
    tiers = list(Tier.objects.order_by("sort_order", "slug"))
    data = {
        "form-TOTAL_FORMS": str(len(tiers)),
        "form-INITIAL_FORMS": str(len(tiers)),
        "_save": "Save",
    }
    for i, tier in enumerate(tiers):
        data[f"form-{i}-id"] = str(tier.pk)
        budget = 12345 if tier.slug == "verified" else tier.daily_read_budget
        data[f"form-{i}-daily_read_budget"] = "" if budget is None else str(budget)
    response = admin_client.post("/admin/accounts/tier/", data)
    assert response.status_code == 302
    assert Tier.objects.get(slug="verified").daily_read_budget == 12345
    assert Tier.objects.get(slug="unlimited").daily_read_budget is None


def test_action_log_is_read_only_in_admin(admin_client):
    """Ensures that nobody can edit or delete admin action log entries in the admin."""
    services.verification_grant(user=UserFactory(), actor=admin_client.admin_user, reason="x")
    log = AdminActionLog.objects.get()
    url = reverse("admin:core_adminactionlog_delete", args=[log.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert AdminActionLog.objects.filter(pk=log.pk).exists()


def test_admin_can_add_a_user_with_an_email(admin_client):
    """Ensures that the admin's add-user form asks for the (unique) email address."""
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "added_by_admin",
            "email": "added@example.com",
            "usable_password": "true",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(username="added_by_admin").email == "added@example.com"
