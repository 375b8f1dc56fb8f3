"""Admin for access controls: the read ledger, and the bulk-access review (access log, security
events, flags, IP blocks) that only staff with ``access.review_scrape_logs`` may see.

The review dashboard and flag pages (access/urls.py) are mounted into the admin site at
``admin/review/`` by ``microblog.admin_site``, so they share its login and look; the admin
index links to them.
Every reviewer action and every CSV export is written to the admin action log.
"""

import ipaddress

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.models import SecurityEvent

from . import selectors_review, services, services_review
from .crawlers import crawler_agents_changed
from .csv_export import SafeCsvRows
from .detectors import RULE_LABELS
from .models import AccessLogEntry, CrawlerAgent, Flag, IPBlock, ReadDay


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


class ReviewOnly:
    """Visible only with the review permission, whatever model permissions a user holds."""

    def has_module_permission(self, request):
        return selectors_review.can_review(request.user)

    def has_view_permission(self, request, obj=None):
        return selectors_review.can_review(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InputFilter(admin.SimpleListFilter):
    """A list filter that is a text box (for values too many to list: users, IP prefixes)."""

    template = "admin/access/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the filter only shows when it has lookups

    def choices(self, changelist):
        params = changelist.get_filters_params()
        hidden = []
        for key, values in params.items():
            if key == self.parameter_name:
                continue
            for value in values if isinstance(values, list) else [values]:
                hidden.append((key, value))
        yield {"hidden": hidden, "value": self.value() or "", "name": self.parameter_name}


class UserFilter(InputFilter):
    title = "user (username or principal)"
    parameter_name = "reader"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if ":" in value:
            return queryset.filter(principal=value)
        return queryset.filter(user__username__iexact=value)


class IPPrefixFilter(InputFilter):
    title = "IP or prefix (e.g. 198.51.100.0/24)"
    parameter_name = "network"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return queryset.none()
        if network.num_addresses == 1:
            return queryset.filter(client_ip=str(network.network_address))
        if network.prefixlen == (24 if network.version == 4 else 64):
            return queryset.filter(ip_prefix=str(network))  # the log's own grouping, indexed
        if network.version == 4 and network.prefixlen % 8 == 0:
            octets = str(network.network_address).split(".")[: network.prefixlen // 8]
            return queryset.filter(client_ip__startswith=".".join(octets) + ".")
        # Other sizes: give the reviewer the /24s or /64s inside it, by the indexed column.
        return queryset.filter(ip_prefix__in=_subnets(network))


def _subnets(network) -> list[str]:
    size = 24 if network.version == 4 else 64
    if network.prefixlen > size:
        return [str(network.supernet(new_prefix=size))]
    if size - network.prefixlen > 10:
        return []  # wider than 1024 /24s: too broad to list
    return [str(subnet) for subnet in network.subnets(new_prefix=size)]


class RefusedFilter(admin.SimpleListFilter):
    title = "refused"
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [("yes", "Refused > 0"), ("no", "Nothing refused")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(refused__gt=0)
        if self.value() == "no":
            return queryset.filter(refused=0)
        return queryset


CSV_FIELDS = [
    "id",
    "record_id",
    "created_at",
    "principal",
    "user_id",
    "token_id",
    "application_id",
    "tier",
    "client_ip",
    "ip_prefix",
    "user_agent",
    "route_name",
    "path",
    "paging",
    "status",
    "delivered",
    "newly_charged",
    "refused",
    "remaining",
    "mode",
]


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReviewOnly, admin.ModelAdmin):
    """The access log: read-only, filterable, searchable, exportable (the export is recorded)."""

    list_display = [
        "when",
        "principal",
        "tier",
        "client_ip",
        "route_name",
        "status",
        "delivered",
        "refused",
        "remaining",
    ]
    list_display_links = ["when"]
    list_filter = [
        ("created_at", admin.DateFieldListFilter),
        UserFilter,
        "tier",
        IPPrefixFilter,
        "route_name",
        "status",
        RefusedFilter,
        "mode",
    ]
    search_fields = ["principal", "user__username", "=client_ip", "ip_prefix", "path", "user_agent"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = False
    show_full_result_count = False  # COUNT(*) over the whole log on every page is wasted work
    actions = ["export_csv"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    @admin.display(description="When (UTC)", ordering="created_at")
    def when(self, obj):
        return f"{obj.created_at:%Y-%m-%d %H:%M:%S}"

    @admin.action(description="Export selected records as CSV (recorded)", permissions=["view"])
    def export_csv(self, request, queryset):
        count = queryset.count()
        filters = {key: request.GET.getlist(key) for key in request.GET}
        with transaction.atomic():
            services_review.access_log_export_record(
                actor=request.user, filters=filters, count=count
            )
        # User agents and paths are the reviewed people's words: no cell may be a formula.
        writer = SafeCsvRows()

        def rows():
            yield writer.line(CSV_FIELDS)
            for entry in queryset.order_by("id").values_list(*CSV_FIELDS).iterator(2000):
                yield writer.line(entry)

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return StreamingHttpResponse(
            rows(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="access-log-{stamp}.csv"'},
        )


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReviewOnly, admin.ModelAdmin):
    """Log-ins, token and tier changes beside the access log: read-only."""

    list_display = ["created_at", "kind", "user", "username", "client_ip"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["username", "user__username", "=client_ip", "user_agent"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class FlagReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Kept in the admin action log and shown on each flag.",
    )


def _flag_action(action_name: str, description: str):
    """An admin action that asks for a reason, then applies one review service to each flag."""

    def action(modeladmin, request, queryset):
        form = FlagReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            service = services_review.ACTIONS[action_name]
            done = 0
            for flag in queryset:
                try:
                    service(flag=flag, actor=request.user, reason=form.cleaned_data["reason"])
                    done += 1
                except ValidationError as exc:
                    modeladmin.message_user(
                        request, f"Flag #{flag.pk}: {' '.join(exc.messages)}", messages.ERROR
                    )
            modeladmin.message_user(request, f"{description}: done for {done} flag(s).")
            return None
        return TemplateResponse(
            request,
            "admin/access/flag_action_reason.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": description,
                "form": form,
                "queryset": queryset,
                "opts": modeladmin.model._meta,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    action.__name__ = action_name
    return admin.action(description=f"{description} (asks for a reason)", permissions=["view"])(
        action
    )


@admin.register(Flag)
class FlagAdmin(ReviewOnly, admin.ModelAdmin):
    """The review queue: flags by score and recency, with their evidence and the actions."""

    list_display = ["score_badge", "rule_label", "principal", "summary", "last_seen", "status"]
    list_display_links = ["rule_label"]
    list_filter = ["status", "rule"]
    search_fields = ["principal", "ip_prefix"]
    ordering = ["-score", "-last_seen", "-id"]
    fields = [
        "review_link",
        "rule",
        "principal",
        "user",
        "token_id",
        "ip_prefix",
        "score",
        "first_seen",
        "last_seen",
        "evidence_readable",
        "status",
        "resolved_by",
        "resolved_at",
        "resolution",
        "actions_taken",
    ]
    readonly_fields = fields
    actions = [
        _flag_action(services_review.DISMISS, "Dismiss"),
        _flag_action(services_review.RESTRICT_TIER, "Restrict the account's tier"),
        _flag_action(services_review.SUSPEND, "Suspend the account"),
        _flag_action(services_review.REVOKE_TOKENS, "Revoke the account's tokens"),
        _flag_action(services_review.BLOCK_PREFIX, "Block the IP prefix"),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "resolved_by")

    @admin.display(description="Score", ordering="score")
    def score_badge(self, obj):
        level = "high" if obj.score >= 80 else "mid" if obj.score >= 50 else ""
        return format_html('<span class="score {}">{}</span>', level, f"{obj.score:.0f}")

    @admin.display(description="Rule", ordering="rule")
    def rule_label(self, obj):
        return RULE_LABELS.get(obj.rule, obj.rule)

    @admin.display(description="Evidence")
    def summary(self, obj):
        return obj.evidence.get("summary", "")

    @admin.display(description="Review")
    def review_link(self, obj):
        url = reverse("admin:access_review:flag", args=[obj.pk])
        return format_html('<a href="{}">Open the review page to act on this flag →</a>', url)

    @admin.display(description="Evidence")
    def evidence_readable(self, obj):
        figures = format_html_join("", "<li>{}: {}</li>", selectors_review.flag_figures(flag=obj))
        links = format_html_join(
            "", '<li><a href="{1}">{0}</a></li>', selectors_review.flag_log_links(flag=obj)
        )
        return format_html(
            "<p>{}</p><ul>{}</ul><p>Log records:</p><ul>{}</ul>",
            obj.evidence.get("summary", ""),
            figures,
            links,
        )

    @admin.display(description="Actions taken")
    def actions_taken(self, obj):
        entries = selectors_review.flag_actions(flag=obj)
        if not entries:
            return "Nothing yet."
        return format_html_join(
            "",
            "<p>{} · {} · {} · {}</p>",
            (
                (
                    f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                    entry.actor,
                    services_review.ACTION_LABELS.get(entry.action, entry.action),
                    entry.reason,
                )
                for entry in entries
            ),
        )

    class Media:
        css = {"all": ["access/review.css"]}


class IPBlockForm(forms.ModelForm):
    class Meta:
        model = IPBlock
        fields = ["prefix", "reason", "expires_at"]

    def clean_prefix(self):
        try:
            return str(ipaddress.ip_network(self.cleaned_data["prefix"].strip(), strict=False))
        except ValueError as exc:
            raise ValidationError(
                "Enter a network such as 203.0.113.0/24 or 2001:db8::/64."
            ) from exc


@admin.register(IPBlock)
class IPBlockAdmin(admin.ModelAdmin):
    """Blocked networks (403 from middleware). Adding, changing and lifting are recorded."""

    form = IPBlockForm
    list_display = ["prefix", "reason", "created_by", "created_at", "expires_at"]
    search_fields = ["prefix", "reason"]
    ordering = ["-created_at"]

    def _allowed(self, request, obj=None):
        return selectors_review.can_review(request.user)

    has_module_permission = _allowed
    has_view_permission = _allowed
    has_add_permission = _allowed
    has_change_permission = _allowed
    has_delete_permission = _allowed

    def save_model(self, request, obj, form, change):
        if change:
            services.ip_block_change(block=obj, actor=request.user, changed=form.changed_data)
            return
        block = services.ip_block_add(
            prefix=obj.prefix,
            reason=obj.reason,
            actor=request.user,
            expires_at=obj.expires_at,
            details={"changed": form.changed_data},
        )
        # The admin goes on with its own instance (messages, the redirect): make it the row.
        obj.pk, obj.created_by, obj.created_at = block.pk, block.created_by, block.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.ip_block_remove(block=obj, actor=request.user, reason="Lifted in the admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(CrawlerAgent)
class CrawlerAgentAdmin(admin.ModelAdmin):
    """The known crawlers: robots.txt names them and the detector flags them (one list)."""

    list_display = ["token", "operator", "purpose", "in_robots_txt", "active"]
    list_filter = ["purpose", "in_robots_txt", "active"]
    list_editable = ["in_robots_txt", "active"]
    search_fields = ["token", "operator"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(crawler_agents_changed)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(crawler_agents_changed)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        transaction.on_commit(crawler_agents_changed)
