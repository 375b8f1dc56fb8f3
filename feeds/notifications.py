"""Notifications: telling a person that someone mentioned, replied to, reposted, liked or
followed them, and where they stopped reading (markers).

Writes (``notifications_for_*``) are queued by the feeds services with
``transaction.on_commit``: a notification is about an act that was committed, never one rolled
back. None is written for an act of a suspended account, for one's own acts, or about a post
that no longer exists; the selectors hide those of accounts suspended later, and deleting a
post (or undoing the like, repost or follow) deletes its notifications by cascade or by
``notification_withdraw``.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User

from .models import Marker, Notification, Post
from .selectors import PageRequest, keyset_page, posts_decorate
from .unread_counts import unread_count_cached

UNREAD_COUNT_CAP = 100  # the navigation says "99+" past this; counting further costs for nothing

# Mastodon's notification types, and which of ours each one covers: Mastodon has no "reply"
# type, a reply notifies as a mention (it carries the reply), so clients filter it as one.
API_TYPES = {
    "mention": (Notification.MENTION, Notification.REPLY),
    "reblog": (Notification.REPOST,),
    "favourite": (Notification.LIKE,),
    "follow": (Notification.FOLLOW,),
}
KNOWN_API_TYPES = {
    *API_TYPES,
    "status",
    "follow_request",
    "poll",
    "update",
    "admin.sign_up",
    "admin.report",
    "severed_relationships",
    "moderation_warning",
}


def api_type(kind: str) -> str:
    """The Mastodon notification type of one of ours."""
    return Notification.MENTION if kind == Notification.REPLY else kind


# --- Writes -------------------------------------------------------------------------------


def _notify(*, recipient_id: int, actor: User, kind: str, post_id: int | None) -> None:
    """Write one notification unless it is about oneself, or the actor or post is gone."""
    if recipient_id == actor.pk or not actor.is_active:
        return
    if post_id is not None and not Post.objects.filter(pk=post_id).exists():
        return
    if not User.objects.filter(pk=recipient_id, is_active=True).exists():
        return
    try:
        with transaction.atomic():
            Notification.objects.get_or_create(
                recipient_id=recipient_id, actor=actor, kind=kind, post_id=post_id
            )
    except IntegrityError:  # the post was deleted meanwhile, or a twin write won
        pass


def notifications_for_post(*, post_id: int) -> None:
    """A new post notifies the author it replies to and the accounts it mentions (a reply's
    author once, as a reply, even when also mentioned)."""
    post = Post.objects.select_related("author", "reply_to").filter(pk=post_id).first()
    if post is None or post.repost_of_id:
        return
    replied_to = post.reply_to.author_id if post.reply_to_id and post.reply_to else None
    if replied_to is not None:
        _notify(
            recipient_id=replied_to, actor=post.author, kind=Notification.REPLY, post_id=post.pk
        )
    mentioned = post.mentions.exclude(user_id=replied_to).values_list("user_id", flat=True)
    for user_id in mentioned:
        _notify(recipient_id=user_id, actor=post.author, kind=Notification.MENTION, post_id=post.pk)


def notification_for_repost(*, repost_id: int) -> None:
    """A repost notifies the original's author; the notification carries the original."""
    repost = Post.objects.select_related("author", "repost_of").filter(pk=repost_id).first()
    if repost is None or repost.repost_of is None:
        return
    _notify(
        recipient_id=repost.repost_of.author_id,
        actor=repost.author,
        kind=Notification.REPOST,
        post_id=repost.repost_of_id,
    )


def notification_for_like(*, user_id: int, post_id: int) -> None:
    """A like notifies the liked post's author."""
    actor = User.objects.filter(pk=user_id).first()
    post = Post.objects.filter(pk=post_id).only("author_id").first()
    if actor is not None and post is not None:
        _notify(recipient_id=post.author_id, actor=actor, kind=Notification.LIKE, post_id=post_id)


def notification_for_follow(*, follower_id: int, followee_id: int) -> None:
    """A follow notifies the person followed."""
    actor = User.objects.filter(pk=follower_id).first()
    if actor is not None:
        _notify(recipient_id=followee_id, actor=actor, kind=Notification.FOLLOW, post_id=None)


def notification_withdraw(
    *, actor_id: int, recipient_id: int, kind: str, post_id: int | None = None
) -> None:
    """Undoing a like, repost or follow takes its notification back, as Mastodon does."""
    Notification.objects.filter(
        recipient_id=recipient_id, actor_id=actor_id, kind=kind, post_id=post_id
    ).delete()


def notification_dismiss(*, user: User, notification_id: int) -> bool:
    """Delete one of the user's notifications; False if there was no such one."""
    deleted, _ = Notification.objects.filter(pk=notification_id, recipient_id=user.pk).delete()
    return bool(deleted)


def notifications_clear(*, user: User) -> int:
    """Delete all of the user's notifications; how many went."""
    deleted, _ = Notification.objects.filter(recipient_id=user.pk).delete()
    return deleted


def marker_set(*, user: User, timeline: str, last_read_id: int) -> Marker:
    """Move a read position (Mastodon's ``POST /api/v1/markers``); ``version`` counts moves."""
    with transaction.atomic():
        marker, _ = Marker.objects.select_for_update().get_or_create(user=user, timeline=timeline)
        marker.last_read_id = last_read_id
        marker.version += 1
        marker.updated_at = timezone.now()
        marker.save(update_fields=["last_read_id", "version", "updated_at"])
    return marker


def markers_set(*, user: User, positions: dict[str, int]) -> dict[str, Marker]:
    """Move several read positions at once: all or none."""
    with transaction.atomic():
        return {
            timeline: marker_set(user=user, timeline=timeline, last_read_id=last_read_id)
            for timeline, last_read_id in positions.items()
        }


def notifications_mark_read(*, user: User) -> Marker:
    """ "Mark all read": the notifications marker moves to the newest notification."""
    newest = (
        Notification.objects.filter(recipient_id=user.pk)
        .order_by("-id")
        .values_list("id", flat=True)
    ).first()
    return marker_set(user=user, timeline=Marker.NOTIFICATIONS, last_read_id=newest or 0)


# --- Reads --------------------------------------------------------------------------------


def _visible(queryset: QuerySet[Notification]) -> QuerySet[Notification]:
    """Notifications whose actor is active and whose post (if any) is visible (the one rule,
    ``Post.objects.visible()``)."""
    return queryset.filter(actor__is_active=True).filter(
        Q(post__isnull=True) | Q(post__in=Post.objects.visible())
    )


def _filtered(
    user: User, *, types: list[str] | None, exclude_types: list[str] | None, account_id=None
) -> QuerySet[Notification]:
    queryset = _visible(Notification.objects.filter(recipient_id=user.pk))
    if types:
        queryset = queryset.filter(kind__in=[k for t in types for k in API_TYPES.get(t, ())])
    if exclude_types:
        queryset = queryset.exclude(
            kind__in=[k for t in exclude_types for k in API_TYPES.get(t, ())]
        )
    if account_id is not None:
        queryset = queryset.filter(actor_id=account_id)
    return queryset


def notifications_page(
    *,
    user: User,
    page: PageRequest | None = None,
    types: list[str] | None = None,
    exclude_types: list[str] | None = None,
    account_id: int | None = None,
) -> list[Notification]:
    """A page of the user's notifications, newest first, with actors and posts loaded (the
    posts decorated like timeline entries) in a fixed number of queries."""
    rows = keyset_page(
        _filtered(
            user, types=types, exclude_types=exclude_types, account_id=account_id
        ).select_related("actor", "post"),
        page or PageRequest(),
    )
    posts_decorate([row.post for row in rows if row.post_id], user)
    return rows


def notification_get(*, user: User, notification_id: int) -> Notification | None:
    """One of the user's notifications, loaded like a page's, or None."""
    rows = list(
        _visible(
            Notification.objects.filter(pk=notification_id, recipient_id=user.pk)
        ).select_related("actor", "post")
    )
    posts_decorate([row.post for row in rows if row.post_id], user)
    return rows[0] if rows else None


def marker_get(*, user: User, timeline: str) -> Marker | None:
    return Marker.objects.filter(user_id=user.pk, timeline=timeline).first()


def unread_count(*, user: User) -> int:
    """How many notifications arrived after the read position, up to ``UNREAD_COUNT_CAP``:
    one query (the marker as a subquery), cached exactly (``feeds.unread_counts``), as every
    web page's navigation asks."""
    return unread_count_cached(user_id=user.pk, count=lambda: _unread_count_query(user))


def _unread_count_query(user: User) -> int:
    read_up_to = Marker.objects.filter(user_id=user.pk, timeline=Marker.NOTIFICATIONS).values(
        "last_read_id"
    )[:1]
    queryset = _visible(Notification.objects.filter(recipient_id=user.pk)).filter(
        pk__gt=Coalesce(Subquery(read_up_to), 0)
    )
    return queryset.order_by()[:UNREAD_COUNT_CAP].count()


@dataclass
class NotificationDelivery:
    """The notifications a reader may be sent, after their statuses passed the read gate."""

    notifications: list[Notification]
    cut_by_budget: bool


def notifications_cut(
    rows: list[Notification], delivered_posts: list[Post]
) -> NotificationDelivery:
    """Keep the notifications up to the first whose status the gate did not deliver.

    ``delivered_posts`` is what ``posts_deliver`` returned for ``notification_posts(rows)``.
    """
    allowed = {post.pk for post in delivered_posts}
    kept: list[Notification] = []
    for row in rows:
        if row.post_id is not None and row.post_id not in allowed:
            return NotificationDelivery(kept, True)
        kept.append(row)
    return NotificationDelivery(kept, False)


def notification_posts(rows: list[Notification]) -> list[Post]:
    """The distinct statuses a page of notifications carries, in order (for the read gate)."""
    seen: dict[int, Post] = {}
    for row in rows:
        if row.post_id is not None:
            seen.setdefault(row.post_id, row.post)
    return list(seen.values())
