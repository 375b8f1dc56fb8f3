"""Matching a dump's items to our posts: by id or URL when the dump has them, else by text.

Method (docs/leaks.md):

1. Both sides are normalised: HTML stripped from the dump's text (Mastodon ``content``),
   Unicode NFKC, casefolded, format characters (zero-width joiners, marks) dropped, every
   punctuation and symbol turned into a space, whitespace collapsed.
2. An id or a ``/posts/<id>/`` URL is believed only when the post exists and, if the item has
   text, the texts agree as in step 4 (a foreign dump's ids are other sites' ids).
3. Exact: the normalised text equals one post's.
4. Near: the best RapidFuzz ``ratio`` (normalised Indel similarity, 0-100) is at least
   ``RATIO_THRESHOLD`` (80: 10 % of characters substituted scores about 90, unrelated posts of
   similar length 30-60); a truncated item (at least ``PARTIAL_MIN_CHARS`` characters and
   ``PARTIAL_MIN_SHARE`` of the post) may instead reach ``PARTIAL_THRESHOLD`` (88) with
   ``partial_ratio`` (the best-aligned substring).
5. Ambiguous items (two posts with the same text, or runners-up within ``AMBIGUITY_MARGIN``
   points of the best) are left unmatched: a wrong match could accuse someone.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .dumps import DumpItem

RATIO_THRESHOLD = 80.0
PARTIAL_THRESHOLD = 88.0
PARTIAL_MIN_CHARS = 24
PARTIAL_MIN_SHARE = 0.4
AMBIGUITY_MARGIN = 3.0
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
HTML_BREAK = re.compile(r"<(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
POST_URL = re.compile(r"/posts/(\d+)(?:/|$|\?|#)")
WHITESPACE = re.compile(r"\s+")


def html_strip(text: str) -> str:
    """Text content of a fragment of HTML (Mastodon's ``content``); plain text unchanged."""
    if not HTML_TAG.search(text):
        return html.unescape(text)
    text = HTML_BREAK.sub(" ", text)
    return html.unescape(HTML_TAG.sub("", text))


# ASCII punctuation and symbols as spaces: the fast path for plain ASCII text (most posts).
ASCII_FOLD = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def text_normalize(text: str) -> str:
    """The form both sides are compared in: NFKC, casefolded, no format characters,
    punctuation and symbols as spaces, whitespace collapsed."""
    if text.isascii():
        return " ".join(text.lower().translate(ASCII_FOLD).split())
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    chars = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        chars.append(" " if category[0] in "PSZC" else char)
    return WHITESPACE.sub(" ", "".join(chars)).strip()


@dataclass(frozen=True)
class Match:
    """One dump item matched to one of our posts, and how."""

    item_index: int
    post_id: int
    method: str  # "id", "url", "exact", "near", "truncated"
    score: float


@dataclass(frozen=True)
class Miss:
    """One dump item left unmatched, and why."""

    item_index: int
    reason: str


def texts_agree(item_text: str, post_text: str) -> float:
    """The similarity score (0-100) when two normalised texts agree as a match would need,
    else 0."""
    if item_text == post_text:
        return 100.0
    ratio = fuzz.ratio(item_text, post_text)
    if ratio >= RATIO_THRESHOLD:
        return ratio
    if _may_be_truncated(item_text, post_text):
        partial = fuzz.partial_ratio(item_text, post_text)
        if partial >= PARTIAL_THRESHOLD:
            return partial
    return 0.0


def _may_be_truncated(item_text: str, post_text: str) -> bool:
    return (
        len(item_text) >= PARTIAL_MIN_CHARS
        and len(item_text) <= len(post_text)
        and len(item_text) >= PARTIAL_MIN_SHARE * len(post_text)
    )


class PostMatcher:
    """Our posts' normalised texts, held for matching one dump (built once per trace)."""

    def __init__(self, posts: Iterable[tuple[int, str]]):
        self.ids: list[int] = []
        self.texts: list[str] = []
        self.by_id: dict[int, str] = {}
        self.exact: dict[str, list[int]] = {}
        for post_id, text in posts:
            normal = text_normalize(text or "")
            if not normal:
                continue
            self.ids.append(post_id)
            self.texts.append(normal)
            self.by_id[post_id] = normal
            self.exact.setdefault(normal, []).append(post_id)

    def match(self, index: int, item: DumpItem) -> Match | Miss:
        """The post ``item`` is, or why it cannot be told."""
        normal = text_normalize(html_strip(item.text)) if item.text else ""
        claimed = self._claimed_id(item)
        if claimed is not None:
            post_text = self.by_id.get(claimed[0])
            if post_text is not None:
                score = texts_agree(normal, post_text) if normal else 100.0
                if score:
                    return Match(index, claimed[0], claimed[1], score)
        if not normal:
            return Miss(index, "no text, and no id or URL of one of our posts")
        exact = self.exact.get(normal)
        if exact is not None:
            if len(exact) > 1:
                return Miss(index, f"ambiguous: {len(exact)} posts have this text")
            return Match(index, exact[0], "exact", 100.0)
        return self._near(index, normal)

    def _claimed_id(self, item: DumpItem) -> tuple[int, str] | None:
        found = POST_URL.search(item.url) if item.url else None
        if found:
            return int(found.group(1)), "url"
        if item.post_id.isdigit():
            return int(item.post_id), "id"
        return None

    def _near(self, index: int, normal: str) -> Match | Miss:
        found = process.extract(
            normal, self.texts, scorer=fuzz.ratio, limit=2, score_cutoff=RATIO_THRESHOLD
        )
        method = "near"
        if not found and len(normal) >= PARTIAL_MIN_CHARS:
            candidates = process.extract(
                normal, self.texts, scorer=fuzz.partial_ratio, limit=5,
                score_cutoff=PARTIAL_THRESHOLD,
            )  # fmt: skip
            found = [c for c in candidates if _may_be_truncated(normal, c[0])][:2]
            method = "truncated"
        if not found:
            return Miss(index, "no post is similar enough (see the matching thresholds)")
        best = found[0]
        if len(found) > 1 and best[1] - found[1][1] < AMBIGUITY_MARGIN:
            return Miss(index, "ambiguous: two posts are about as similar")
        return Match(index, self.ids[best[2]], method, float(best[1]))
