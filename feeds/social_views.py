"""Web pages for notifications, bookmarks, favourites and hashtag timelines.

Each is a read like a timeline: the posts it shows pass the read gate (``posts_deliver``)
first, and only what the gate delivered is rendered; a page is cut at the first post the
budget cannot cover.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from access import reading_policy
from access.gate import posts_deliver
from core.ratelimits import request_rate_limit

from . import bookmarks as bookmark_lists
from . import notifications as notes
from . import search
from .models import Marker
from .references import tag_name_valid
from .tags import tag_get, timeline_tag
from .views import (
    BadPageRequest,
    _answer_deliver,
    _deliver_page,
    _page_request,
    _post_or_404,
    _redirect_back,
    reader_page,
)


@login_required
@require_GET
@reader_page()
def notifications(request):
    """The reader's notifications, newest first, with the unread ones marked."""
    page = _page_request(request)
    rows = notes.notifications_page(user=request.user, page=page)
    delivered = posts_deliver(request=request, posts=notes.notification_posts(rows))
    shown = notes.notifications_cut(rows, delivered)
    marker = notes.marker_get(user=request.user, timeline=Marker.NOTIFICATIONS)
    last_read = marker.last_read_id if marker else 0
    for row in shown.notifications:
        row.unread = row.pk > last_read
    more = len(rows) >= page.limit and not shown.cut_by_budget and bool(shown.notifications)
    context = {
        "notifications": shown.notifications,
        "cut_by_budget": shown.cut_by_budget,
        "next_max_id": shown.notifications[-1].pk if more else None,
    }
    return render(request, "feeds/notifications.html", context)


@login_required
@require_POST
def notifications_read(request):
    """ "Mark all read": the unread count goes to zero."""
    notes.notifications_mark_read(user=request.user)
    messages.success(request, "All notifications are marked as read.")
    return _redirect_back(request, reverse("feeds:notifications"))


@login_required
@require_GET
@reader_page()
def bookmarks(request):
    """The posts the reader bookmarked, newest bookmark first."""
    page = _page_request(request)
    listing = bookmark_lists.bookmarks_page(user=request.user, page=page)
    context = _deliver_page(
        request, listing.posts, page, keys=listing.keys, fetched=listing.fetched
    )
    return render(request, "feeds/bookmarks.html", context)


@login_required
@require_GET
@reader_page()
def favourites(request):
    """The posts the reader liked, newest like first."""
    page = _page_request(request)
    listing = bookmark_lists.favourites_page(user=request.user, page=page)
    context = _deliver_page(
        request, listing.posts, page, keys=listing.keys, fetched=listing.fetched
    )
    return render(request, "feeds/favourites.html", context)


@require_GET
@reader_page(reading_policy.PUBLIC_TIMELINE)
def tag(request, tag):
    """Posts carrying a hashtag, newest first. A name that cannot be a hashtag is a 404; a
    hashtag nobody used yet is an empty timeline."""
    page = _page_request(request)
    found = tag_get(name=tag)
    if found is None and not tag_name_valid(tag):
        raise Http404("That is not a hashtag.")
    posts = timeline_tag(tag=found, viewer=request.user, page=page) if found else []
    context = _deliver_page(request, posts, page)
    context["tag_name"] = found.name if found else tag
    return render(request, "feeds/tag.html", context)


@login_required
@require_POST
@reader_page()
def post_bookmark(request, post_id):
    """Keep a post for later (its original, for a repost); passes the gate first, as a like."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    post = bookmark_lists.bookmark_create(user=request.user, post=post)
    messages.success(request, "Bookmarked. Find it under Bookmarks.")
    return _redirect_back(request, reverse("feeds:post", args=[post.pk]))


@login_required
@require_POST
@reader_page()
def post_unbookmark(request, post_id):
    """Take a bookmark back."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    post = bookmark_lists.bookmark_delete(user=request.user, post=post)
    messages.success(request, "Bookmark removed.")
    return _redirect_back(request, reverse("feeds:post", args=[post.pk]))


SEARCH_PEOPLE_SHOWN = 5
SEARCH_TAGS_SHOWN = 8


@require_GET
@request_rate_limit("search", methods=("GET",))
@reader_page(reading_policy.PUBLIC_TIMELINE)
def search_page(request):
    """People, hashtags and posts matching ``?q=``; the posts pass the read gate like a
    timeline page. A query ``search.query_clean`` refuses is a 400."""
    try:
        q = search.query_clean(request.GET.get("q", ""))
    except ValidationError as exc:
        raise BadPageRequest(" ".join(exc.messages)) from exc
    page = _page_request(request)
    context = {"q": q, "people": [], "tags": [], "posts": [], "next_max_id": None}
    if q:
        context["people"] = search.search_accounts(q=q, limit=SEARCH_PEOPLE_SHOWN)
        context["tags"] = search.search_tags(q=q, limit=SEARCH_TAGS_SHOWN)
        posts = search.search_posts(q=q, viewer=request.user, page=page)
        context.update(_deliver_page(request, posts, page))
    return render(request, "feeds/search.html", context)
