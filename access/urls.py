"""The review screens. Mounted inside the admin site (``admin/review/``) by access/admin.py,
so they share its login, its look and its ``admin:`` namespace: ``admin:access_review:…``."""

from django.urls import path

from . import review_apps, views_review

app_name = "access_review"

urlpatterns = [
    path("", views_review.dashboard, name="dashboard"),
    path("flags/", views_review.flag_list, name="flags"),
    path("flags/<int:flag_id>/", views_review.flag_detail, name="flag"),
    path("flags/<int:flag_id>/act/", views_review.flag_act, name="flag_act"),
    path("apps/", review_apps.app_list, name="apps"),
    path("apps/<int:application_id>/act/", review_apps.app_act, name="app_act"),
]
