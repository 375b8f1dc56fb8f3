"""What the cache raises when Redis is unreachable, named once for every caller that must not
turn a Redis outage into a 500 (django-redis wraps redis-py's errors; sockets raise OSError)."""

from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)
