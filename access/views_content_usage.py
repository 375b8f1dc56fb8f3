"""The site-wide AI-training signals: robots.txt, TDMRep's tdmrep.json and its policy.

Per-response signals (``Content-Usage``, ``tdm-reservation``, ``noai``) carry each page's
own authors' preference (``access/content_usage.py``); these files say what holds for the
whole site, so they take the conservative side: a crawler that reads only them never trains
on a post whose author said no.
"""

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts.ai_training import any_author_disallows, site_default_allowed

from .crawlers import robots_txt_tokens

MAX_AGE = 300  # seconds: an admin's edit to the crawler list reaches crawlers within minutes


def _yes_no(allowed: bool) -> str:
    return "yes" if allowed else "no"


@require_GET
@cache_control(public=True, max_age=MAX_AGE)
def robots_txt(request):
    """robots.txt: the AI crawlers are kept out; everyone else is told the content signals."""
    default = site_default_allowed()
    licensing = request.build_absolute_uri(reverse("content_usage:tdm_policy"))
    lines = [
        "# Whether a post may be used to train AI models is its author's choice; the",
        f"# site default is: {'allowed' if default else 'not allowed'}. Every page and API",
        "# response states the strictest choice of the authors it carries (Content-Usage,",
        "# tdm-reservation, noai). Bulk data from authors who allow training is licensed,",
        f"# with signed receipts: {licensing}",
        "#",
        "# Content-Signal (contentsignals.org): search = build a search index and link to",
        "# results; ai-input = use as input to an AI answer; ai-train = train or fine-tune",
        "# AI models. Content-Usage: the IETF aipref vocabulary (train-ai=y|n).",
        "",
    ]
    tokens = robots_txt_tokens()
    if tokens:
        lines += [f"User-agent: {token}" for token in tokens]
        lines += ["Disallow: /", ""]
    lines += [
        "User-agent: *",
        f"Content-Signal: search=yes, ai-input={_yes_no(default)}, ai-train={_yes_no(default)}",
        f"Content-Usage: train-ai={'y' if default else 'n'}",
        "Disallow: /admin/",
        "Disallow: /accounts/",
        "Allow: /",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


@require_GET
@cache_control(public=True, max_age=MAX_AGE)
def tdmrep_json(request):
    """/.well-known/tdmrep.json (W3C TDMRep): mining rights are reserved site-wide while any
    author disallows training; the policy says how to license the posts of those who allow it."""
    reserved = any_author_disallows()
    rule = {"location": "/*", "tdm-reservation": 1 if reserved else 0}
    if reserved:
        rule["tdm-policy"] = request.build_absolute_uri(reverse("content_usage:tdm_policy"))
    return JsonResponse([rule], safe=False)


@require_GET
@cache_control(public=True, max_age=MAX_AGE)
def tdm_policy(request):
    """The TDMRep policy (an ODRL 2.2 offer): mining is permitted under a data-plan licence,
    for posts whose authors allow AI training, against payment."""
    site = request.build_absolute_uri("/")
    policy = {
        "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
        "@type": "Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "uid": request.build_absolute_uri(request.path),
        "assigner": {"uid": site},
        "permission": [
            {
                "target": site,
                "action": "tdm:mine",
                "duty": [{"action": "compensate"}],
            }
        ],
        "description": (
            "Posts whose authors allow AI training may be licensed in bulk through a data plan "
            "(GET /api/v1/licensed/statuses); every delivery carries a signed receipt. "
            "Posts whose authors disallow it are never licensed."
        ),
    }
    return JsonResponse(policy)
