# ruff: noqa: S608 - every name comes from the models (quoted), every value is a parameter
"""A page's posts described by one SQL statement: everything showing them needs, per post.

For the ids of a page it returns, in one round trip, each post's author, its reposted
original and that one's author, the reply target of what is shown (with its author), whether
the viewer liked, reposted and bookmarked what is shown, and whether it has mentions or
images (so those queries run only when a page has any). ``feeds.selectors._load`` turns the
rows into the same model instances the ORM would build.

Raw SQL, in this one place, because the ORM's cost here is per query compiled, not per row
or round trip: seven ORM queries took ~6 ms of a page's Python to compile (bench/
profile_request.py) while PostgreSQL answered them in ~1 ms. The statement is built once
per database vendor from the models' own table and column names, and
``tests/feeds/test_page_load.py`` checks it against the ORM's answer for every kind of post
(deleted, suspended author, hidden original, hidden reply target, reposted reply, the
viewer's flags).

The visibility rule is ``PostQuerySet.visible`` and only there: the related rows are joined
only when their id is in ``Post.objects.visible().values("id")`` and the home rule is
``home_posts()``'s ids, both compiled from the QuerySets (``core.prepared``), so changing the
rule changes this statement with no second edit (``test_page_load`` checks it does).
PostgreSQL plans those subqueries as index semi-joins: 0.27 ms against 0.22 ms for the SQL
that restated the rule, prepared (docs/performance.md).

**Shallow rows** (PostgreSQL, the API's status lists with the render cache on): the same
statement, joins and rules, but of the page's post, its original and their authors only the
few columns the read gate, the AI-training headers and a status's per-viewer fields read,
and a SHA-256 *digest* computed by PostgreSQL of the row versions the status is rendered
from (``xmin``; and the mentions). The cached status is found by the digest; only the
statuses the cache lacks are described by the wide statement
(``feeds.selectors.posts_described``), which then carries the digest too. Parsing a wide
row's ~112 columns and building its instances is most of what a warm page's description
costs in Python, and sending them most of what it costs PostgreSQL (``bench/page_shallow.py``,
docs/performance.md).
"""

from datetime import datetime
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.base import ModelState
from django.db.models.expressions import Col

try:  # the PostgreSQL driver (the embedded default, SQLite, needs none)
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader
except ImportError:  # pragma: no cover
    TimestamptzLoader = None

from core.prepared import Compiled, prepared_execute, queryset_compile, size_bucket

from .models import Bookmark, Like, MediaAttachment, Mention, Post

User = get_user_model()

# The joined tables, by alias: what each alias holds, as (alias, model).
_POST_ALIASES = ("p", "o", "pr", "orr")  # the page's post, its original, their reply targets
_SHALLOW_ALIASES = ("p", "o")  # a shallow row's: the digest stands for the reply targets
_AUTHOR_OF = {"p": "pa", "o": "oa", "pr": "pra", "orr": "orra"}
_AUTHOR_CACHE = Post._meta.get_field("author").cache_name


class PageRow:
    """One page post as the statement describes it: the viewer's flags on what is shown (the
    original for a repost), and model instances (None when absent or hidden) built on first
    use — a materialised page reads a few more candidates than it shows."""

    __slots__ = ("_built", "_reader", "_row", "bookmarked", "digest", "has_media")
    __slots__ += ("has_mentions", "liked", "reposted")

    def __init__(self, reader: "_Reader", row: tuple):
        self._reader, self._row, self._built = reader, row, None
        flags = row[reader.width :]
        self.liked, self.reposted, self.bookmarked = (bool(flag) for flag in flags[:3])
        self.has_mentions, self.has_media = bool(flags[3]), bool(flags[4])
        # PostgreSQL's digest of every column showing the post reads (``_digest_sql``),
        # in shallow rows and those asked for with it.
        self.digest = flags[5] if len(flags) > 5 else None

    def _instances(self) -> tuple:
        if self._built is None:
            built = self._reader.instances(self._row)
            for index in range(0, len(built), 2):  # (post, its author) pairs
                if built[index] is not None:
                    # What ``post.author = author`` leaves (``author_id`` is already the
                    # author's id), without the descriptor's checks: a third of building.
                    built[index]._state.fields_cache[_AUTHOR_CACHE] = built[index + 1]
            self._built = built[0::2]
        return self._built

    @property
    def post(self) -> Post:
        return self._instances()[0]

    @property
    def original(self) -> Post | None:
        return self._instances()[1]

    @property
    def reply_target(self) -> Post | None:
        """The reply target of ``post`` (a repost has none); not in a shallow row."""
        return self._wide()[2]

    @property
    def original_reply_target(self) -> Post | None:
        return self._wide()[3]

    def _wide(self) -> tuple:
        built = self._instances()
        if len(built) < len(_POST_ALIASES):
            raise LookupError("a shallow row describes no reply target: its digest does")
        return built


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _visible_ids() -> Compiled:
    """``PostQuerySet.visible()`` compiled, as the ids it lets through: the rule itself, not a
    copy of it (it takes no argument today; one that did would need passing here)."""
    return queryset_compile(lambda: Post.objects.visible().values("id"))


def _home_ids() -> Compiled:
    """``home_posts()`` (the visibility rule and ``PostQuerySet.home_of``) compiled, as the ids
    it lets through for the argument ``home_of``."""
    return queryset_compile(
        lambda home_of: Post.objects.visible().home_of(home_of).values("id"), ["home_of"]
    )


# What showing a post reads of its people (api.entities' Account and status, the web
# fragments of feeds.post_html and their templates, the visibility rule's is_active): the
# rest (the password hash, e-mail, last login, names, staff flags…) stays deferred — a row
# a page never parses, and a secret it never holds. Reading a field not listed costs a query
# per instance, which the query-count tests catch.
USER_SHOWN_FIELDS = (
    "id",
    "username",
    "display_name",
    "bio",
    "avatar",
    "header",
    "followers_count",
    "following_count",
    "posts_count",
    "is_verified",
    "date_joined",
    "ai_training_allowed",
    "is_active",
)


def _fields(model, shallow: bool = False) -> list:
    """The columns the statement reads of ``model``: every post column, the shown ones of
    a user (primary key first); ``shallow``: the ``SHALLOW_*`` ones."""
    if shallow:
        names = SHALLOW_POST_FIELDS if model is Post else SHALLOW_USER_FIELDS
        return [model._meta.get_field(name.removesuffix("_id")) for name in names]
    if model is Post:
        return list(Post._meta.concrete_fields)
    return [model._meta.get_field(name) for name in USER_SHOWN_FIELDS]


def _columns(model, alias: str, shallow: bool = False) -> list[str]:
    return [f"{alias}.{_q(field.column)}" for field in _fields(model, shallow)]


# What a shallow row reads of the page's post, its original and their authors: what the read
# gate, the AI-training headers, a status's per-viewer fields and a thread's shape read.
# The rest of a status comes from the render cache, found by the row's digest.
SHALLOW_POST_FIELDS = ("id", "author_id", "repost_of_id", "reply_to_id", "thread_root_id")
SHALLOW_USER_FIELDS = ("id", "ai_training_allowed", "is_active")


def _digest_sql(shown: str) -> str:
    """PostgreSQL's SHA-256 of the row *versions* a status is rendered from: the page's
    post, its original and their authors by id and ``xmin`` (the transaction that wrote
    that version of the row: any change to any column — a count, a display name, a badge —
    writes a new version, and freezing keeps it), the reply targets by id and author (all a
    status reads of them), a hidden one as NULLs, and the shown post's mentions (ids and
    names, in order). So a key made from it names one rendering: what the wide statement
    would read for that post is the same whenever the digest is. Versions, not values:
    hashing the values as text cost PostgreSQL ~0.25 ms a page (docs/performance.md). Two
    versions of one row share an ``xmin`` only 2^32 transactions apart, far beyond the
    cache's six hours. Hex, so it is a plain string to the driver."""
    pk, author_id, xmin = _q("id"), _q("author_id"), "xmin"
    columns: list[str] = []
    for alias in ("p", "o"):
        user = _AUTHOR_OF[alias]
        columns += [f"{alias}.{pk}", f"{alias}.{xmin}", f"{user}.{pk}", f"{user}.{xmin}"]
    for alias in ("pr", "orr"):
        columns += [f"{alias}.{pk}", f"{alias}.{author_id}"]
    mention, users = _q(Mention._meta.db_table), _q(User._meta.db_table)
    post_id, user_id = _q("post_id"), _q("user_id")
    mentions = (
        f"(SELECT string_agg(m2.{user_id}::text || ':' || mu.{_q('username')}, ','"
        f" ORDER BY m2.{pk}) FROM {mention} m2 JOIN {users} mu ON mu.{pk} = m2.{user_id}"
        f" WHERE m2.{post_id} = {shown})"
    )
    return f"encode(sha256(convert_to(ROW({', '.join(columns)}, {mentions})::text, 'UTF8')), 'hex')"


@lru_cache(maxsize=512)
def _statement(
    vendor: str, count: int, home: bool, shallow: bool = False, digest: bool = False
) -> Compiled:
    """The statement for ``count`` ids on ``vendor``'s database (built once, then reused);
    ``home``: keeping only the ids the home rule and the visibility rule let through;
    ``shallow`` (PostgreSQL): only the ``SHALLOW_*`` columns, the flags and the digest;
    ``digest`` (PostgreSQL): every row ends with the digest. Its arguments: ``viewer`` (for
    the flags), ``id0``… (the page), ``home_of``."""
    posts, users = _q(Post._meta.db_table), _q(User._meta.db_table)
    select: list[str] = []
    for alias in _SHALLOW_ALIASES if shallow else _POST_ALIASES:
        select += _columns(Post, alias, shallow) + _columns(User, _AUTHOR_OF[alias], shallow)
    shown = f"COALESCE(p.{_q('repost_of_id')}, p.{_q('id')})"
    like, bookmark = _q(Like._meta.db_table), _q(Bookmark._meta.db_table)
    mention, media = _q(Mention._meta.db_table), _q(MediaAttachment._meta.db_table)
    user_id, post_id, author_id = _q("user_id"), _q("post_id"), _q("author_id")
    select += [
        f"EXISTS (SELECT 1 FROM {like} l WHERE l.{user_id} = %s AND l.{post_id} = {shown})",
        f"EXISTS (SELECT 1 FROM {posts} r WHERE r.{author_id} = %s"
        f" AND r.{_q('repost_of_id')} = {shown})",
        f"EXISTS (SELECT 1 FROM {bookmark} b WHERE b.{user_id} = %s AND b.{post_id} = {shown})",
        f"EXISTS (SELECT 1 FROM {mention} m WHERE m.{post_id} = {shown})",
        f"EXISTS (SELECT 1 FROM {media} i WHERE i.{post_id} = {shown})",
    ]
    if shallow or digest:
        select.append(_digest_sql(shown))
    # What each placeholder takes, in the order they appear in the statement.
    parameters: list = ["viewer"] * 3
    pk, author = _q("id"), author_id
    visible = _visible_ids()

    def joined(alias: str, on: str) -> str:
        # A related post is joined only when visible: a hidden one reads as missing.
        user_alias = _AUTHOR_OF[alias]
        parameters.extend(visible.parameters)
        return (
            f"LEFT JOIN ({posts} {alias} JOIN {users} {user_alias}"
            f" ON {user_alias}.{pk} = {alias}.{author})"
            f" ON {alias}.{pk} = {on} AND {alias}.{pk} IN ({visible.sql})"
        )

    repost_of, reply_to = _q("repost_of_id"), _q("reply_to_id")
    sql = (
        f"SELECT {', '.join(select)} FROM {posts} p"
        f" JOIN {users} pa ON pa.{pk} = p.{author}"
        f" {joined('o', f'p.{repost_of}')}"
        f" {joined('pr', f'p.{reply_to}')}"
        f" {joined('orr', f'o.{reply_to}')}"
        f" WHERE p.{pk} IN ({', '.join(['%s'] * count)})"
    )
    parameters += [f"id{index}" for index in range(count)]
    if home:
        rule = _home_ids()
        sql += f" AND p.{pk} IN ({rule.sql})"
        parameters += rule.parameters
    return Compiled(sql, tuple(parameters))


class _Reader:
    """Turns a statement's row into model instances, applying the backend's converters (on
    SQLite a datetime arrives as text, a boolean as an integer) as the ORM's compiler does."""

    def __init__(self, shallow: bool = False):
        self.vendor = connection.vendor
        self.parts = []
        for alias in _SHALLOW_ALIASES if shallow else _POST_ALIASES:
            for model, table_alias in ((Post, alias), (User, _AUTHOR_OF[alias])):
                fields = _fields(model, shallow)
                assert fields[0].primary_key, "each model's columns start with its id"  # noqa: S101
                columns = [Col(table_alias, field) for field in fields]
                converters = [
                    connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                    for column in columns
                ]
                converting = [(index, chain) for index, chain in enumerate(converters) if chain]
                self.parts.append((model, [field.attname for field in fields], converting))
        self.width = sum(len(names) for _, names, _ in self.parts)

    def instances(self, row) -> list:
        """The row's model instances, as ``Model.from_db`` builds them but without
        ``Model.__init__``'s per-field work (a fifth of a page's time, 76 instances): a
        post's every field is set, a user's shown ones (the rest deferred; in a shallow
        row all but the ``SHALLOW_*`` ones: reading another costs a query). (No
        ``pre_init``/``post_init`` receiver exists for these models; ``test_page_load``
        compares every field.)"""
        built = []
        start = 0
        alias = connection.alias
        for model, names, converting in self.parts:
            values = list(row[start : start + len(names)])
            start += len(names)
            if values[0] is None:  # the primary key: an absent (or hidden) row
                built.append(None)
                continue
            for index, chain in converting:
                for converter in chain:
                    values[index] = converter(values[index], None, connection)
            instance = model.__new__(model)
            state = instance._state = ModelState()
            state.adding, state.db, state.fields_cache = False, alias, {}
            instance.__dict__.update(zip(names, values, strict=True))
            built.append(instance)
        return built


_readers: dict[tuple[str, bool], _Reader] = {}


def _iso_timestamps(self, data) -> datetime:
    """psycopg's text ``timestamptz`` parser (``TimestamptzLoader._load_iso``: a regex and
    seven ``int()`` a value) done by ``datetime.fromisoformat``, which reads PostgreSQL's ISO
    output in C: the same moment in the connection's time zone. Whatever it does not read
    (``infinity``, a year past 9999) goes to psycopg's."""
    try:
        return datetime.fromisoformat(bytes(data).decode()).astimezone(self._timezone)
    except (ValueError, OverflowError):
        return TimestamptzLoader._load_iso(self, data)


@lru_cache(maxsize=8)
def _iso_loader(base: type) -> type:
    """``base`` (the connection's text ``timestamptz`` loader: Django's, which sets the time
    zone on what psycopg's returns) parsing with ``_iso_timestamps`` when psycopg would have
    used its ISO parser (the connection's DateStyle is ISO)."""

    class IsoTimestamptzLoader(base):
        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            if getattr(self, "_load_method", None) is TimestamptzLoader._load_iso:
                self._load_method = _iso_timestamps

    return IsoTimestamptzLoader


def _timestamps_fast(cursor) -> None:
    """Let ``cursor`` (PostgreSQL's) parse ``timestamptz`` with ``_iso_timestamps``: a page
    row carries ~3 of them, ~80 a page, parsed whether or not anything reads them."""
    adapters = cursor.cursor.adapters
    oid = adapters.types["timestamptz"].oid
    base = adapters.get_loader(oid, Format.TEXT)
    if base is not None and issubclass(base, TimestamptzLoader):
        adapters.register_loader(oid, _iso_loader(base))


def shallow_rows_available() -> bool:
    """Whether ``page_rows(shallow=True)`` gives shallow rows: only PostgreSQL digests."""
    return connection.vendor == "postgresql"


def page_rows(
    post_ids: list[int],
    viewer_id: int | None,
    *,
    home_of: int | None = None,
    shallow: bool = False,
    digest: bool = False,
) -> dict[int, PageRow]:
    """Each existing post of ``post_ids`` described for ``viewer_id`` (None: anonymous), by id.

    The page's posts themselves are taken as given (the caller chose them through the
    visibility rule); their related posts are joined only when visible. ``home_of`` (a
    reader's id): only the posts ``home_posts(viewer_id=home_of)`` holds — the candidates
    from a materialised timeline, decided and described by the same statement.

    ``shallow`` (on PostgreSQL; elsewhere ignored): the same rows, the same rules, but of
    each post and author only the ``SHALLOW_*`` columns and the digest of their versions — what a
    page needs when its statuses come from the render cache (``bench/page_shallow.py``
    compares the two). ``digest`` (PostgreSQL): wide rows with the digest too
    (``PageRow.digest``).
    """
    if not post_ids:
        return {}
    shallow = shallow and shallow_rows_available()
    digest = (shallow or digest) and shallow_rows_available()
    reader = _readers.get((connection.vendor, shallow))
    if reader is None:
        reader = _readers[connection.vendor, shallow] = _Reader(shallow)
    viewer = viewer_id or 0  # ids start at 1: nobody's flags
    size = size_bucket(len(post_ids))
    # Padded with the last id again (a duplicate in IN changes nothing): one prepared
    # statement per bucket, not one per page length (a thread can be 1-500 posts long).
    padded = [*post_ids, *[post_ids[-1]] * (size - len(post_ids))]
    values = {"viewer": viewer, "home_of": home_of}
    values.update((f"id{index}", post_id) for index, post_id in enumerate(padded))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and TimestamptzLoader is not None:
            _timestamps_fast(cursor)
        statement = _statement(connection.vendor, size, home_of is not None, shallow, digest)
        prepared_execute(cursor, statement, values)
        rows = cursor.fetchall()
    # The first column is the page post's id (``Post``'s first concrete field).
    return {row[0]: PageRow(reader, row) for row in rows}
