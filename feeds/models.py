"""Posts and the relations between people and posts."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class PostQuerySet(models.QuerySet):
    """Posts, with the one visibility rule every look-up that shows posts goes through."""

    def visible(self, *, reposts: bool = True) -> "PostQuerySet":
        """Posts anyone may be shown: the author's account is active (not suspended), and for
        a repost its original's is too — a repost of a hidden post is hidden with it.

        ``reposts=False`` is the same rule for a query that wants originals only (public
        timeline, search, the licensed lane): it leaves reposts out instead of joining each
        one's original and author, which cost a home page a third more (bench.visibility_rule).

        The rule is the same for every reader today; blocks or private posts would make it
        take the viewer (as Takahē's ``visible_to``). Reply parents are looked up through it
        as well (``feeds.selectors``), so a hidden parent is shown as missing.
        """
        shown = self.by_active_authors()
        if not reposts:
            return shown.filter(repost_of__isnull=True)
        return shown.filter(Q(repost_of__isnull=True) | Q(repost_of__author__is_active=True))

    def by_active_authors(self) -> "PostQuerySet":
        """The author half of ``visible()``: posts whose own author is active, reposts of a
        hidden original included. For candidate sets that the full rule filters again when
        they are shown (a materialised home timeline keeps such a repost, so reinstating the
        original's author brings it back); never enough on its own to show a post."""
        return self.filter(author__is_active=True)

    def home_of(self, viewer_id: int, *, followees: list[int] | None = None) -> "PostQuerySet":
        """Posts that belong on ``viewer_id``'s home timeline: theirs and those of everyone
        they follow (reposts included). Not a visibility rule: chain ``visible()`` to show.

        ``followees``: whom they follow, when the caller has read it (``followees_if_few``):
        the same rule with the ids spelled out, which PostgreSQL answers from each author's
        own index. With the subquery it walks the post table newest first until the page is
        full — for a reader who follows nobody, the whole table (0.3-0.7 s at 1,000,000
        posts, docs/performance.md)."""
        if followees is not None:
            return self.filter(author_id__in=[*followees, viewer_id])
        followed = Follow.objects.filter(follower_id=viewer_id).values("followee_id")
        return self.filter(Q(author_id__in=followed) | Q(author_id=viewer_id))


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
        indexes = [
            models.Index(fields=["post", "-id"], name="like_post_id_desc"),
            # The favourites list: one person's likes, newest first.
            models.Index(fields=["user", "-id"], name="like_user_id_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.post_id}"


# At most this many followed accounts and a home query names them (``followees_if_few``);
# more, and the followed accounts' posts are dense enough that walking the post table newest
# first fills a page quickly (the prepared statement's way).
HOME_FEW_FOLLOWS = 100


def followees_if_few(follower_id: int, *, following_count: int | None = None) -> list[int] | None:
    """Whom ``follower_id`` follows, if at most ``HOME_FEW_FOLLOWS`` (else None), for
    ``PostQuerySet.home_of(followees=…)``: one index read of at most 101 rows, none when
    the account's (denormalised) ``following_count`` is given and already says more."""
    if following_count is not None and following_count > HOME_FEW_FOLLOWS:
        return None
    ids = list(
        Follow.objects.filter(follower_id=follower_id).values_list("followee_id", flat=True)[
            : HOME_FEW_FOLLOWS + 1
        ]
    )
    return ids if len(ids) <= HOME_FEW_FOLLOWS else None


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


class Mention(models.Model):
    """``post`` mentions ``user`` (resolved when the post was written; only these link)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="mention_once")]

    def __str__(self) -> str:
        return f"{self.post_id} mentions {self.user_id}"


class Tag(models.Model):
    """A hashtag, by its normalised name (NFKC, casefolded: ``feeds.references``)."""

    name = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"#{self.name}"


class PostTag(models.Model):
    """``post`` carries ``tag``; the tag timeline pages by ``post_id`` on this table."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tag", "post"], name="post_tag_once")]
        indexes = [models.Index(fields=["post"], name="post_tag_post")]

    def __str__(self) -> str:
        return f"{self.post_id} #{self.tag_id}"


class Notification(models.Model):
    """Something ``actor`` did that ``recipient`` should hear about.

    ``post`` is the status the notification carries: the mention or reply itself, or the
    recipient's post that was liked or reposted (none for a follow). Deleting the post, or
    undoing the like, repost or follow, deletes the notification with it.
    """

    MENTION = "mention"
    REPLY = "reply"
    REPOST = "reblog"
    LIKE = "favourite"
    FOLLOW = "follow"
    KINDS = [
        (MENTION, "mentioned you"),
        (REPLY, "replied to your post"),
        (REPOST, "reposted your post"),
        (LIKE, "liked your post"),
        (FOLLOW, "followed you"),
    ]

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=KINDS)
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A recipient's notifications, newest first (keyset on id), and the unread count.
            models.Index(fields=["recipient", "-id"], name="notification_recipient_id"),
        ]
        constraints = [
            # One notification per act: a repeated like or a retried write adds nothing.
            models.UniqueConstraint(
                fields=["recipient", "actor", "kind", "post"],
                condition=Q(post__isnull=False),
                name="notification_once_per_post",
            ),
            models.UniqueConstraint(
                fields=["recipient", "actor", "kind"],
                condition=Q(post__isnull=True),
                name="notification_once_without_post",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.kind} → {self.recipient_id}"


class Marker(models.Model):
    """A reader's read position in a timeline (Mastodon's markers): ``notifications`` or
    ``home``. Notifications above ``last_read_id`` are unread."""

    NOTIFICATIONS = "notifications"
    HOME = "home"
    TIMELINES = [(HOME, "home"), (NOTIFICATIONS, "notifications")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    timeline = models.CharField(max_length=20, choices=TIMELINES)
    last_read_id = models.BigIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "timeline"], name="marker_once_per_timeline")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.timeline} to {self.last_read_id}"


class Bookmark(models.Model):
    """A person keeping a post for later (private to them). Lists page by the bookmark's id."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="bookmark_once")]
        indexes = [models.Index(fields=["user", "-id"], name="bookmark_user_id_desc")]

    def __str__(self) -> str:
        return f"{self.user_id} bookmarked {self.post_id}"


class MediaAttachment(models.Model):
    """An image uploaded for a post (Mastodon's MediaAttachment), with its alt text.

    Uploaded first (``post`` empty: it belongs to its ``owner`` only), then attached when the
    owner posts with it; ``position`` keeps the order the owner gave. ``file`` and ``thumbnail``
    are storage names of the re-encoded image and its preview (``feeds.media``); they are
    served only by signed, expiring URLs (``feeds.media_urls``), as part of the post's read.
    """

    IMAGE = "image"
    DESCRIPTION_MAX = 1500  # Mastodon's limit for alt text

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_attachments"
    )
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.CASCADE, related_name="media_attachments"
    )
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, default=IMAGE)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX)
    focus_x = models.FloatField(default=0.0)
    focus_y = models.FloatField(default=0.0)
    file = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumbnail = models.CharField(max_length=255)
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    blurhash = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A page's images: every shown post's, in the order they were attached.
            models.Index(fields=["post", "position"], name="media_post_position"),
            # The purge of uploads never attached (feeds.tasks).
            models.Index(
                fields=["created_at"],
                condition=Q(post__isnull=True),
                name="media_unattached_created",
            ),
        ]

    def __str__(self) -> str:
        return f"media {self.pk} of {self.owner_id} on {self.post_id}"
