"""Timelines, profiles, post pages and the buttons that act on them."""

from django.urls import path

from . import views

app_name = "feeds"

urlpatterns = [
    path("", views.home, name="home"),
    path("public/", views.public, name="public"),
    path("@<str:username>/", views.profile, name="profile"),
    path("@<str:username>/follow/", views.follow, name="follow"),
    path("@<str:username>/unfollow/", views.unfollow, name="unfollow"),
    path("posts/new/", views.post_create, name="post_create"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/like/", views.post_like, name="like"),
    path("posts/<int:post_id>/unlike/", views.post_unlike, name="unlike"),
    path("posts/<int:post_id>/repost/", views.post_repost, name="repost"),
    path("posts/<int:post_id>/unrepost/", views.post_unrepost, name="unrepost"),
    path("posts/<int:post_id>/delete/", views.post_delete, name="delete"),
]
