"""The HTML of a post on a web page, joined from its cached shared parts and the little that
belongs to this request.

A page shows up to twenty posts; rendering each through ``_post.html`` made the template
engine resolve ~40 variables per post (830 per home page, most of its CPU). Everything a post
shows to every reader (the head, the body, the buttons' URLs, the time's machine-readable
forms) is built once and cached (``feeds_tags._fragment_build``); what differs per request
is worked out here once per page (``PageFacts``: the CSRF field, the path the buttons
return to, who is reading) and once per post (how long ago, the counts, the viewer's flags,
signed image URLs), and joined with plain string formatting. Every value that did not come
from a cached part escaped by us is escaped here, as autoescaping did.
"""

from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils.html import conditional_escape, escape, format_html

from .media_urls import media_url

_NO_DESCRIPTION = "Image without a description"


@dataclass(frozen=True)
class PageFacts:
    """What every post on one page shares: the CSRF field (one token per page, as
    ``{% csrf_token %}`` gives), the escaped path the buttons come back to, the reader."""

    csrf_field: str
    return_path: str
    authenticated: bool
    viewer_id: int | None


def page_facts(context) -> PageFacts:
    """The page's facts from a template context (a ``RequestContext``), as ``_post.html``
    read them: ``{% csrf_token %}``, ``request.get_full_path`` and ``user``."""
    request = context["request"]
    csrf_value = context.get("csrf_token")
    csrf_field = ""
    # {% csrf_token %} renders nothing for Django's "NOTPROVIDED" placeholder (no request).
    if csrf_value and csrf_value != "NOTPROVIDED":
        csrf_field = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_value
        )
    user = context.get("user") or getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    return PageFacts(
        csrf_field=csrf_field,
        return_path=escape(request.get_full_path()),
        authenticated=authenticated,
        viewer_id=user.pk if authenticated else None,
    )


def post_article(post, parts: dict[str, str], page: PageFacts, *, focus: bool = False) -> str:
    """One timeline entry: ``<article>`` with the cached ``parts`` and this request's time,
    images and buttons."""
    shown = post.shown
    ago = conditional_escape(naturaltime(shown.created_at))
    return (
        f'\n<article class="post{" focus" if focus else ""}" id="post-{post.pk}">\n'
        f"  {parts['head']}\n"
        f'    <a class="post-time" href="{parts["post_url"]}"><time datetime="{parts["time_iso"]}"'
        f' title="{parts["time_title"]} UTC">{ago}</time></a>\n'
        f"  </header>\n  {parts['body']}\n"
        f"{_media(shown)}"
        f"{_actions(post, shown, parts, page) if page.authenticated else _counts(shown)}"
        "</article>\n"
    )


def _media(shown) -> str:
    media = getattr(shown, "media", None)
    if not media:
        return ""
    images = "".join(_image(image) for image in media)
    return f'  <div class="post-media post-media-{len(media)}">\n{images}  </div>\n'


def _image(image) -> str:
    title = f' title="{escape(image.description)}"' if image.description else ""
    return (
        f'    <a href="{media_url(image, "original")}" target="_blank" rel="noopener"{title}>'
        f'<img src="{media_url(image, "small")}"'
        f' alt="{escape(image.description or _NO_DESCRIPTION)}"'
        f' width="{image.thumbnail_width}" height="{image.thumbnail_height}" loading="lazy"></a>\n'
    )


def _button_form(action: str, page: PageFacts, post_id: int, button: str) -> str:
    return (
        f'      <li>\n        <form method="post" action="{action}">\n'
        f'          {page.csrf_field}<input type="hidden" name="next"'
        f' value="{page.return_path}#post-{post_id}">\n'
        f"          {button}\n        </form>\n      </li>\n"
    )


def _pressed(on: bool) -> str:
    return "true" if on else "false"


def _actions(post, shown, parts: dict[str, str], page: PageFacts) -> str:
    reposted = bool(getattr(post, "viewer_reposted", False))
    liked = bool(getattr(post, "viewer_liked", False))
    bookmarked = bool(getattr(post, "viewer_bookmarked", False))
    replies = f" {shown.replies_count}" if shown.replies_count else ""
    buttons = [
        _button_form(
            parts["unrepost_url" if reposted else "repost_url"],
            page,
            post.pk,
            f'<button type="submit" aria-pressed="{_pressed(reposted)}">↻ '
            f"{'Reposted' if reposted else 'Repost'} {shown.reposts_count}</button>",
        ),
        _button_form(
            parts["unlike_url" if liked else "like_url"],
            page,
            post.pk,
            f'<button type="submit" aria-pressed="{_pressed(liked)}">'
            f"{'♥ Liked' if liked else '♡ Like'} {shown.likes_count}</button>",
        ),
        _button_form(
            parts["unbookmark_url" if bookmarked else "bookmark_url"],
            page,
            post.pk,
            f'<button type="submit" aria-pressed="{_pressed(bookmarked)}">'
            f"{'★ Bookmarked' if bookmarked else '☆ Bookmark'}</button>",
        ),
    ]
    if shown.author_id == page.viewer_id:
        buttons.append(
            _button_form(
                parts["delete_url"],
                page,
                post.pk,
                '<button type="submit" class="danger">Delete</button>',
            )
        )
    return (
        '    <ul class="post-actions" aria-label="Actions">\n'
        f'      <li><a href="{parts["post_url"]}#reply">↩ Reply{replies}</a></li>\n'
        f"{''.join(buttons)}    </ul>\n"
    )


def _counts(shown) -> str:
    return (
        '    <p class="post-actions muted"><span><span aria-hidden="true">↩</span>'
        f' {shown.replies_count}<span class="visually-hidden"> replies</span></span>'
        f' <span><span aria-hidden="true">↻</span> {shown.reposts_count}'
        '<span class="visually-hidden"> reposts</span></span>'
        f' <span><span aria-hidden="true">♡</span> {shown.likes_count}'
        '<span class="visually-hidden"> likes</span></span></p>\n'
    )
