"""Post text: the validation rules and the safe HTML rendering used by pages and the API."""

import re
import unicodedata
from functools import lru_cache
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import escape

from .references import (
    HASHTAG_RE,
    MENTION_RE,
    TAG_MAX_LENGTH,
    tag_normalize,
    text_segments,
)

# A mention or a hashtag, whichever comes first: group 1 a local username, group 2 a tag.
REFERENCE_RE = re.compile(f"{MENTION_RE.pattern}|{HASHTAG_RE.pattern}")
ALLOWED_CONTROL = {"\n", "\t"}


def post_text_clean(text: object, *, allow_empty: bool = False) -> str:
    """Return the text as it will be stored, or raise ValidationError saying what is wrong.

    Newlines are normalised to ``\\n`` and the text to NFC; length is counted in code points
    after that, so "é" typed either way counts as one character. ``allow_empty``: a post
    with images may have no text (as on Mastodon).
    """
    if not isinstance(text, str):
        raise ValidationError("The post text must be a string.", code="invalid")
    if any(unicodedata.category(ch) == "Cs" for ch in text):
        raise ValidationError("The text contains invalid characters (lone surrogates).")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = [ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROL]
    if bad:
        raise ValidationError(
            "The text contains control characters (such as NUL) that cannot be posted. "
            "Please remove them.",
            code="control_characters",
        )
    text = unicodedata.normalize("NFC", text).strip()
    if not text and not allow_empty:
        raise ValidationError("Write something first: a post cannot be empty.", code="blank")
    limit = settings.POST_MAX_CHARACTERS
    if len(text) > limit:
        raise ValidationError(
            f"Posts can be at most {limit} characters; this one has {len(text)}.",
            code="too_long",
        )
    return text


def _link_references(text: str, mentions: frozenset[str], base: str) -> str:
    """Escape text that is not a URL, turning hashtags and resolved mentions into links."""

    def replace(match: re.Match) -> str:
        name = match.group(2)  # the hashtag's group; group 1 is a local mention's username
        if name is not None:
            if len(name) > TAG_MAX_LENGTH:
                return escape(match.group(0))
            href = f"{base}/tags/{quote(tag_normalize(name))}/"
            return (
                f'<a href="{escape(href)}" class="mention hashtag" rel="tag">'
                f"#<span>{escape(name)}</span></a>"
            )
        username = match.group(1)
        if not username or username.lower() not in mentions:
            return escape(match.group(0))
        href = f"{base}/@{username.lower()}/"
        return (
            f'<span class="h-card" translate="no"><a href="{escape(href)}" '
            f'class="u-url mention">@<span>{escape(username)}</span></a></span>'
        )

    out, pos = [], 0
    for match in REFERENCE_RE.finditer(text):
        out.append(escape(text[pos : match.start()]))
        out.append(replace(match))
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def _linkify(line: str, mentions: frozenset[str], base: str) -> str:
    """Escape a line of text and turn http(s) URLs, hashtags and mentions into safe links."""
    out = []
    for segment, is_url in text_segments(line):
        if is_url:
            out.append(
                f'<a href="{escape(segment)}" rel="nofollow noopener noreferrer" '
                f'target="_blank">{escape(segment)}</a>'
            )
        else:
            out.append(_link_references(segment, mentions, base))
    return "".join(out)


@lru_cache(maxsize=20_000)
def render_post_html(text: str, mentions: frozenset[str] = frozenset(), base: str = "") -> str:
    """Render stored post text as HTML: escaped, linkified, paragraphs and line breaks.

    ``mentions`` are the lower-cased usernames the post mentioned when it was written (only
    those become links, as on Mastodon); hashtags always link to their timeline. ``base`` is
    prefixed to those links (the API's absolute URLs; the web pages use paths).

    The output matches Mastodon's ``content`` shape (``<p>…</p>`` per paragraph). Post text is
    never edited, so the rendering is memoised per process by the text itself (at most
    20,000 texts of at most 500 characters: a few MB): timelines show the same posts to many
    readers, and the regular expressions were the costliest part of building a status.
    """
    if not text:
        return ""
    paragraphs = [p for p in re.split(r"\n{2,}", text) if p.strip()]
    return "".join(
        "<p>"
        + "<br>".join(_linkify(line, mentions, base) for line in paragraph.split("\n"))
        + "</p>"
        for paragraph in paragraphs
    )
