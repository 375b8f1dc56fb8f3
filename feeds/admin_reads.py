"""Staff reading posts in the admin pass the read gate like every other reader, and their
pages say what the posts' authors decided about AI training, as every page carrying posts
does (``access.content_usage``: headers, and the ``noai`` meta in the admin's head).

Staff are the unlimited tier, so nothing is refused, but each changelist page and each post
opened in the admin is charged (counted) and leaves one access-log record, as every read
does (DESIGN.md §4.1: "no limit (still logged)"). The posts a row shows text of — a reply's
parent, a repost's original, a thread's root (their labels start with the text) — are
charged with it. A staff member whose tier an admin has overridden to a limited one is held
to that budget here too: the page is cut where it runs out.
"""

from django.contrib import messages
from django.contrib.admin.views.main import ChangeList

from access.content_usage import content_usage_state
from access.gate import read_gate

from .models import Post

BUDGET_SPENT = (
    "Your daily read budget is spent, so some posts are not shown. It resets at 00:00 UTC."
)


def _shown_ids(post: Post) -> list[int]:
    """The post and every post whose text its admin row or form shows."""
    related = (post.repost_of_id, post.reply_to_id, post.thread_root_id)
    return list(dict.fromkeys([post.pk, *(pk for pk in related if pk is not None)]))


def admin_posts_deliver(*, request, posts: list[Post]) -> list[Post]:
    """Charge an admin page's posts (and the posts they show) in one pass through the gate;
    return the prefix that may be shown."""
    ids = [pk for post in posts for pk in _shown_ids(post)]
    first = len(_shown_ids(posts[0])) if posts else 1
    grant = read_gate(request=request, post_ids=ids, first_post_ids=first)
    request.read_grant = grant  # the read-budget headers, as on every metered page
    allowed = set(grant.delivered_ids)
    delivered = []
    for post in posts:
        if not allowed.issuperset(_shown_ids(post)):
            messages.warning(request, BUDGET_SPENT)
            break
        delivered.append(post)
    # Every post whose text the page shows, with its author, in one query: the strictest
    # of their authors' choices is what the page says.
    shown = [pk for post in delivered for pk in _shown_ids(post)]
    content_usage_state(
        request=request,
        posts=Post.objects.filter(pk__in=shown).select_related("author", "repost_of__author"),
    )
    return delivered


class GatedPostChangeList(ChangeList):
    """The post changelist, its page of posts passed through the read gate."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = admin_posts_deliver(request=request, posts=list(self.result_list))


class GatedPostAdminMixin:
    """For the post ModelAdmin: its changelist and every post it opens go through the gate."""

    def get_changelist(self, request, **kwargs):
        return GatedPostChangeList

    def get_object(self, request, object_id, from_field=None):
        post = super().get_object(request, object_id, from_field)
        if post is None or getattr(request, "read_grant", None) is not None:
            return post  # charged already in this request (e.g. a delete's confirmation)
        return post if admin_posts_deliver(request=request, posts=[post]) else None
