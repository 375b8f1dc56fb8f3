"""Search: people, hashtags and posts.

Posts are found by full-text search, on whichever database runs:

- **PostgreSQL**: ``django.contrib.postgres.search`` — ``to_tsvector('simple', text)`` matched
  with ``plainto_tsquery('simple', q)`` (every word must appear), served by the GIN
  expression index ``post_text_search`` (migration ``feeds.0003``). The ``simple``
  configuration does no stemming, so it works the same for every language.
- **SQLite** (the embedded default): an FTS5 table ``feeds_post_fts`` over the posts' text
  (external content, kept in step by SQLite triggers on insert and delete; posts are never
  edited), matched with every word quoted (FTS5 syntax in the query is taken as words).

Results are newest first and page by post id (``max_id``), like every timeline; what they
return goes through the read gate like any timeline page. People are matched on the start of
the username or anywhere in the display name; hashtags on the start of their name.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from accounts.models import User
from accounts.profiles import text_is_clean

from .models import Post, Tag
from .references import tag_normalize
from .selectors import PageRequest, keyset_page, posts_decorate

SEARCH_CONFIG = "simple"  # no stemming: the same rules for every language
QUERY_MAX_LENGTH = 200  # longer queries are refused, not silently cut
MAX_WORDS = 10
WORD_RE = re.compile(r"\w+", re.UNICODE)
ACCOUNTS_OFFSET_MAX = 200  # Mastodon pages account search by offset; deeper is refused


def query_clean(q: str) -> str:
    """The query stripped, for the page and the API alike; a ValidationError (one sentence)
    when it is longer than ``QUERY_MAX_LENGTH`` or holds control characters (NUL, which
    PostgreSQL refuses outright, or lone surrogates: no post can contain them, so such a
    query is refused, not run). An empty query is each caller's to judge."""
    q = q.strip()
    if len(q) > QUERY_MAX_LENGTH:
        raise ValidationError(
            f"Search for at most {QUERY_MAX_LENGTH} characters; this query has {len(q)}.",
            code="max_length",
        )
    if not text_is_clean(q):
        raise ValidationError(
            "A search cannot hold control characters (such as NUL); remove them and try again.",
            code="invalid",
        )
    return q


def query_words(q: str) -> list[str]:
    """The words of a query, lower-cased, at most ``MAX_WORDS``."""
    return [word.lower() for word in WORD_RE.findall(q)][:MAX_WORDS]


def search_accounts(*, q: str, limit: int, offset: int = 0) -> list[User]:
    """Active accounts whose username starts with, or display name contains, the query
    (a leading "@" and any "@domain" are ignored); most followed first."""
    term = q.strip().lstrip("@").split("@", 1)[0].strip()
    if not term:
        return []
    queryset = User.objects.filter(is_active=True).filter(
        Q(username__istartswith=term) | Q(display_name__icontains=term)
    )
    return list(queryset.order_by("-followers_count", "id")[offset : offset + limit])


def search_tags(*, q: str, limit: int, offset: int = 0) -> list[Tag]:
    """Hashtags whose name starts with the query (a leading "#" ignored), shortest first."""
    term = tag_normalize(q.strip().lstrip("#").strip())
    if not term or not WORD_RE.fullmatch(term):
        return []
    queryset = Tag.objects.filter(name__startswith=term).order_by("name")
    return sorted(queryset[: offset + limit * 4], key=lambda tag: (len(tag.name), tag.name))[
        offset : offset + limit
    ]


def _matching(queryset, words: list[str]):
    """``queryset`` narrowed to posts containing every word, on this database's engine."""
    if connection.vendor == "postgresql":
        # The same expression as the GIN index ``post_text_search``, so the index serves it.
        return queryset.annotate(search=SearchVector("text", config=SEARCH_CONFIG)).filter(
            search=SearchQuery(" ".join(words), config=SEARCH_CONFIG, search_type="plain")
        )
    match = " ".join('"' + word.replace('"', "") + '"' for word in words)
    return queryset.filter(
        pk__in=RawSQL("SELECT rowid FROM feeds_post_fts WHERE feeds_post_fts MATCH %s", [match])
    )


def search_posts(*, q: str, viewer: User | None, page: PageRequest | None = None) -> list[Post]:
    """Posts and replies (not reposts) containing every word of ``q``, newest first."""
    words = query_words(q)
    if not words:
        return []
    queryset = _matching(Post.objects.visible(reposts=False), words)
    return posts_decorate(keyset_page(queryset, page or PageRequest()), viewer)
