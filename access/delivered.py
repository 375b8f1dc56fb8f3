"""What the read gate let out in this request, so that nothing else can be shown.

``posts_deliver`` records the ids of the posts it delivers on the Django request; whatever
turns a post into a response (the API's ``EntityBuilder.status``, the web's post fragment)
calls ``post_delivered_check`` first, which raises ``UngatedPostError`` for any post the gate
did not deliver in this request — the reader's own posts excepted. A view that forgets the
gate therefore fails loudly (a 500, caught by the tests) instead of leaking posts unmetered.
The check is a set lookup per post. Duck-typed (``pk``, ``author_id``, ``repost_of_id``), so
this module needs no model.
"""

from django.http import HttpRequest

_ATTRIBUTE = "_read_gate_delivered"


class UngatedPostError(RuntimeError):
    """A post was about to be shown that did not pass the read gate in this request."""


def _django_request(request) -> HttpRequest:
    # DRF's Request wraps Django's; the set lives on Django's, where the gate puts it.
    return getattr(request, "_request", request)


def delivered_ids_add(request, post_ids) -> None:
    """Remember that the gate delivered ``post_ids`` in this request."""
    django_request = _django_request(request)
    delivered = getattr(django_request, _ATTRIBUTE, None)
    if delivered is None:
        delivered = set()
        setattr(django_request, _ATTRIBUTE, delivered)
    delivered.update(post_ids)


def gated_post_ids(post, *, free_author_id: int | None = None) -> list[int]:
    """The ids showing ``post`` takes from the gate, in order: the post's own, then a repost's
    original's — less those written by ``free_author_id``. The one place of the rule "the
    reader's own posts are free": a write's answer (``posts_deliver(charge_own=False)``) does
    not charge them, and ``post_delivered_check`` lets them through."""
    ids: list[int] = []
    if post.author_id != free_author_id:
        ids.append(post.pk)
    if post.repost_of_id and (free_author_id is None or post.repost_of.author_id != free_author_id):
        ids.append(post.repost_of_id)
    return ids


def _reader_id(request) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def post_delivered_check(request, post) -> None:
    """Raise ``UngatedPostError`` unless ``post`` (and a repost's original) was delivered by
    the gate in this request or is the reader's own."""
    delivered = getattr(_django_request(request), _ATTRIBUTE, ())
    for post_id in gated_post_ids(post, free_author_id=_reader_id(request)):
        if post_id not in delivered:
            raise UngatedPostError(f"post {post_id} is shown without passing the read gate")
