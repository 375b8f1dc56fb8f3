"""Posts and the relations between people and posts."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class PostQuerySet(models.QuerySet):
    """Posts, with the one visibility rule every look-up that shows posts goes through."""

    def visible(self) -> "PostQuerySet":
        """Posts anyone may be shown: the author's account is active (not suspended), and for
        a repost its original's is too — a repost of a hidden post is hidden with it.

        The rule is the same for every reader today; blocks or private posts would make it
        take the viewer (as Takahē's ``visible_to``). Reply parents are looked up through it
        as well (``feeds.selectors``), so a hidden parent is shown as missing.
        """
        return self.filter(author__is_active=True).filter(
            Q(repost_of__isnull=True) | Q(repost_of__author__is_active=True)
        )


class Post(models.Model):
    """A post, a reply (``reply_to`` set) or a repost (``repost_of`` set, no text of its own).

    Posts are ordered by id, which grows with time: timelines page by keyset on id.
    ``thread_root`` is the first post of the conversation (None for a root itself), so a
    whole thread loads in one query. Counts are denormalised and kept by the services.
    """

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    repost_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="reposts"
    )
    replies_count = models.PositiveIntegerField(default=0)
    reposts_count = models.PositiveIntegerField(default=0)
    likes_count = models.PositiveIntegerField(default=0)

    objects = PostQuerySet.as_manager()

    class Meta:
        indexes = [
            # Profile timelines and the home timeline's "posts by the people I follow".
            models.Index(fields=["author", "-id"], name="post_author_id_desc"),
            # Loading a conversation in one query.
            models.Index(fields=["thread_root", "id"], name="post_thread_root_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "repost_of"],
                condition=Q(repost_of__isnull=False),
                name="post_one_repost_per_author",
            ),
            models.CheckConstraint(
                condition=Q(repost_of__isnull=True) | Q(reply_to__isnull=True),
                name="post_repost_is_not_reply",
            ),
        ]

    def __str__(self) -> str:
        if self.repost_of_id:
            return f"{self.author_id} reposted {self.repost_of_id}"
        return f"{self.author_id}: {self.text[:40]}"

    @property
    def is_repost(self) -> bool:
        return self.repost_of_id is not None

    @property
    def shown(self) -> "Post":
        """The post whose content is displayed: the original for a repost, else itself."""
        return self.repost_of if self.repost_of_id else self


class Like(models.Model):
    """A person liking (favouriting) a post."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="like_once")]
        indexes = [models.Index(fields=["post", "-id"], name="like_post_id_desc")]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.post_id}"


class Follow(models.Model):
    """``follower`` follows ``followee``: the followee's posts and reposts reach their home."""

    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "-id"], name="follow_followee_id_desc")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"
