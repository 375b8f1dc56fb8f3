"""Mount the leak-tracing page in the admin site, beside the review screens (access/admin.py)."""

from django.contrib import admin
from django.urls import include, path


def _with_leak_urls(get_urls):
    def get_urls_with_leaks():
        return [path("review/leaks/", include("leaks.urls")), *get_urls()]

    return get_urls_with_leaks


admin.site.get_urls = _with_leak_urls(admin.site.get_urls)
