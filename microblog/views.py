"""Project-level views: the health check."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    """Liveness probe for load balancers: answers without touching the database.

    The benchmarks also use it as the "trivial view" the controlled endpoints are compared to.
    """
    return JsonResponse({"status": "ok"})
