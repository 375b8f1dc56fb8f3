"""What a post's text refers to: ``@mentions`` and ``#hashtags``, by Mastodon's rules.

A mention is ``@username`` not preceded by a word character or ``/`` (so ``me@example.com``
and ``https://x/@a`` mention nobody) and not followed by more name characters or by
``@domain`` (a remote account, which this server does not federate with). A hashtag is ``#``
followed by word characters with at least one that is not a digit (``#1`` is not a tag), not
preceded by a word character, ``=``, ``/`` or ``)`` (so URL fragments and ``a#b`` are not
tags). Both are looked for outside URLs only. Tags compare without regard to case or Unicode
form (NFKC, casefolded), as Mastodon's ``Tag.normalize`` does.
"""

import re
import unicodedata
from functools import lru_cache

from django.db.models.functions import Lower

from accounts.models import User

from .models import Mention, Post, PostTag, Tag

URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
MENTION_RE = re.compile(r"(?<![/\w])@([A-Za-z0-9_]{1,30})(?![\w@])|(?<![/\w])@[\w.-]+@[\w.-]*\w")
# Mastodon caps a tag name at 255; ours is shorter than any post could usefully hold.
TAG_MAX_LENGTH = 100
HASHTAG_RE = re.compile(r"(?<![=/)\w])#(\w*[^\W\d]\w*)")


def text_segments(line: str) -> list[tuple[str, bool]]:
    """``line`` cut into ``(text, is_url)`` pieces: http(s) URLs (trailing punctuation left
    outside) and the text between them."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for match in URL_RE.finditer(line):
        url = match.group(0).rstrip(TRAILING_PUNCTUATION)
        if match.start() > pos:
            pieces.append((line[pos : match.start()], False))
        pieces.append((url, True))
        pos = match.start() + len(url)
    if pos < len(line):
        pieces.append((line[pos:], False))
    return pieces


def tag_normalize(name: str) -> str:
    """The form a tag is stored and looked up by: NFKC, casefolded."""
    return unicodedata.normalize("NFKC", name).casefold()


def tag_name_valid(name: str) -> bool:
    """Whether ``name`` (without ``#``) is a hashtag name on its own, e.g. in a URL."""
    return 0 < len(name) <= TAG_MAX_LENGTH and HASHTAG_RE.fullmatch("#" + name) is not None


def mentioned_usernames(text: str) -> list[str]:
    """The local usernames ``text`` mentions, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for segment, is_url in text_segments(text):
        if is_url:
            continue
        for match in MENTION_RE.finditer(segment):
            if match.group(1):
                seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def hashtag_names(text: str) -> list[str]:
    """The normalised hashtags of ``text``, in order of first appearance, at most
    ``TAG_MAX_LENGTH`` characters each (longer ones are not tags)."""
    return list(_hashtag_names(text))


# Every status entity asks for its tags: memoised like render_post_html, whose regex passes
# were the costliest part of building a status.
@lru_cache(maxsize=20_000)
def _hashtag_names(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for segment, is_url in text_segments(text):
        if is_url:
            continue
        for match in HASHTAG_RE.finditer(segment):
            if len(match.group(1)) <= TAG_MAX_LENGTH:
                seen.setdefault(tag_normalize(match.group(1)), None)
    return tuple(seen)


def post_references_store(*, post: Post) -> list[User]:
    """Store what a new post mentions and tags (call inside the post's transaction).

    Only active local accounts are mentioned; the author mentioning themselves is kept as
    text but notifies nobody. Returns the accounts mentioned.
    """
    usernames = mentioned_usernames(post.text)
    mentioned: list[User] = []
    if usernames:
        by_name = {
            user.username.lower(): user
            for user in User.objects.annotate(lower_name=Lower("username")).filter(
                lower_name__in=usernames, is_active=True
            )
        }
        mentioned = [by_name[name] for name in usernames if name in by_name]
        Mention.objects.bulk_create([Mention(post=post, user=user) for user in mentioned])
    names = hashtag_names(post.text)
    if names:
        Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
        tags = Tag.objects.filter(name__in=names)
        PostTag.objects.bulk_create([PostTag(post=post, tag=tag) for tag in tags])
    return mentioned
