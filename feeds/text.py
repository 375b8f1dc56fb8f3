"""Post text: the validation rules and the safe HTML rendering used by pages and the API."""

import re
import unicodedata
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import escape

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
ALLOWED_CONTROL = {"\n", "\t"}


def post_text_clean(text: object) -> str:
    """Return the text as it will be stored, or raise ValidationError saying what is wrong.

    Newlines are normalised to ``\\n`` and the text to NFC; length is counted in code points
    after that, so "é" typed either way counts as one character.
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
    if not text:
        raise ValidationError("Write something first: a post cannot be empty.", code="blank")
    limit = settings.POST_MAX_CHARACTERS
    if len(text) > limit:
        raise ValidationError(
            f"Posts can be at most {limit} characters; this one has {len(text)}.",
            code="too_long",
        )
    return text


def _linkify(line: str) -> str:
    """Escape a line of text and turn http(s) URLs into safe links."""
    out, pos = [], 0
    for match in URL_RE.finditer(line):
        url = match.group(0)
        trimmed = url.rstrip(TRAILING_PUNCTUATION)
        end = match.start() + len(trimmed)
        out.append(escape(line[pos : match.start()]))
        out.append(
            f'<a href="{escape(trimmed)}" rel="nofollow noopener noreferrer" '
            f'target="_blank">{escape(trimmed)}</a>'
        )
        pos = end
    out.append(escape(line[pos:]))
    return "".join(out)


@lru_cache(maxsize=20_000)
def render_post_html(text: str) -> str:
    """Render stored post text as HTML: escaped, linkified, paragraphs and line breaks.

    The output matches Mastodon's ``content`` shape (``<p>…</p>`` per paragraph). Post text is
    never edited, so the rendering is memoised per process by the text itself (at most
    20,000 texts of at most 500 characters: a few MB): timelines show the same posts to many
    readers, and the regular expressions were the costliest part of building a status.
    """
    if not text:
        return ""
    paragraphs = [p for p in re.split(r"\n{2,}", text) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(_linkify(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )
