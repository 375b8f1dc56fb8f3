"""Read-only admin views of the database read ledger, for support and review."""

from django.contrib import admin

from .models import ReadDay


@admin.register(ReadDay)
class ReadDayAdmin(admin.ModelAdmin):
    """How many posts each reader read per UTC day (database ledger only)."""

    list_display = ["principal", "day", "used"]
    list_filter = ["day"]
    search_fields = ["principal"]
    ordering = ["-day", "-used"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
