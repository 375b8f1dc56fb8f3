"""Admin for posts, likes and follows: find them by author, text or id, without slow widgets."""

from django.contrib import admin

from .admin_reads import GatedPostAdminMixin
from .models import Follow, Like, Post


@admin.register(Post)
class PostAdmin(GatedPostAdminMixin, admin.ModelAdmin):
    """Posts, replies and reposts, newest first; staff reads pass the read gate (logged)."""

    list_display = ("id", "author", "short_text", "reply_to", "repost_of", "created_at")
    list_select_related = ("author",)
    search_fields = ("=id", "author__username", "text")
    raw_id_fields = ("author", "reply_to", "thread_root", "repost_of")
    readonly_fields = ("replies_count", "reposts_count", "likes_count")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False  # COUNT(*) on a big posts table is slow

    @admin.display(description="text")
    def short_text(self, obj: Post) -> str:
        return obj.text[:80] if obj.text else ("(repost)" if obj.repost_of_id else "")


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    """Who liked what."""

    list_display = ("id", "user", "post", "created_at")
    list_select_related = ("user",)
    search_fields = ("=post__id", "user__username")
    raw_id_fields = ("user", "post")
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    """Who follows whom."""

    list_display = ("id", "follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    search_fields = ("follower__username", "followee__username")
    raw_id_fields = ("follower", "followee")
    ordering = ("-id",)
    show_full_result_count = False
