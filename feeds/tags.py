"""Hashtag timelines: the posts that carry a tag, newest first, loaded like any timeline."""

from django.db.models import QuerySet

from accounts.models import User

from .models import Post, PostTag, Tag
from .references import tag_name_valid, tag_normalize
from .selectors import PageRequest, keyset_page_prepared, posts_decorate


def tag_get(*, name: str) -> Tag | None:
    """The tag called ``name`` (any case or Unicode form), or None if no post carries it."""
    if not tag_name_valid(name):
        return None
    return Tag.objects.filter(name=tag_normalize(name)).first()


def timeline_tag(
    *, tag: Tag, viewer: User | None, page: PageRequest | None = None, shallow: bool = False
) -> list[Post]:
    """Posts and replies carrying ``tag``, newest first; keyset on post id through the
    ``post_tag_once`` (tag, post) index, prepared as the other timelines' pages are.
    ``shallow``: as ``feeds.selectors._load``'s."""
    rows = keyset_page_prepared(_tagged_posts, page or PageRequest(), tag_id=tag.pk)
    return posts_decorate(rows, viewer, shallow=shallow)


def _tagged_posts(tag_id: int) -> QuerySet:
    """The tag timeline's posts: visible, carrying the tag."""
    tagged = PostTag.objects.filter(tag_id=tag_id).values("post_id")
    return Post.objects.visible().filter(pk__in=tagged)
