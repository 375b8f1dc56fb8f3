"""The known crawlers and scraping tools (``CrawlerAgent`` rows), for robots.txt and the
scraper-user-agent detector: one list, read here, so both always agree."""

from django.core.cache import cache

from .models import CrawlerAgent

CACHE_KEY = "access:crawler-agents:v1"
CACHE_SECONDS = 60


def crawler_agents() -> list[dict]:
    """The active rows as dicts (token, operator, purpose, in_robots_txt), cached briefly:
    the detector asks once per window it judges. Saving a row clears the cache."""
    agents = cache.get(CACHE_KEY)
    if agents is None:
        agents = list(
            CrawlerAgent.objects.filter(active=True).values(
                "token", "operator", "purpose", "in_robots_txt"
            )
        )
        cache.set(CACHE_KEY, agents, CACHE_SECONDS)
    return agents


def crawler_agents_changed() -> None:
    """Forget the cached list (called when an admin edits a row)."""
    cache.delete(CACHE_KEY)


def user_agent_match(user_agent: str, *, agents: list[dict] | None = None) -> str | None:
    """The token (lower case) of the first known crawler named in ``user_agent``, if any.
    ``agents`` is ``crawler_agents()`` already read, for a caller matching many rows."""
    lowered = (user_agent or "").lower()
    for agent in crawler_agents() if agents is None else agents:
        needle = agent["token"].lower()
        if needle and needle in lowered:
            return needle
    return None


def robots_txt_tokens() -> list[str]:
    """The tokens robots.txt names, AI-training crawlers first."""
    return [agent["token"] for agent in crawler_agents() if agent["in_robots_txt"]]
