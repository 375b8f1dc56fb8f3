"""Admin for accounts: users (tier override, suspension, tokens), editable tiers, email
confirmations and the admin action log. Paid verification adds its inline and actions to the
user admin in verification/admin.py.

Tier overrides, suspensions and token revocations go through ``accounts.moderation``, the same
services the review screens use, and each is written to the admin action log.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from core.models import AdminActionLog

from . import moderation
from .models import EmailConfirmation, Tier, User
from .selectors import effective_tier_slug


class ReasonForm(forms.Form):
    """The reason an admin gives for an action on accounts; it goes into the action log."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Kept in the admin action log.",
    )


def reason_action(modeladmin, request, queryset, *, title, form_class, apply):
    """Ask for a reason on an intermediate page, then ``apply(user, cleaned_data)`` to each
    selected user."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for user in queryset:
            try:
                apply(user, form.cleaned_data)
                done += 1
            except ValidationError as exc:
                modeladmin.message_user(
                    request, f"{user}: {' '.join(exc.messages)}", messages.ERROR
                )
        modeladmin.message_user(request, f"{title}: done for {done} account(s).", messages.SUCCESS)
        return None
    return TemplateResponse(
        request,
        "accounts/verification/admin_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "queryset": queryset,
            "opts": modeladmin.model._meta,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        },
    )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Users with their tier override and verification; badge changes go through actions."""

    list_display = [
        "username",
        "email",
        "display_name",
        "is_verified",
        "tier_override",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["is_verified", "tier_override", "is_staff", "is_active"]
    search_fields = ["username", "email", "display_name"]
    readonly_fields = [
        "is_verified",
        "effective_tier",
        "followers_count",
        "following_count",
        "posts_count",
    ]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Profile", {"fields": ["display_name", "bio"]}),
        (
            "Tier and verification",
            {
                "fields": ["tier_override", "effective_tier", "is_verified"],
                "description": (
                    "Grant, revoke or re-approve verification with the actions on the user list."
                ),
            },
        ),
        ("Counts", {"fields": ["followers_count", "following_count", "posts_count"]}),
    )
    # Emails are unique (case-insensitive), so an account added here needs one too.
    add_fieldsets = (
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "email", "usable_password", "password1", "password2"],
            },
        ),
    )
    actions = ["suspend_accounts", "revoke_tokens"]

    def save_model(self, request, obj, form, change):
        # The tier override and suspension have one write path each (accounts.moderation),
        # shared with the review screens: the admin's form only hands them the new value.
        new_tier = obj.tier_override
        override_changed = change and "tier_override" in form.changed_data
        suspended = change and "is_active" in form.changed_data and not obj.is_active
        reinstated = change and "is_active" in form.changed_data and obj.is_active
        if override_changed:
            obj.tier_override_id = form.initial.get("tier_override")
        if suspended:
            obj.is_active = True
        super().save_model(request, obj, form, change)
        if override_changed:
            moderation.user_tier_override_set(
                user=obj,
                tier=new_tier,
                actor=request.user,
                reason="Changed in the admin",
                request=request,
            )
        if suspended:
            moderation.user_suspend(user=obj, actor=request.user, reason="Suspended in the admin")
        if reinstated:
            moderation.account_visibility_changed(user_id=obj.pk)

    @admin.display(description="Effective tier")
    def effective_tier(self, obj):
        return effective_tier_slug(obj) if obj.pk else "-"

    @admin.action(description="Suspend (with a reason)", permissions=["change"])
    def suspend_accounts(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Suspend",
            form_class=ReasonForm,
            apply=lambda user, data: moderation.user_suspend(
                user=user, actor=request.user, reason=data["reason"]
            ),
        )

    @admin.action(description="Revoke all API tokens (with a reason)", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        return reason_action(
            self,
            request,
            queryset,
            title="Revoke API tokens",
            form_class=ReasonForm,
            apply=lambda user, data: moderation.user_tokens_revoke(
                user=user, actor=request.user, reason=data["reason"]
            ),
        )


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """Reading tiers: budgets are edited here and apply from the next request."""

    list_display = ["slug", "name", "daily_read_budget", "description", "sort_order"]
    list_editable = ["daily_read_budget"]
    readonly_fields = ["slug"]  # code and data refer to tiers by slug

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EmailConfirmation)
class EmailConfirmationAdmin(admin.ModelAdmin):
    """Confirmation links sent (hashes only), to answer "I never got the email"."""

    list_display = ["user", "email", "created_at", "expires_at", "used_at"]
    search_fields = ["user__username", "email"]
    exclude = ["token_hash"]
    readonly_fields = ["user", "email", "created_at", "expires_at", "used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(AdminActionLog)
class AdminActionLogAdmin(admin.ModelAdmin):
    """The admin action log: append-only, so nobody edits or deletes it here."""

    list_display = ["created_at", "actor", "action", "target_repr", "reason"]
    list_filter = ["action"]
    search_fields = ["target_repr", "reason", "actor__username"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
