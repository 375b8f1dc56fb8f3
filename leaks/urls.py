"""The leak-tracing page, mounted in the admin site by microblog/admin_site.py:
``admin:leaks_review:…``."""

from django.urls import path

from . import views

app_name = "leaks_review"

urlpatterns = [
    path("", views.trace, name="trace"),
    path("flag/", views.flag_open, name="flag_open"),
]
