"""Whether this deployment's Redis keys are laid out for Redis Cluster (docs/architecture.md,
"Redis keys"): the one place the layers decide it."""

from django.conf import settings


def redis_cluster_layout() -> bool:
    """Redis Cluster's layout (``ACCESS_LOG_SHARDS`` > 1): every multi-key script keeps to
    one hash slot, and what cannot (a request's request-rate counters, whose keys are
    django-ratelimit's) is sent key by key."""
    return int(settings.ACCESS_LOG_SHARDS) > 1
