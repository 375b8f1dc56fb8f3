"""Bookmarks (posts a person keeps for later, private to them) and the favourites list
(the posts they liked). Both page by the row behind the list (the bookmark's or the like's
id), as Mastodon does, and their posts are loaded like any timeline's."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.models import User

from .models import Bookmark, Like, Post
from .selectors import PageRequest, keyset_page, posts_decorate


def bookmark_create(*, user: User, post: Post) -> Post:
    """Bookmark a post (a repost's bookmark goes to its original). Idempotent."""
    original = post.repost_of if post.repost_of_id else post
    try:
        with transaction.atomic():
            Bookmark.objects.get_or_create(user=user, post=original)
    except IntegrityError:  # a concurrent request bookmarked it first, or it was deleted
        pass
    return original


def bookmark_delete(*, user: User, post: Post) -> Post:
    """Remove a bookmark. Idempotent. Returns the post that was unbookmarked."""
    original = post.repost_of if post.repost_of_id else post
    Bookmark.objects.filter(user=user, post=original).delete()
    return original


@dataclass
class ListPage:
    """A page of posts behind rows (bookmarks, likes): ``keys[i]`` is the row id of ``posts[i]``
    (what ``max_id``/``min_id`` page by); ``fetched`` how many rows the page read."""

    posts: list[Post]
    keys: list[int]
    fetched: int


def _list_page(rows: list, viewer: User) -> ListPage:
    by_post = {row.post_id: row.pk for row in rows}
    posts = posts_decorate([row.post for row in rows], viewer)
    return ListPage(posts=posts, keys=[by_post[post.pk] for post in posts], fetched=len(rows))


def bookmarks_page(*, user: User, page: PageRequest | None = None) -> ListPage:
    """The user's bookmarks, newest bookmark first (posts the visibility rule hides left out)."""
    queryset = Bookmark.objects.filter(user_id=user.pk, post__in=Post.objects.visible())
    rows = keyset_page(queryset.select_related("post"), page or PageRequest())
    return _list_page(rows, user)


def favourites_page(*, user: User, page: PageRequest | None = None) -> ListPage:
    """The posts the user liked, newest like first (posts the visibility rule hides left out)."""
    queryset = Like.objects.filter(user_id=user.pk, post__in=Post.objects.visible())
    rows = keyset_page(queryset.select_related("post"), page or PageRequest())
    return _list_page(rows, user)


def keys_delivered(listing: ListPage, delivered: list[Post]) -> list[int]:
    """The row ids of the delivered prefix of ``listing.posts`` (for paging links)."""
    return listing.keys[: len(delivered)]
