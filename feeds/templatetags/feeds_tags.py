"""Template helpers for showing posts."""

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.template.defaultfilters import date as date_format
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime

from access.delivered import post_delivered_check
from core.render_cache import render_key, rendered_many
from feeds.media_urls import media_url
from feeds.models import Post
from feeds.post_html import page_facts, post_article
from feeds.text import render_post_html

register = template.Library()

# Bump when _post_head.html or the body markup changes, so a deploy never serves old HTML.
FRAGMENT_RENDERING = "fragment-v3"
_PARTS_ATTR = "_post_parts"
_PAGE_ATTR = "_post_page_facts"


@register.filter
def post_content(post) -> str:
    """A post's text as HTML with its hashtags and resolved mentions linked.
    ``render_post_html`` escapes everything and only adds the paragraph, line-break and link
    markup itself, so its output is safe to mark as such."""
    mentions = getattr(post, "mention_names", frozenset())
    return mark_safe(render_post_html(post.text, mentions))  # noqa: S308 - escaped by render_post_html


@register.simple_tag(takes_context=True)
def gate_checked(context, post) -> str:
    """Renders nothing; raises ``UngatedPostError`` when ``post`` did not pass the read gate in
    this request (the reader's own posts excepted). Every template that shows a post calls it
    first, so a view that forgets the gate fails instead of leaking."""
    post_delivered_check(context["request"], post)
    return ""


@register.simple_tag
def media_src(media, variant: str = "small") -> str:
    """The signed, expiring URL of an image on a post the page shows (``feeds.media_urls``):
    only a post that passed the gate is rendered, so only its images get URLs."""
    return media_url(media, variant)


def _reply_to(post):
    if not post.reply_to_id:
        return None
    try:
        return post.reply_to
    except ObjectDoesNotExist:  # as the template's {% if shown.reply_to %} treats it
        return None


def _fragment_key(post) -> str:
    """A digest of everything ``_post_head.html`` and the body read, for the cache key."""
    shown = post.shown
    reply_to = _reply_to(shown)
    inputs = (
        FRAGMENT_RENDERING,
        post.pk,
        post.repost_of_id,
        (post.author.username, post.author.name) if post.repost_of_id else None,
        shown.pk,
        shown.created_at,
        shown.reply_to_id,
        reply_to.author.username if reply_to else None,
        shown.author.username,
        shown.author.name,
        shown.author.is_verified,
        shown.text,
        tuple(sorted(getattr(shown, "mention_names", ()))),
    )
    return render_key("fragment", inputs)


# The buttons' targets, reversed once per post instead of once per post per request.
_ACTION_URLS = ("post", "like", "unlike", "repost", "unrepost", "bookmark", "unbookmark", "delete")


def _fragment_build(post) -> dict[str, str]:
    """The shared parts of a post fragment: the head (repost and reply lines, the author's
    name), the body, the time's machine-readable forms and the buttons' URLs. Rendered
    without the request, so they cannot depend on the reader."""
    shown = post.shown
    head = get_template("feeds/_post_head.html").render({"post": post, "shown": shown})
    created_at = template_localtime(shown.created_at)
    parts = {
        "head": str(head),
        "body": f'<div class="post-body">{post_content(shown)}</div>',
        "time_iso": date_format(created_at, "c"),
        "time_title": date_format(created_at, "Y-m-d H:i"),
    }
    for name in _ACTION_URLS:
        parts[f"{name}_url"] = reverse(f"feeds:{name}", args=[shown.pk])
    return parts


def _parts_store(request) -> dict:
    store = getattr(request, _PARTS_ATTR, None)
    if store is None:
        store = {}
        setattr(request, _PARTS_ATTR, store)
    return store


def _posts_in(values) -> list[Post]:
    """The posts in the warm tag's arguments: posts, lists of posts, or lists of rows that
    carry one (notifications)."""
    posts = []
    for value in values:
        items = [value] if isinstance(value, Post) else (value or [])
        for item in items:
            post = item if isinstance(item, Post) else getattr(item, "post", None)
            if isinstance(post, Post):
                posts.append(post)
    return posts


@register.simple_tag(takes_context=True)
def post_parts_warm(context, *values) -> str:
    """Renders nothing; fetches the cached parts of every post on the page in one look-up
    (and renders the missing ones), so each ``post_parts`` below is a dict look-up. Posts are
    checked against the gate first, as ``gate_checked`` does."""
    request = context["request"]
    posts = _posts_in(values)
    for post in posts:
        post_delivered_check(request, post)
    keys = [_fragment_key(post) for post in posts]
    found = rendered_many({key: _partial(post) for key, post in zip(keys, posts, strict=True)})
    store = _parts_store(request)
    for key, post in zip(keys, posts, strict=True):
        store[post.pk] = found[key]
    return ""


def _partial(post):
    return lambda: _fragment_build(post)


def _parts_of(request, post) -> dict[str, str]:
    """The shared parts of ``post``'s fragment (head, body, time, the buttons' URLs), from
    the page's warm look-up or, for a post shown alone, one cache look-up of its own."""
    store = _parts_store(request)
    parts = store.get(post.pk)
    if parts is None:
        key = _fragment_key(post)
        parts = store[post.pk] = rendered_many({key: _partial(post)})[key]
    return parts


def _page_facts(context):
    """The page's ``PageFacts``, worked out for its first post and kept on the request."""
    request = context["request"]
    facts = getattr(request, _PAGE_ATTR, None)
    if facts is None:
        facts = page_facts(context)
        setattr(request, _PAGE_ATTR, facts)
    return facts


@register.simple_tag(takes_context=True)
def post_html(context, post, focus=False) -> str:
    """One post's ``<article>`` (``feeds.post_html``), checked against the gate first."""
    request = context["request"]
    post_delivered_check(request, post)
    parts = _parts_of(request, post)
    # The parts were rendered and escaped by us; post_article escapes the rest.
    return mark_safe(post_article(post, parts, _page_facts(context), focus=bool(focus)))  # noqa: S308


@register.simple_tag(takes_context=True)
def post_items(context, posts) -> str:
    """A list of posts as ``<li>`` items, after one look-up of all their parts
    (``post_parts_warm``)."""
    post_parts_warm(context, posts)
    request = context["request"]
    facts = _page_facts(context)
    items = [f"<li>{post_article(post, _parts_of(request, post), facts)}</li>" for post in posts]
    return mark_safe("".join(items))  # noqa: S308 - escaped by post_article


# The unbound composer's fields, rendered once per process: ten widgets through the form
# renderer cost more CPU than the twenty posts of a page.
_COMPOSER_FIELDS = "feeds/_composer_fields.html"
_composer_fields_rendered: dict[tuple, str] = {}


def _composer_fields_key(form) -> tuple | None:
    """Everything the fields' HTML is made of, or None when it depends on input (a bound
    form, initial values other than the hidden ``reply_to``)."""
    if form.is_bound or set(form.initial) - {"reply_to"}:
        return None
    fields = tuple(
        (name, type(field.widget).__name__, tuple(sorted(field.widget.attrs.items())), field.label)
        for name, field in form.fields.items()
        if name != "reply_to"
    )
    return (type(form), form.prefix, form.auto_id, form.counter_id, form.max_chars, fields)


@register.simple_tag
def composer_fields(form) -> str:
    """The composer's text and image fields (``_composer_fields.html``), from this process's
    memory when the form is unbound."""
    key = _composer_fields_key(form)
    html = _composer_fields_rendered.get(key) if key is not None else None
    if html is None:
        html = get_template(_COMPOSER_FIELDS).render({"form": form})
        if key is not None:
            _composer_fields_rendered[key] = html
    return mark_safe(html)  # noqa: S308 - rendered (and escaped) by the template
