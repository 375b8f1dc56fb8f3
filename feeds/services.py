"""Writes for feeds: posting, replying, reposting, liking and following.

Each write that should tell someone queues its notification after commit
(``feeds.notifications``, ``robust``: a failed notification never undoes or fails the act),
and undoing a like, repost or follow takes its notification back in the same transaction.

Every write that touches more than one row runs in one transaction, and every counter moves
with an atomic ``F()`` update, so concurrent likes or follows never lose a count.
"""

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.auth_cache import auth_site_changed, auth_user_changed
from accounts.models import User

from . import home_timelines, notifications
from .media import (
    PreparedImage,
    media_attach,
    media_files_delete,
    media_files_of_posts,
    media_store,
)
from .models import Follow, Like, Notification, Post
from .references import post_references_store
from .text import post_text_clean


def _bump(model, pk: int, field: str, delta: int) -> None:
    """Add ``delta`` to a counter column without going below zero."""
    queryset = model.objects.filter(pk=pk)
    if delta < 0:
        queryset = queryset.filter(**{f"{field}__gte": -delta})
    queryset.update(**{field: F(field) + delta})
    if model is User:  # an update() sends no signal: the API's cached user must go
        auth_user_changed(user_id=pk)


def post_create(
    *, author: User, text: str, reply_to: Post | None = None, media_ids: Sequence[int] = ()
) -> Post:
    """Publish a post, or a reply when ``reply_to`` is given (a reply to a repost answers
    the original), with the author's uploaded images ``media_ids`` in that order (then the
    text may be empty). A refused image leaves nothing posted and nothing attached."""
    text = post_text_clean(text, allow_empty=bool(media_ids))
    if reply_to is not None and reply_to.repost_of_id:
        reply_to = reply_to.repost_of
    with transaction.atomic():
        post = Post.objects.create(
            author=author,
            text=text,
            reply_to=reply_to,
            thread_root_id=(reply_to.thread_root_id or reply_to.id) if reply_to else None,
        )
        media_attach(post=post, owner=author, media_ids=media_ids)
        _bump(User, author.pk, "posts_count", 1)
        if reply_to is not None:
            _bump(Post, reply_to.pk, "replies_count", 1)
        post_references_store(post=post)
        transaction.on_commit(
            lambda: notifications.notifications_for_post(post_id=post.pk), robust=True
        )
        home_timelines.home_feed_post_created_queue(post_id=post.pk)
    return post


def post_create_with_images(
    *,
    author: User,
    text: str,
    reply_to: Post | None = None,
    images: Sequence[tuple[PreparedImage, str]] = (),
) -> Post:
    """The web composer's post: images already validated in memory (``media_image_prepare``,
    with clean alt texts) are stored and attached in the post's own transaction. If anything
    is refused, the files stored so far are deleted again and nothing is posted."""
    stored: list[str] = []
    try:
        with transaction.atomic():
            media_ids = []
            for prepared, description in images:
                media = media_store(owner=author, prepared=prepared, description=description)
                stored += [media.file, media.thumbnail]
                media_ids.append(media.pk)
            return post_create(author=author, text=text, reply_to=reply_to, media_ids=media_ids)
    except Exception:
        media_files_delete(stored)
        raise


def post_delete(*, post: Post, actor: User) -> None:
    """Delete one's own post (or repost). Nobody can delete someone else's."""
    if post.author_id != actor.pk:
        raise PermissionDenied("You can only delete your own posts.")
    with transaction.atomic():
        if post.reply_to_id:
            _bump(Post, post.reply_to_id, "replies_count", -1)
        if post.repost_of_id:
            _bump(Post, post.repost_of_id, "reposts_count", -1)
        else:
            _bump(User, post.author_id, "posts_count", -1)
        home_timelines.home_feed_post_deleted_queue(post_id=post.pk, author_id=post.author_id)
        # The images' rows go with the post (cascade); their files once that has committed.
        names = media_files_of_posts([post.pk])
        post.delete()
        if names:
            transaction.on_commit(lambda: media_files_delete(names), robust=True)


def repost_create(*, user: User, post: Post) -> Post:
    """Repost (boost) a post; reposting a repost boosts its original. Idempotent."""
    original = post.repost_of if post.repost_of_id else post
    existing = Post.objects.filter(author=user, repost_of=original).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            repost = Post.objects.create(author=user, repost_of=original)
            _bump(Post, original.pk, "reposts_count", 1)
            transaction.on_commit(
                lambda: notifications.notification_for_repost(repost_id=repost.pk), robust=True
            )
            home_timelines.home_feed_post_created_queue(post_id=repost.pk)
    except IntegrityError:  # a concurrent request reposted it first
        return Post.objects.get(author=user, repost_of=original)
    return repost


def repost_delete(*, user: User, post: Post) -> Post:
    """Undo a repost of ``post`` (or of its original). Idempotent. Returns the original."""
    original = post.repost_of if post.repost_of_id else post
    with transaction.atomic():
        reposts = Post.objects.filter(author=user, repost_of=original)
        for repost_id in reposts.values_list("id", flat=True):
            home_timelines.home_feed_post_deleted_queue(post_id=repost_id, author_id=user.pk)
        deleted, _ = reposts.delete()
        if deleted:
            _bump(Post, original.pk, "reposts_count", -1)
            notifications.notification_withdraw(
                actor_id=user.pk,
                recipient_id=original.author_id,
                kind=Notification.REPOST,
                post_id=original.pk,
            )
    return original


def like_create(*, user: User, post: Post) -> Post:
    """Like a post (a repost's like goes to its original). Idempotent. Returns the liked post."""
    original = post.repost_of if post.repost_of_id else post
    try:
        with transaction.atomic():
            _, created = Like.objects.get_or_create(user=user, post=original)
            if created:
                _bump(Post, original.pk, "likes_count", 1)
                transaction.on_commit(
                    lambda: notifications.notification_for_like(
                        user_id=user.pk, post_id=original.pk
                    ),
                    robust=True,
                )
    except IntegrityError:  # a concurrent request liked it first
        pass
    return original


def like_delete(*, user: User, post: Post) -> Post:
    """Remove a like. Idempotent. Returns the post that was unliked."""
    original = post.repost_of if post.repost_of_id else post
    with transaction.atomic():
        deleted, _ = Like.objects.filter(user=user, post=original).delete()
        if deleted:
            _bump(Post, original.pk, "likes_count", -1)
            notifications.notification_withdraw(
                actor_id=user.pk,
                recipient_id=original.author_id,
                kind=Notification.LIKE,
                post_id=original.pk,
            )
    return original


def follow_create(*, follower: User, followee: User) -> Follow:
    """Follow someone. Following yourself is refused; following twice changes nothing."""
    if follower.pk == followee.pk:
        raise ValidationError("You cannot follow yourself.", code="self_follow")
    existing = Follow.objects.filter(follower=follower, followee=followee).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            follow = Follow.objects.create(follower=follower, followee=followee)
            _bump(User, follower.pk, "following_count", 1)
            _bump(User, followee.pk, "followers_count", 1)
            transaction.on_commit(
                lambda: notifications.notification_for_follow(
                    follower_id=follower.pk, followee_id=followee.pk
                ),
                robust=True,
            )
            home_timelines.home_feed_follow_queue(follower_id=follower.pk, followee_id=followee.pk)
    except IntegrityError:  # a concurrent request followed first
        return Follow.objects.get(follower=follower, followee=followee)
    return follow


def follow_delete(*, follower: User, followee: User) -> None:
    """Unfollow someone. Idempotent."""
    with transaction.atomic():
        deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
        if deleted:
            _bump(User, follower.pk, "following_count", -1)
            _bump(User, followee.pk, "followers_count", -1)
            notifications.notification_withdraw(
                actor_id=follower.pk, recipient_id=followee.pk, kind=Notification.FOLLOW
            )
            home_timelines.home_feed_unfollow_queue(
                follower_id=follower.pk, followee_id=followee.pk
            )


def counters_rebuild() -> None:
    """Recompute every denormalised counter from the rows (after bulk loads or repairs)."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    def counted(queryset, group_field):
        return Coalesce(
            Subquery(
                queryset.filter(**{group_field: OuterRef("pk")})
                .order_by()
                .values(group_field)
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        )

    with transaction.atomic():
        User.objects.update(
            posts_count=counted(Post.objects.filter(repost_of__isnull=True), "author"),
            followers_count=counted(Follow.objects.all(), "followee"),
            following_count=counted(Follow.objects.all(), "follower"),
        )
        auth_site_changed()  # every user's counts may have changed
        Post.objects.update(
            replies_count=counted(Post.objects.all(), "reply_to"),
            reposts_count=counted(Post.objects.all(), "repost_of"),
            likes_count=counted(Like.objects.all(), "post"),
        )
