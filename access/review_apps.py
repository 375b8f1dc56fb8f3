"""The review's "Apps" screen: reading per OAuth app (an app is a unit of bulk access: one
registered app can read for thousands of accounts), and suspending or reinstating an app.

Suspension itself is ``accounts.oauth.services.application_suspend``: the app's tokens stop
working on the next request and the admin action log records who did it and why.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import OAuthApplication
from accounts.oauth.services import application_suspend, application_unsuspend

from .detectors import APP_SCRAPING
from .models import AccessLogEntry, Flag
from .views_review import _context, review_view


@dataclass(frozen=True)
class AppReading:
    """What one app read in the period: through how many accounts, how much, refused how often."""

    application: OAuthApplication | None
    application_id: int
    accounts: int
    requests: int
    delivered: int
    refused: int
    open_flags: int


def app_reading(*, hours: int = 24, now: datetime | None = None) -> list[AppReading]:
    """Reading per app over the last ``hours``, most posts first (one grouped query on the
    access log's (application_id, created_at) index, one for the apps, one for the flags)."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    rows = list(
        AccessLogEntry.objects.filter(created_at__gte=since, application_id__isnull=False)
        .values("application_id")
        .annotate(
            accounts=Count("user_id", distinct=True),
            requests=Count("id"),
            delivered=Sum("delivered"),
            refused=Sum("refused"),
        )
        .order_by("-delivered", "application_id")
    )
    apps = OAuthApplication.objects.in_bulk([row["application_id"] for row in rows])
    flags = dict(
        Flag.objects.filter(status=Flag.OPEN, rule=APP_SCRAPING)
        .values_list("principal")
        .annotate(count=Count("id"))
    )
    return [
        AppReading(
            application=apps.get(row["application_id"]),
            application_id=row["application_id"],
            accounts=row["accounts"],
            requests=row["requests"],
            delivered=row["delivered"] or 0,
            refused=row["refused"] or 0,
            open_flags=flags.get(f"app:{row['application_id']}", 0),
        )
        for row in rows
    ]


class AppActionForm(forms.Form):
    """Suspend or reinstate an app, with the reason that goes into the admin action log."""

    action = forms.ChoiceField(choices=[("suspend", "Suspend"), ("unsuspend", "Reinstate")])
    reason = forms.CharField(max_length=1000, strip=True)


@review_view
@require_GET
def app_list(request):
    """Per-app reading over the last 24 hours, with suspend / reinstate forms."""
    context = _context(
        request, title="Reading per app (last 24 hours)", apps=app_reading(), form=AppActionForm()
    )
    return TemplateResponse(request, "access/review/apps.html", context)


@review_view
@require_POST
def app_act(request, application_id: int):
    """Suspend (its tokens stop at once) or reinstate one app; a reason is required."""
    application = get_object_or_404(OAuthApplication, pk=application_id)
    form = AppActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason: it goes into the admin action log.")
        return redirect("admin:access_review:apps")
    reason = form.cleaned_data["reason"]
    if form.cleaned_data["action"] == "suspend":
        application_suspend(application=application, actor=request.user, reason=reason)
        messages.success(request, f"“{application.name}” suspended: its tokens stopped working.")
    else:
        application_unsuspend(application=application, actor=request.user, reason=reason)
        messages.success(request, f"“{application.name}” reinstated.")
    return redirect("admin:access_review:apps")
