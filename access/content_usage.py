"""What a response says about AI training of the posts it carries, in the standard forms.

The read gate sees every post a response delivers (``posts_deliver``), so it works out the
page's preference here, once: the strictest of its authors' (``accounts.ai_training``), a
reposted original's author included — one author who disallows makes the page disallowed.
The headers middleware (``access/middleware.py``) and the page template then state it:

- IETF aipref (draft-ietf-aipref-vocab, draft-ietf-aipref-attach): ``Content-Usage: train-ai=n``
  (an RFC 9651 dictionary; ``y`` allows, ``n`` disallows);
- W3C TDMRep (Community Group final report): ``tdm-reservation: 1`` reserves text and data
  mining rights, ``0`` does not; ``tdm-policy`` names where a licence can be had;
- the ``noai, noimageai`` robots directives, as ``X-Robots-Tag`` and, on HTML pages, as
  ``<meta name="robots">`` (with ``<meta name="tdm-reservation">``).

A response that passed the gate with no posts (an empty page, a refusal) states the site
default, so every metered response says something.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from accounts.ai_training import ai_training_allowed, site_default_allowed
from core.urls import reverse_once

NOAI = "noai, noimageai"


@dataclass(frozen=True)
class ContentUsage:
    """The AI-training preference a response states for the posts it carries."""

    train_ai: bool
    authors: int = 0  # how many distinct authors the page carried (0: none, the site default)

    @property
    def aipref(self) -> str:
        """The ``Content-Usage`` value, e.g. ``train-ai=n``."""
        return f"train-ai={'y' if self.train_ai else 'n'}"

    @property
    def tdm_reservation(self) -> str:
        return "0" if self.train_ai else "1"


def post_authors(posts: Iterable) -> list:
    """The authors whose posts a page carries: each post's, and a repost's original's."""
    authors: dict[int, object] = {}
    for post in posts:
        authors.setdefault(post.author_id, post.author)
        original = post.repost_of if post.repost_of_id else None
        if original is not None:
            authors.setdefault(original.author_id, original.author)
    return list(authors.values())


def content_usage_for(posts: Iterable) -> ContentUsage:
    """The strictest preference among the authors of ``posts`` (the site default if none)."""
    authors = post_authors(posts)
    if not authors:
        return ContentUsage(train_ai=site_default_allowed())
    return ContentUsage(
        train_ai=all(ai_training_allowed(author) for author in authors), authors=len(authors)
    )


def content_usage_state(*, request, posts: Iterable = ()) -> ContentUsage:
    """Record on ``request`` what its response says about AI training: the strictest of
    ``posts`` (none yet: the site default). The one place that sets it — the read gate's
    pages and the admin's post pages alike; the headers middleware and the page head
    (``access/_content_usage_meta.html``) state it."""
    usage = content_usage_for(posts)
    # On the Django request itself (DRF's wrapper proxies reads to it).
    getattr(request, "_request", request).content_usage = usage
    return usage


def content_usage_headers(usage: ContentUsage, *, request=None) -> dict[str, str]:
    """The response headers stating ``usage`` (``tdm-policy`` absolute when a request is given)."""
    policy = tdm_policy_path()
    headers = {
        "Content-Usage": usage.aipref,
        "tdm-reservation": usage.tdm_reservation,
        "tdm-policy": request.build_absolute_uri(policy) if request is not None else policy,
    }
    if not usage.train_ai:
        headers["X-Robots-Tag"] = NOAI
    return headers


def tdm_policy_path() -> str:
    """Where the terms of the licensed lane are published (the TDMRep policy)."""
    return reverse_once("content_usage:tdm_policy")
