"""The admin site: Django's, with the bulk-access review screens mounted inside it.

The review pages (``access/urls.py``) live at ``admin/review/`` so that they share the admin's
login, look and ``admin:`` namespace (``admin:access_review:…``); each view also requires the
review permission. Installed in place of ``django.contrib.admin`` (settings.INSTALLED_APPS),
so ``admin.site`` is this site and every app's ``@admin.register`` lands here.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpResponsePermanentRedirect
from django.urls import include, path, re_path

# Models that changed app (issue 13): their admin pages answer at the old address too.
MOVED_MODELS = [
    ("accounts", "adminactionlog", "core"),
    ("access", "securityevent", "core"),
    ("accounts", "plan", "verification"),
    ("accounts", "subscription", "verification"),
    ("accounts", "paymentwebhookevent", "verification"),
]


def _moved_model_redirect(old_label: str, model: str, new_label: str):
    def redirect_view(request, rest: str = ""):
        path_now = request.path.replace(f"/{old_label}/{model}/", f"/{new_label}/{model}/", 1)
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{path_now}?{query}" if query else path_now)

    return redirect_view


class MicroblogAdminSite(admin.AdminSite):
    """Django's admin with the review dashboard and flag pages under ``review/``."""

    index_template = "admin/access/index_with_review.html"

    def get_urls(self):
        moved = [
            re_path(
                rf"^{old_label}/{model}/(?P<rest>.*)$",
                self.admin_view(_moved_model_redirect(old_label, model, new_label)),
            )
            for old_label, model, new_label in MOVED_MODELS
        ]
        return [path("review/", include("access.urls")), *moved, *super().get_urls()]


class MicroblogAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``MicroblogAdminSite`` as the default site."""

    default_site = "microblog.admin_site.MicroblogAdminSite"
