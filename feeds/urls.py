"""Timelines, profiles, post pages and the buttons that act on them."""

from django.urls import path

from . import views

app_name = "feeds"

urlpatterns = [
    path("", views.home, name="home"),
    path("public/", views.public, name="public"),
    path("@<str:username>/", views.profile, name="profile"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
]
