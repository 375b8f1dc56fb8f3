"""Home timelines materialised on write, as Mastodon's FeedManager keeps them: a Redis sorted
set of post ids per reader (score = member = the post's own id, a repost's included), filled
by a fan-out task after each post commits, capped at ``HOME_FEED_MAX_ENTRIES``.

The set is a *candidate list*, never the rule. ``feeds.selectors.timeline_home`` loads the ids
it holds through ``Post.objects.visible()`` and the home rule (the viewer or someone they
follow), so a stale id (a deleted post, a suspended author, a follow just undone) is dropped
and the page is exactly what the database query would have returned. What the set must
guarantee is the other direction, its **floor**: every visible home entry with an id at or
above the floor is in the set. Pages that stay above the floor are served from Redis; a page
that would reach below it (deeper than the cap) falls back to the database query.

Each set carries its floor in a marker member ``m`` scored ``-1 - floor`` (below every post
id, so ranges over ids never see it). A set without the marker is *cold*: never built, or
evicted. Keeping the marker inside the set means an eviction takes both together, so an empty
materialised timeline (marker only) is never mistaken for a cold one, nor the other way.

Keys are ``<prefix>:{u:<user id>}:home``: the hash tag keeps each reader's keys in one Redis
Cluster slot (docs/architecture.md, "Redis keys"). Every script touches one key, so the
fan-out pipelines to any number of slots.

Without Redis (the embedded default) there is no materialised timeline: the database query
serves every page (locmem cannot hold sorted sets, and the embedded default has one process).
With Redis configured but unreachable, reads fall back to the database and writes are retried
by their tasks; nothing here raises to a reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from redis.crc import key_slot

from core.redis_layout import redis_cluster_layout

logger = logging.getLogger(__name__)

MARKER = "m"  # the member carrying the floor; its score is -1 - floor
REBUILDING = "r"  # present while a rebuild reads the database, so pushes are not lost

# Add ARGV[first..] to the set ``key``, each scored by its own id, 500 per ZADD (so one call
# never unpacks more arguments than Lua's stack takes). The merge and rebuild scripts use it.
_ZADD_IDS_LUA = """
local function zadd_ids(key, first)
  for i = first, #ARGV, 500 do
    local args = {}
    for j = i, math.min(i + 499, #ARGV) do
      args[#args + 1] = ARGV[j]
      args[#args + 1] = ARGV[j]
    end
    redis.call('ZADD', key, unpack(args))
  end
end
"""

# Merge ids into a set, raise its floor and trim it to the cap, only if the set exists
# (materialised, or being rebuilt): a cold reader's set is not started by a push.
# KEYS[1]: the set; ARGV: cap, floor hint (raise the floor to at least this; 0 = none), ids.
# Trimming keeps the newest ``cap`` ids; the floor becomes the lowest id kept, since every
# entry above it is still there.
_MERGE_LUA = (
    _ZADD_IDS_LUA
    + """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return -1 end
local cap = tonumber(ARGV[1])
local hint = tonumber(ARGV[2])
zadd_ids(key, 3)
local marker = redis.call('ZSCORE', key, 'm')
if not marker then return 0 end  -- being rebuilt: the rebuild sets floor and trims
local floor = -1 - tonumber(marker)
if hint > floor then floor = hint end
if floor > 0 then redis.call('ZREMRANGEBYSCORE', key, 0, '(' .. floor) end
local reserved = 1  -- the marker (and the rebuilding placeholder) rank below every id
if redis.call('ZSCORE', key, 'r') then reserved = 2 end
local extra = redis.call('ZCARD', key) - reserved - cap
if extra > 0 then
  redis.call('ZREMRANGEBYRANK', key, reserved, reserved + extra - 1)
  local lowest = redis.call('ZRANGE', key, reserved, reserved, 'WITHSCORES')
  if lowest[2] and tonumber(lowest[2]) > floor then floor = tonumber(lowest[2]) end
end
redis.call('ZADD', key, -1 - floor, 'm')
return 1
"""
)

# The common case, one new post pushed to many readers: for each key (KEYS: any number of
# readers' sets, in one slot on Redis Cluster), add it if the set exists, and trim only once
# the set is HOME_FEED_TRIM_SLACK entries over the cap (the trim is the costly part, so it is
# paid once per that many pushes). ARGV: cap, slack, the id. Returns how many sets took it.
_PUSH_LUA = """
local cap = tonumber(ARGV[1])
local limit = cap + 1 + tonumber(ARGV[2])
local id = ARGV[3]
local pushed = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    pushed = pushed + 1
    redis.call('ZADD', key, id, id)
    local marker = redis.call('ZSCORE', key, 'm')
    if marker and redis.call('ZCARD', key) > limit then
      local floor = -1 - tonumber(marker)
      local reserved = 1
      if redis.call('ZSCORE', key, 'r') then reserved = 2 end
      local extra = redis.call('ZCARD', key) - reserved - cap
      redis.call('ZREMRANGEBYRANK', key, reserved, reserved + extra - 1)
      local lowest = redis.call('ZRANGE', key, reserved, reserved, 'WITHSCORES')
      if lowest[2] and tonumber(lowest[2]) > floor then floor = tonumber(lowest[2]) end
      redis.call('ZADD', key, -1 - floor, 'm')
    end
  end
end
return pushed
"""

# Finish a rebuild: add the database's ids to whatever pushes arrived meanwhile, set the
# floor (0 when the database had fewer than the cap: the set is then the whole timeline),
# trim, drop the rebuilding placeholder. KEYS[1]: the set; ARGV: cap, floor, ids.
_REBUILD_LUA = (
    _ZADD_IDS_LUA
    + """
local key = KEYS[1]
local cap = tonumber(ARGV[1])
local floor = tonumber(ARGV[2])
redis.call('ZREM', key, 'r', 'm')
zadd_ids(key, 3)
if floor > 0 then redis.call('ZREMRANGEBYSCORE', key, 0, '(' .. floor) end
local extra = redis.call('ZCARD', key) - cap
if extra > 0 then
  redis.call('ZREMRANGEBYRANK', key, 0, extra - 1)
  local lowest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if lowest[2] and tonumber(lowest[2]) > floor then floor = tonumber(lowest[2]) end
end
redis.call('ZADD', key, -1 - floor, 'm')
return 1
"""
)


@dataclass(frozen=True)
class FeedSlice:
    """What one read of a reader's set returned: the floor (None: the set is cold) and up to
    ``count`` ids inside the asked range, in the asked order."""

    floor: int | None
    ids: list[int]


# Slices already read for this request (``home_feed_slices_given``), by the arguments of the
# ``HomeFeed.read`` they answer; each answers one read.
_given_slices: ContextVar[dict | None] = ContextVar("home_feed_given_slices", default=None)


class HomeFeed:
    """The materialised home timelines on one Redis (or Redis Cluster) client."""

    def __init__(self, *, client, key_prefix: str, max_entries: int):
        self.client = client
        self.key_prefix = key_prefix
        self.max_entries = max_entries
        self._merge = client.register_script(_MERGE_LUA)
        self._push = client.register_script(_PUSH_LUA)
        self._rebuild = client.register_script(_REBUILD_LUA)

    def key(self, user_id: int) -> str:
        return f"{self.key_prefix}:{{u:{user_id}}}:home"

    def read(
        self, user_id: int, *, above: int, below: int | None, ascending: bool, count: int
    ) -> FeedSlice:
        """Up to ``count`` ids strictly between ``above`` and ``below`` (None: no upper bound),
        newest first unless ``ascending``; and the set's floor. One round trip, or none when
        this request already read the slice (``home_feed_slices_given``)."""
        given = _given_slices.get()
        if given:
            piece = given.pop((user_id, above, below, ascending, count), None)
            if piece is not None:
                return piece
        pipe = self.client.pipeline(transaction=False)
        self.read_queue(pipe, user_id, above=above, below=below, ascending=ascending, count=count)
        return self.read_answer(pipe.execute())

    def read_queue(
        self, pipe, user_id: int, *, above: int, below: int | None, ascending: bool, count: int
    ) -> None:
        """Queue ``read``'s two commands on ``pipe`` (any pipeline on this client)."""
        key = self.key(user_id)
        high = f"({below}" if below is not None else "+inf"
        low = f"({max(above, 0)}"
        pipe.zscore(key, MARKER)
        if ascending:
            pipe.zrangebyscore(key, low, high, start=0, num=count)
        else:
            pipe.zrevrangebyscore(key, high, low, start=0, num=count)

    @staticmethod
    def read_answer(results: list) -> FeedSlice:
        """The slice from the answers to ``read_queue``'s commands."""
        marker, members = results
        if marker is None:
            return FeedSlice(floor=None, ids=[])
        return FeedSlice(floor=int(-1 - marker), ids=[int(member) for member in members])

    def push(self, user_ids: Iterable[int], post_ids: list[int], *, floor_hint: int = 0) -> None:
        """Add ``post_ids`` to each materialised reader's set (cold ones are skipped), trimming
        to the cap, pipelined: one round trip per ``HOME_FEED_PIPELINE`` readers."""
        if not post_ids:
            return
        if len(post_ids) == 1 and not floor_hint:  # a fan-out: many readers per script
            args = [self.max_entries, settings.HOME_FEED_TRIM_SLACK, post_ids[0]]
            pipe = self.client.pipeline(transaction=False)
            for keys in self._key_groups(user_ids):
                self._push(keys=keys, args=args, client=pipe)
            pipe.execute()
            return
        args = [self.max_entries, floor_hint, *post_ids]
        self._pipelined(user_ids, lambda pipe, key: self._merge(keys=[key], args=args, client=pipe))

    def _key_groups(self, user_ids: Iterable[int]) -> list[list[str]]:
        """Readers' keys in groups one script may touch: ``HOME_FEED_PIPELINE`` keys at a time
        on one Redis; on Redis Cluster (the cluster layout) only keys of one slot together."""
        keys = [self.key(user_id) for user_id in user_ids]
        size = settings.HOME_FEED_PIPELINE
        if not redis_cluster_layout():
            return [keys[start : start + size] for start in range(0, len(keys), size)]
        by_slot: dict[int, list[str]] = {}
        for key in keys:
            by_slot.setdefault(key_slot(key.encode()), []).append(key)
        return list(by_slot.values())

    def remove(self, user_ids: Iterable[int], post_ids: list[int]) -> None:
        """Take ``post_ids`` out of each reader's set (a delete, an unfollow, a suspension)."""
        if not post_ids:
            return
        self._pipelined(user_ids, lambda pipe, key: pipe.zrem(key, *post_ids))

    def members(self, user_id: int) -> list[int]:
        """Every post id in the reader's set (at most the cap)."""
        key = self.key(user_id)
        return [int(m) for m in self.client.zrangebyscore(key, "(0", "+inf")]

    def rebuild_begin(self, user_id: int) -> None:
        """Mark a rebuild in progress *before* reading the database: a post that commits
        after that read is pushed into the set meanwhile instead of being skipped as cold."""
        key = self.key(user_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(key, {REBUILDING: -2}, nx=True)
        pipe.expire(key, settings.HOME_FEED_REBUILD_SECONDS, nx=True)
        pipe.execute()

    def rebuild_finish(self, user_id: int, post_ids: list[int], *, complete: bool) -> None:
        """Install the database's newest ``post_ids`` for the reader; ``complete``: they are
        the whole timeline (floor 0), else the floor is the lowest of them."""
        floor = 0 if complete or not post_ids else min(post_ids)
        key = self.key(user_id)
        pipe = self.client.pipeline(transaction=True)
        self._rebuild(keys=[key], args=[self.max_entries, floor, *post_ids], client=pipe)
        # A timeline lives HOME_FEED_TTL_SECONDS from its build: an active reader's is rebuilt
        # then (one database page), an idle reader's memory comes back by itself.
        pipe.expire(key, settings.HOME_FEED_TTL_SECONDS)
        pipe.execute()

    def forget(self, user_ids: Iterable[int]) -> None:
        """Drop readers' sets: they are rebuilt from the database on their next read."""
        self._pipelined(user_ids, lambda pipe, key: pipe.delete(key))

    def _pipelined(self, user_ids: Iterable[int], command) -> None:
        batch = settings.HOME_FEED_PIPELINE
        pipe = self.client.pipeline(transaction=False)
        queued = 0
        for user_id in user_ids:
            command(pipe, self.key(user_id))
            queued += 1
            if queued == batch:
                pipe.execute()
                pipe = self.client.pipeline(transaction=False)
                queued = 0
        if queued:
            pipe.execute()


class HomeFeedFirstRead:
    """The first ``HomeFeed.read`` of a home page, made ahead in another pipeline of the same
    Redis client (the token check's: ``accounts.auth_cache.AlongsideReads``), so that a warm
    home request spends one round trip on both. ``home_feed_slices_given`` then hands the
    slice to the read it answers; a read with other arguments goes to Redis as before."""

    def __init__(self, feed: HomeFeed, *, above: int, below: int | None, ascending: bool,
                 count: int):  # fmt: skip
        self.feed = feed
        self.arguments = {"above": above, "below": below, "ascending": ascending, "count": count}
        self.user_id: int | None = None
        self.slice: FeedSlice | None = None

    def queue(self, pipe, *, user_id: int) -> bool:
        if pipe.connection_pool is not self.feed.client.connection_pool:
            return False  # another Redis than the timelines': the selector reads for itself
        self.user_id = user_id
        self.feed.read_queue(pipe, user_id, **self.arguments)
        return True

    def receive(self, results: list) -> None:
        self.slice = self.feed.read_answer(results)


@contextmanager
def home_feed_slices_given(reads: Iterable[HomeFeedFirstRead], *, user_id: int) -> Iterator[None]:
    """Within the block, ``HomeFeed.read`` answers from ``reads`` already made for ``user_id``
    (each once); reads made for anyone else are ignored. Nothing outlives the block."""
    given = {}
    for read in reads:
        if read.slice is not None and read.user_id == user_id:
            a = read.arguments
            given[(user_id, a["above"], a["below"], a["ascending"], a["count"])] = read.slice
    token = _given_slices.set(given)
    try:
        yield
    finally:
        _given_slices.reset(token)


def home_feed_enabled() -> bool:
    """Whether home timelines are materialised: ``HOME_FEED`` "auto" (when ``REDIS_URL`` is
    set) or "on"; "off" serves every page from the database."""
    choice = settings.HOME_FEED
    return choice == "on" or (choice == "auto" and bool(settings.REDIS_URL))


@cache
def _configured_feed() -> HomeFeed:
    from django_redis import get_redis_connection

    from access.ledgers import redis_key_prefix

    return HomeFeed(
        client=get_redis_connection("default"),
        key_prefix=redis_key_prefix(),
        max_entries=settings.HOME_FEED_MAX_ENTRIES,
    )


def home_feed_get() -> HomeFeed | None:
    """The configured materialised timelines, or None when they are off."""
    return _configured_feed() if home_feed_enabled() else None
