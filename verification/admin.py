"""Admin for paid verification: the plan, subscriptions (read-only), processed payment events,
and on the user admin a subscriptions inline and the grant / revoke / re-approve actions.

Verification is granted, revoked and re-approved only through those actions, which ask for a
reason and write it to the admin action log; the badge flag itself is read-only.
"""

from django import forms
from django.contrib import admin

from accounts.admin import ReasonForm, reason_action
from accounts.admin import UserAdmin as AccountsUserAdmin
from accounts.models import User

from . import services
from .models import PaymentWebhookEvent, Plan, Subscription


class GrantForm(ReasonForm):
    """A verification grant: the reason, and when it ends (if ever)."""

    until = forms.DateTimeField(
        required=False, help_text="Optional end (UTC, YYYY-MM-DD HH:MM). Empty: until revoked."
    )


class SubscriptionInline(admin.TabularInline):
    """A user's subscriptions, read-only: they change only through the services."""

    model = Subscription
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "status",
        "provider",
        "plan",
        "current_period_end",
        "cancel_at_period_end",
        "grace_until",
        "badge_on_hold",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# accounts/ registers the user admin; billing adds what it knows about users to it.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AccountsUserAdmin):
    """The accounts user admin, with subscriptions and the verification actions."""

    inlines = [SubscriptionInline]
    actions = [
        "grant_verification",
        "revoke_verification",
        "approve_badge",
        *AccountsUserAdmin.actions,
    ]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new account has no subscriptions

    @admin.action(description="Grant verification (with a reason)", permissions=["change"])
    def grant_verification(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Grant verification",
            form_class=GrantForm,
            apply=lambda user, data: services.verification_grant(
                user=user, actor=request.user, reason=data["reason"], until=data.get("until")
            ),
        )

    @admin.action(description="Revoke verification (with a reason)", permissions=["change"])
    def revoke_verification(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Revoke verification",
            form_class=ReasonForm,
            apply=lambda user, data: services.verification_revoke(
                user=user, actor=request.user, reason=data["reason"]
            ),
        )

    @admin.action(
        description="Re-approve badge on hold after a username change", permissions=["change"]
    )
    def approve_badge(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Re-approve badge",
            form_class=ReasonForm,
            apply=lambda user, data: services.verification_badge_approve(
                user=user, actor=request.user, reason=data["reason"]
            ),
        )


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """What verification costs; a price change applies to new checkouts."""

    list_display = ["name", "slug", "price_minor", "currency", "interval", "is_active"]
    list_editable = ["price_minor", "currency", "is_active"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Subscriptions, read-only: payments and the user admin's actions change them."""

    list_display = [
        "user",
        "status",
        "provider",
        "current_period_end",
        "cancel_at_period_end",
        "grace_until",
        "badge_on_hold",
        "created_at",
    ]
    list_filter = ["status", "provider", "badge_on_hold", "cancel_at_period_end"]
    search_fields = [
        "user__username",
        "user__email",
        "provider_subscription_id",
        "provider_customer_id",
    ]
    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentWebhookEvent)
class PaymentWebhookEventAdmin(admin.ModelAdmin):
    """Payment provider events already processed (replays of these are ignored)."""

    list_display = ["received_at", "provider", "event_type", "event_id"]
    list_filter = ["provider", "event_type"]
    search_fields = ["event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
