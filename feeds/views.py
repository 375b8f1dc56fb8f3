"""Web pages for timelines, profiles and posts, and the buttons that act on them.

Every page that shows posts passes them through the read gate (``posts_deliver``) and renders
only what it returns; a reader with no budget left gets a friendly 429 page.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from access import reading_policy
from access.gate import ReadBudgetExhausted, posts_deliver
from access.reading_policy import feed_access
from access.responses import budget_exhausted_page
from accounts.forms import add_service_errors
from accounts.models import User
from accounts.selectors import user_get_by_username
from core.images import ImageRefused
from core.ratelimits import request_rate_limit

from . import services
from .forms import MAX_POST_ID, PageForm, PostForm
from .media import media_description_clean, media_image_prepare
from .models import Post
from .selectors import PageRequest, is_following, post_get, post_thread
from .selectors import timeline_home as timeline_home_select
from .selectors import timeline_profile as timeline_profile_select
from .selectors import timeline_public as timeline_public_select


class BadPageRequest(Exception):
    """The query string asked for a page that cannot exist (e.g. ``max_id=abc``)."""


def reader_page(feed: str | None = None):
    """Turn the reader's refusals into pages: a feed closed to logged-out readers → login wall
    (or 403 when disabled), bad paging → 400, no budget left → 429."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            refusal = _feed_refusal(request, feed) if feed else None
            return refusal or _run(view, request, *args, **kwargs)

        return wrapped

    return decorator


def _feed_refusal(request, feed: str):
    access = feed_access(user=request.user, feed=feed)
    if access == reading_policy.LOGIN_REQUIRED:
        return redirect_to_login(request.get_full_path())
    if access == reading_policy.FEED_DISABLED:
        message = "This timeline is not available on this server."
        return render(request, "403.html", {"message": message}, status=403)
    return None


def _run(view, request, *args, **kwargs):
    """Call a reader view, turning its refusals into pages."""
    try:
        return view(request, *args, **kwargs)
    except BadPageRequest as exc:
        return render(request, "400.html", {"message": str(exc)}, status=400)
    except ReadBudgetExhausted as exc:
        return budget_exhausted_page(request, exc.grant)


def _page_request(request) -> PageRequest:
    form = PageForm(request.GET)
    if not form.is_valid():
        raise BadPageRequest(form.error_message())
    return form.page_request()


def _deliver_page(
    request,
    posts: list[Post],
    page: PageRequest,
    keys: list[int] | None = None,
    fetched: int | None = None,
) -> dict:
    """Pass a timeline page through the read gate; say whether and where "Load more" goes.

    A page keyed by other rows (bookmarks, likes: a ``ListPage``) gives their ids as ``keys``
    (``keys[i]`` for ``posts[i]``) and how many rows it read as ``fetched``; by default the
    page is keyed by the posts' own ids and read ``len(posts)`` rows."""
    delivered = posts_deliver(request=request, posts=posts)
    cut = len(delivered) < len(posts)
    keys = [post.pk for post in delivered] if keys is None else keys[: len(delivered)]
    fetched = len(posts) if fetched is None else fetched
    more = fetched >= page.limit and not cut and bool(keys)
    return {"posts": delivered, "cut_by_budget": cut, "next_max_id": keys[-1] if more else None}


def _answer_deliver(request, post: Post) -> Post:
    """Pass what a write acts on (a repost's original) through the gate before acting:
    a button must not be a way to read posts past the budget. The reader's own posts are
    free; a refusal raises ``ReadBudgetExhausted`` (the 429 page) and nothing changes."""
    posts_deliver(request=request, posts=[post.shown], charge_own=False)
    return post


def _post_or_404(request, post_id: int) -> Post:
    if post_id > MAX_POST_ID:  # the URL accepts any digits; the database does not
        raise Http404("No such post.")
    post = post_get(post_id=post_id, viewer=request.user)
    if post is None:
        raise Http404("No such post.")
    return post


def _user_or_404(username: str) -> User:
    user = user_get_by_username(username=username)
    if user is None:
        raise Http404("No such account.")
    return user


def _redirect_back(request, default: str):
    """Go back where the form was (its ``next`` field) when that is one of our own pages."""
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


# --- Pages --------------------------------------------------------------------------------


@require_GET
@reader_page()
def home(request):
    """The logged-in reader's home timeline; logged-out visitors see the public timeline."""
    if not request.user.is_authenticated:
        return redirect("feeds:public")
    page = _page_request(request)
    posts = timeline_home_select(viewer=request.user, page=page)
    context = _deliver_page(request, posts, page)
    context["form"] = PostForm()
    return render(request, "feeds/home.html", context)


@require_GET
@reader_page(reading_policy.PUBLIC_TIMELINE)
def public(request):
    """Everyone's posts, newest first."""
    page = _page_request(request)
    posts = timeline_public_select(viewer=request.user, page=page)
    return render(request, "feeds/public.html", _deliver_page(request, posts, page))


@require_GET
@reader_page(reading_policy.PROFILES)
def profile(request, username):
    """One person's profile: who they are, their counts and their posts and reposts."""
    author = _user_or_404(username)
    page = _page_request(request)
    posts = timeline_profile_select(author_id=author.pk, viewer=request.user, page=page)
    context = _deliver_page(request, posts, page)
    context["profile_user"] = author
    context["following"] = is_following(follower=request.user, followee=author)
    return render(request, "feeds/profile.html", context)


@require_GET
@reader_page(reading_policy.POSTS)
def post_detail(request, post_id):
    """A post with its conversation: ancestors, the post, then its replies."""
    thread = post_thread(post=_post_or_404(request, post_id), viewer=request.user)
    ordered = [*thread.ancestors, thread.post, *thread.descendants]
    delivered = posts_deliver(request=request, posts=ordered)
    count = len(thread.ancestors)
    context = {
        "ancestors": delivered[:count],
        "post": thread.post if len(delivered) > count else None,
        "descendants": delivered[count + 1 :],
        "cut_by_budget": len(delivered) < len(ordered),
        "form": PostForm(initial={"reply_to": thread.post.pk}, counter_id="reply-count"),
    }
    return render(request, "feeds/post_detail.html", context)


# --- Actions (POST forms that redirect back) ------------------------------------------------


@login_required
@require_POST
@request_rate_limit("post")
@reader_page()
def post_create(request):
    """Publish a post or a reply; refusals re-render the composer with the reason (400)."""
    form = PostForm(request.POST, request.FILES)
    reply_to = None
    if form.is_valid():
        reply_to_id = form.cleaned_data["reply_to"]
        if reply_to_id is not None:
            reply_to = post_get(post_id=reply_to_id, viewer=request.user)
            if reply_to is None:
                form.add_error(None, "The post you are replying to no longer exists.")
            else:
                # Replying reads the post (an error page names its author): gate it first.
                _answer_deliver(request, reply_to)
    sent = sum(len(request.FILES.getlist(name)) for name in request.FILES)
    if sent > settings.MEDIA_PER_POST:  # the composer has four fields; a crafted form more
        form.add_error(None, f"A post can carry at most {settings.MEDIA_PER_POST} images.")
    images = _composer_images(form) if form.is_valid() else []
    if form.is_valid():
        try:
            post = services.post_create_with_images(
                author=request.user,
                text=form.cleaned_data["text"],
                reply_to=reply_to,
                images=images,
            )
        except ValidationError as exc:
            add_service_errors(form, exc, field="text")
        else:
            messages.success(request, "Your reply was posted." if reply_to else "Posted.")
            if reply_to is not None:
                return redirect(f"{reverse('feeds:post', args=[reply_to.shown.pk])}#post-{post.pk}")
            return _redirect_back(request, reverse("feeds:home"))
    return render(request, "feeds/compose.html", {"form": form, "reply_to": reply_to}, status=400)


def _composer_images(form: PostForm) -> list:
    """The composer's images, validated and re-encoded in memory with their alt texts; each
    refusal becomes an error on its field (nothing is stored until the post is)."""
    images = []
    for slot in range(1, settings.MEDIA_PER_POST + 1):
        upload = form.cleaned_data.get(f"image_{slot}")
        alt = form.cleaned_data.get(f"alt_{slot}") or ""
        if upload is None:
            if alt.strip():
                form.add_error(f"image_{slot}", "Choose an image for this alt text.")
            continue
        try:
            description = media_description_clean(alt)
        except ValidationError as exc:
            form.add_error(f"alt_{slot}", [m.removeprefix("description: ") for m in exc.messages])
            continue
        try:
            images.append((media_image_prepare(upload=upload), description))
        except ImageRefused as exc:
            form.add_error(f"image_{slot}", exc.messages)
    return images


@login_required
@require_POST
@reader_page()
def post_like(request, post_id):
    """Like a post (its original, for a repost)."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    post = services.like_create(user=request.user, post=post)
    return _redirect_back(request, reverse("feeds:post", args=[post.pk]))


@login_required
@require_POST
@reader_page()
def post_unlike(request, post_id):
    """Take a like back."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    post = services.like_delete(user=request.user, post=post)
    return _redirect_back(request, reverse("feeds:post", args=[post.pk]))


@login_required
@require_POST
@reader_page()
def post_repost(request, post_id):
    """Repost (boost) a post to one's followers."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    services.repost_create(user=request.user, post=post)
    messages.success(request, "Reposted.")
    return _redirect_back(request, reverse("feeds:post", args=[post.shown.pk]))


@login_required
@require_POST
@reader_page()
def post_unrepost(request, post_id):
    """Undo a repost."""
    post = _answer_deliver(request, _post_or_404(request, post_id))
    original = services.repost_delete(user=request.user, post=post)
    messages.success(request, "Repost undone.")
    return _redirect_back(request, reverse("feeds:post", args=[original.pk]))


@login_required
@require_POST
def post_delete(request, post_id):
    """Delete one's own post; someone else's is refused (403)."""
    post = _post_or_404(request, post_id)
    services.post_delete(post=post, actor=request.user)  # PermissionDenied → 403
    messages.success(request, "Your post was deleted.")
    home = reverse("feeds:home")
    # Its own page is gone now: never send the author back there.
    if request.POST.get("next", "").startswith(reverse("feeds:post", args=[post_id])):
        return redirect(home)
    return _redirect_back(request, home)


@login_required
@require_POST
@request_rate_limit("follow")
def follow(request, username):
    """Follow someone; their posts and reposts reach your home timeline."""
    followee = _user_or_404(username)
    try:
        services.follow_create(follower=request.user, followee=followee)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"You follow @{followee.username} now.")
    return _redirect_back(request, reverse("feeds:profile", args=[followee.username]))


@login_required
@require_POST
def unfollow(request, username):
    """Stop following someone."""
    followee = _user_or_404(username)
    services.follow_delete(follower=request.user, followee=followee)
    messages.success(request, f"You no longer follow @{followee.username}.")
    return _redirect_back(request, reverse("feeds:profile", args=[followee.username]))
