"""The text fingerprint index: which posts a dump item may be, without reading every post.

Each post is indexed (``PostFingerprint``) by the hashes of its normalised text
(``matching.text_normalize``) cut into consecutive ``CHUNK``-character chunks, plus one hash of
the whole normalised text. A dump item is looked up by the hashes of *every*
``CHUNK``-character window of its own normalised text (and of its whole text): a post is a
candidate as soon as one of its chunks survived the dump's changes intact, wherever it now
sits. With 10 % of characters changed a given 8-character chunk survives with probability
about 0.9^8 = 0.43, so a post of 80 characters (10 chunks) is missed with probability about
0.57^10 = 0.4 %; a truncated item keeps the chunks of the part it kept; a pure case,
whitespace, punctuation or Unicode-form change survives normalisation untouched.

A key shared by more than ``KEY_CAP`` posts (a chunk of a common phrase, or a text thousands
of accounts posted) says nothing about which post an item is and is ignored; each item keeps
its ``CANDIDATES`` best candidates by the number of keys they share, and the matcher
(``matching.PostMatcher``) then scores those as it would score every post.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import connections, transaction

from .matching import text_normalize
from .models import PostFingerprint

CHUNK = 8
KEY_CAP = 200
CANDIDATES = 8
LOOKUP_BATCH = 500
WHOLE_TEXT_SALT = b"\x00whole:"


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def whole_key(normal: str) -> int:
    """The key of a whole normalised text."""
    return _hash(WHOLE_TEXT_SALT + normal.encode())


def post_keys(normal: str) -> set[int]:
    """The keys a post with normalised text ``normal`` is indexed by (none for no text)."""
    if not normal:
        return set()
    keys = {whole_key(normal)}
    for start in range(0, len(normal) - CHUNK + 1, CHUNK):
        keys.add(_hash(normal[start : start + CHUNK].encode()))
    return keys


def item_keys(normal: str) -> set[int]:
    """The keys a dump item with normalised text ``normal`` is looked up by: every window."""
    if not normal:
        return set()
    keys = {whole_key(normal)}
    for start in range(len(normal) - CHUNK + 1):
        keys.add(_hash(normal[start : start + CHUNK].encode()))
    return keys


def post_fingerprint_write(*, post_id: int, text: str | None, repost: bool = False) -> None:
    """Replace one post's fingerprint (on create and on edit); reposts have none."""
    keys = set() if repost else post_keys(text_normalize(text or ""))
    with transaction.atomic():
        PostFingerprint.objects.filter(post_id=post_id).delete()
        PostFingerprint.objects.bulk_create(
            [PostFingerprint(key=key, post_id=post_id) for key in sorted(keys)]
        )


def fingerprints_write(*, posts: Iterable[tuple[int, str]]) -> int:
    """Fingerprint posts that have none yet (``(id, text)`` pairs, e.g. after a
    ``bulk_create``, which sends no signal); returns how many keys were written."""
    rows = [
        PostFingerprint(key=key, post_id=post_id)
        for post_id, text in posts
        for key in sorted(post_keys(text_normalize(text or "")))
    ]
    PostFingerprint.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    return len(rows)


def fingerprints_rebuild(*, post_model=None, fingerprint_model=None, using="default") -> int:
    """Rebuild the whole index from the posts (the migration, ``leak_index_rebuild``); returns
    how many keys were written. PostgreSQL is fed by COPY, other databases by batches."""
    if post_model is None:
        from feeds.models import Post as post_model  # noqa: N813 - the default model
    fingerprint_model = fingerprint_model or PostFingerprint
    connection = connections[using]
    table = connection.ops.quote_name(fingerprint_model._meta.db_table)
    posts = post_model.objects.using(using).filter(repost_of__isnull=True).order_by("id")
    written = 0
    last = 0
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our table's name
        while True:
            batch = list(posts.filter(id__gt=last).values_list("id", "text")[:20_000])
            if not batch:
                break
            last = batch[-1][0]
            rows = [
                (key, post_id)
                for post_id, text in batch
                for key in post_keys(text_normalize(text or ""))
            ]
            written += len(rows)
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} (key, post_id) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO {table} (key, post_id) VALUES (%s, %s)",  # noqa: S608
                    rows,
                )
    return written


def candidates_find(normals: list[str]) -> tuple[list[list[int]], list[bool]]:
    """For each normalised item text, the posts it may be (best first, at most
    ``CANDIDATES``), and whether its whole text is one that more than ``KEY_CAP`` posts share."""
    keys_of = [item_keys(normal) for normal in normals]
    wanted = sorted(set().union(*keys_of)) if keys_of else []
    postings = _postings(wanted)
    result: list[list[int]] = []
    crowded: list[bool] = []
    for normal, keys in zip(normals, keys_of, strict=True):
        hits: Counter[int] = Counter()
        for key in keys:
            posts = postings.get(key)
            if posts is not None and len(posts) <= KEY_CAP:
                hits.update(posts)
        ranked = sorted(hits.items(), key=lambda pair: (-pair[1], pair[0]))
        result.append([post_id for post_id, _ in ranked[:CANDIDATES]])
        whole = postings.get(whole_key(normal)) if normal else None
        crowded.append(whole is not None and len(whole) > KEY_CAP)
    return result, crowded


def _postings(keys: list[int]) -> dict[int, list[int]]:
    """key -> up to ``KEY_CAP`` + 1 posts holding it (one more than the cap says "too many")."""
    found: dict[int, list[int]] = defaultdict(list)
    if not keys:
        return found
    connection = connections[PostFingerprint.objects.db]
    table = connection.ops.quote_name(PostFingerprint._meta.db_table)
    if connection.vendor == "postgresql":
        # One index probe per key, each stopping after KEY_CAP + 1 posts however common it is.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT k.key, f.post_id FROM unnest(%s::bigint[]) AS k(key)
                    CROSS JOIN LATERAL (
                        SELECT post_id FROM {table} WHERE key = k.key LIMIT %s
                    ) AS f""",  # noqa: S608 - our table's name
                [keys, KEY_CAP + 1],
            )
            for key, post_id in cursor.fetchall():
                found[key].append(post_id)
        return found
    for start in range(0, len(keys), LOOKUP_BATCH):
        batch = keys[start : start + LOOKUP_BATCH]
        for key, post_id in PostFingerprint.objects.filter(key__in=batch).values_list(
            "key", "post_id"
        ):
            if len(found[key]) <= KEY_CAP:
                found[key].append(post_id)
    return found
