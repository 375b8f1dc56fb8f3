"""The settings "Apps" tab: the OAuth apps a person has authorized, and taking access back."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .models import OAuthApplication
from .scopes import scope_describe
from .selectors import authorized_apps
from .services import application_authorization_revoke


@never_cache
@login_required
@require_GET
def apps_list(request):
    """Each authorized app: its name, what it may do, when it was authorized, last used."""
    apps = [
        (item, [(scope, scope_describe(scope)) for scope in item.scopes])
        for item in authorized_apps(user=request.user)
    ]
    return render(request, "accounts/oauth/apps.html", {"apps": apps})


@login_required
@require_POST
def app_revoke(request, application_id: int):
    """Take back an app's access: every token it holds for this person stops working."""
    application = OAuthApplication.objects.filter(pk=application_id).first()
    if application is None or not application_authorization_revoke(
        user=request.user, application=application
    ):
        raise Http404("You have not authorized this app.")
    messages.success(
        request, f"“{application.name}” can no longer use your account. It stops immediately."
    )
    return redirect("accounts:apps")
