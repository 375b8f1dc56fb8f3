"""The review screens under the admin: dashboard, flag queue and one flag with its actions.

Every view goes through ``review_view``: the admin's own login check (anonymous and non-staff
are sent to the admin login), then the review permission (staff without it get 403).
"""

from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors_review as selectors
from . import services_review as services
from .charts import legend, stacked_bars_svg
from .detectors import RULE_LABELS
from .models import Flag


def review_view(view):
    """Admin login required, then the review permission; adds the admin's page context."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not selectors.can_review(request.user):
            raise PermissionDenied("You need the “review scrape logs” permission.")
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


class ActionForm(forms.Form):
    """One reviewer action on a flag, with the reason that goes into the admin action log."""

    action = forms.ChoiceField(choices=list(services.ACTION_LABELS.items()))
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        max_length=1000,
        help_text="Required. Kept in the admin action log and shown on the flag.",
    )


@review_view
@require_http_methods(["GET"])
def dashboard(request):
    """Posts read per hour by tier (24 h, 7 d), top readers today, refusals, open flags."""
    day = selectors.reads_per_hour(hours=24)
    week = selectors.reads_per_hour(hours=24 * 7)
    context = _context(
        request,
        title="Bulk-access review",
        day_chart=stacked_bars_svg(
            day, title="Posts read per hour by tier, last 24 hours", label_every=2
        ),
        week_chart=stacked_bars_svg(
            week, title="Posts read per hour by tier, last 7 days", label_every=24
        ),
        day_legend=legend(day),
        week_legend=legend(week),
        day_total=day.total,
        week_total=week.total,
        top_readers=selectors.top_readers_today(),
        refusals=selectors.refusals_today(),
        flags_by_rule=selectors.open_flags_by_rule(),
        queue=selectors.flags_with_accounts(selectors.flag_queue()[:10]),
        rule_labels=RULE_LABELS,
    )
    return TemplateResponse(request, "access/review/dashboard.html", context)


@review_view
@require_http_methods(["GET"])
def flag_list(request):
    """The review queue: open flags by default, highest score and newest first."""
    status = request.GET.get("status", Flag.OPEN)
    if status not in {Flag.OPEN, Flag.DISMISSED, Flag.ACTIONED, "all"}:
        status = Flag.OPEN
    rule = request.GET.get("rule") if request.GET.get("rule") in RULE_LABELS else None
    queue = selectors.flag_queue(status=None if status == "all" else status, rule=rule)
    flags = selectors.flags_with_accounts(queue[:200])
    context = _context(
        request,
        title="Flags to review",
        flags=flags,
        status=status,
        rule=rule,
        rule_labels=RULE_LABELS,
        statuses=[
            (Flag.OPEN, "Open"),
            (Flag.ACTIONED, "Actioned"),
            (Flag.DISMISSED, "Dismissed"),
            ("all", "All"),
        ],
    )
    return TemplateResponse(request, "access/review/flag_list.html", context)


@review_view
@require_http_methods(["GET"])
def flag_detail(request, flag_id: int):
    """One flag: its evidence, links to the log records, actions taken and the action form."""
    flag = get_object_or_404(Flag, pk=flag_id)
    return _flag_page(request, flag, ActionForm())


def _flag_page(request, flag: Flag, form: ActionForm, status: int = 200):
    context = _context(
        request,
        title=f"Flag #{flag.pk}: {RULE_LABELS.get(flag.rule, flag.rule)}",
        flag=flag,
        rule_label=RULE_LABELS.get(flag.rule, flag.rule),
        figures=selectors.flag_figures(flag=flag),
        log_links=selectors.flag_log_links(flag=flag),
        actions_taken=selectors.flag_actions(flag=flag),
        flagged_user=selectors.flag_user(flag=flag),
        form=form,
        action_labels=services.ACTION_LABELS,
    )
    return TemplateResponse(request, "access/review/flag_detail.html", context, status=status)


@review_view
@require_POST
def flag_act(request, flag_id: int):
    """Apply one action (with its reason) to a flag, then show the flag again."""
    flag = get_object_or_404(Flag, pk=flag_id)
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _flag_page(request, flag, form, status=400)
    action = services.ACTIONS[form.cleaned_data["action"]]
    try:
        result = action(flag=flag, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return _flag_page(request, flag, form, status=400)
    messages.success(request, result.message)
    return redirect("admin:access_review:flag", flag_id=flag.pk)
