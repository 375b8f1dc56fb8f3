"""Timelines, profiles, post pages and the buttons that act on them."""

from django.urls import path

from . import social_views, views

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
    path("posts/<int:post_id>/bookmark/", social_views.post_bookmark, name="bookmark"),
    path("posts/<int:post_id>/unbookmark/", social_views.post_unbookmark, name="unbookmark"),
    path("notifications/", social_views.notifications, name="notifications"),
    path("notifications/read/", social_views.notifications_read, name="notifications_read"),
    path("bookmarks/", social_views.bookmarks, name="bookmarks"),
    path("favourites/", social_views.favourites, name="favourites"),
    path("tags/<str:tag>/", social_views.tag, name="tag"),
    path("search/", social_views.search_page, name="search"),
]
