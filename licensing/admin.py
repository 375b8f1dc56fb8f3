"""Admin for the licensed lane: data plans are edited here (like tiers); licences and
receipts are shown for support and review."""

from django.contrib import admin

from .models import DataPlan, Licence, Receipt


@admin.register(DataPlan)
class DataPlanAdmin(admin.ModelAdmin):
    """Data plans: quota and price changes apply to the next request."""

    list_display = ["name", "slug", "monthly_post_quota", "price_display", "is_active"]
    list_editable = ["monthly_post_quota", "is_active"]


@admin.register(Licence)
class LicenceAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "plan",
        "status",
        "provider",
        "activated_at",
        "current_period_end",
        "cancel_at_period_end",
    ]
    list_filter = ["plan", "status", "provider", "cancel_at_period_end"]
    search_fields = ["user__username", "provider_subscription_id"]
    readonly_fields = [
        "checkout_ref",
        "created_at",
        "provider_checkout_id",
        "provider_customer_id",
        "provider_subscription_id",
    ]


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Receipts are evidence: read only."""

    list_display = ["receipt_id", "licence", "issued_at", "key_id"]
    search_fields = ["receipt_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
