"""Template helpers for showing posts."""

from django import template
from django.utils.safestring import mark_safe

from access.delivered import post_delivered_check
from feeds.media_urls import media_url
from feeds.text import render_post_html

register = template.Library()


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
